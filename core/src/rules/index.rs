//! The rule index: which rules (stateless rules, stateful conditions and
//! first steps) an event can possibly match.
//!
//! Each rule is filed under the key its condition requires that is expected
//! to be visited least often (`Filing::share`):
//!
//! * a (verb, resource) pair, or a single field among `objectRef.name`,
//!   `user.username`, `objectRef.namespace`, `objectRef.subresource`,
//!   `objectRef.apiGroup`, `responseStatus.code`, `actor.kind`,
//!   `actor.serviceaccount.{namespace,name}`, `outcome`, `authz.decision`,
//!   `objectRef.resource`, `verb`, `exec` — from a top-level `FIELD = x` /
//!   `FIELD in (…)` conjunct;
//! * the presence of a rarely present field (impersonation, user extras,
//!   annotations other than the authorizer's);
//! * or the needles of a top-level `contains` / `icontains` / `startswith` /
//!   `endswith` conjunct: one Aho-Corasick automaton per field holds every
//!   such needle of every rule, so a rule is visited only when one of its
//!   needles occurs;
//! * or, for a disjunction (the condition, or one of its conjuncts), one
//!   such key per branch: the rule is visited when any of them matches.
//!
//! Rules with no such key are visited on every event. An event visits the
//! rules filed under its own values (one lookup per field, one automaton
//! pass per needle field) — the cost grows with the rules that could match,
//! not with the size of the pack. Where an indexed field is unavailable for
//! the event (blind), every rule filed under it is visited, so it can report
//! blind. Annotation keys are first looked for in the annotations' text —
//! an annotation's values from the text's first member (`Leading`: the
//! authorizer's decision comes first), then all of a group at once by
//! their slash-free pieces (`Index::annotation_pieces`), else one by one
//! (`View::annotation_may_be`) — so most events never build the map. The
//! scalar fields the keys use are read once per event, straight from the
//! event (`Facts`); a value whose length, first or last byte no key has is
//! not looked up, and more than four keys are found in an open-addressed
//! table hashed on a few of the value's bytes. Each list of rules is
//! ascending without repeats, so that the candidates are sorted only where
//! more than one list (or a needle) added some. An entry whose rules all
//! require `objectRef.resource` among some values is not probed at all on
//! an event with another resource (`Gates`): a little more work per entry,
//! far fewer data-dependent branches per event (BENCHMARKS.md, session 8).
//! The event's resource is looked up once, for both its pairs' column and
//! its gates' bit (`Resources`).

mod annotations;

use std::collections::HashMap;
use std::hash::BuildHasherDefault;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};

use self::annotations::Leading;
use super::derive;
use super::eval::{int_str, short_eq, Expr, FastHash, Got, Literal, Matcher, Val, View};
use super::fields::{Derived, FieldRef};
use crate::event::{Field, FieldSet};

type Map<V> = HashMap<String, V, BuildHasherDefault<FastHash>>;

/// Single fields that may carry an index, with a rough selectivity weight
/// (how many distinct values the field takes in real traffic; see
/// [`value_share`] for fields whose values are far from equally common).
fn single_fields() -> Vec<(FieldRef, f64)> {
    vec![
        (FieldRef::ObjName, 1000.0),
        (FieldRef::UserName, 500.0),
        (FieldRef::Derived(Derived::ActorSaName), 300.0),
        (FieldRef::ObjNamespace, 200.0),
        // Most requests have no subresource at all: any one value is rarer
        // than a (verb, resource) pair (`portforward` files
        // `pod-port-forward` here, not under every `get` of a pod).
        (FieldRef::ObjSubresource, 1000.0),
        (FieldRef::Derived(Derived::ActorSaNamespace), 50.0),
        (FieldRef::ObjApiGroup, 50.0),
        (FieldRef::Code, 20.0),
        (FieldRef::Derived(Derived::ActorKind), 6.0),
        (FieldRef::Outcome, 3.0),
        (FieldRef::Annotation(DECISION.to_string()), 2.0),
        (FieldRef::ObjResource, 30.0),
        (FieldRef::Verb, 7.0),
        (FieldRef::Derived(Derived::Exec), 2.0),
    ]
}

const DECISION: &str = "authorization.k8s.io/decision";

/// The expected share of events on which `field` (of weight `w`) takes the
/// value `v`: `1 / w`, except for fields with a few values of very unequal
/// frequency (most requests succeed, are allowed, and come from nodes and
/// service accounts).
fn value_share(field: &FieldRef, v: &str, w: f64) -> f64 {
    match field {
        FieldRef::Outcome => match v {
            "success" => 0.9,
            _ => 0.05,
        },
        FieldRef::Derived(Derived::ActorKind) => match v {
            "node" | "serviceaccount" => 0.4,
            "control-plane" | "human" => 0.1,
            _ => 0.03,
        },
        // Most traffic is the system's own: kube-system's service accounts
        // and objects, and the nodes' leases.
        FieldRef::Derived(Derived::ActorSaNamespace) if v == "kube-system" => 0.3,
        FieldRef::ObjNamespace if matches!(v, "kube-system" | "kube-node-lease") => 0.3,
        FieldRef::Annotation(k) if k == DECISION => match v {
            "allow" => 0.95,
            _ => 0.05,
        },
        // Exec and attach sessions are a sliver of the traffic (0.9 % of
        // the vanilla corpus, 12 % of its `pods` requests).
        FieldRef::Derived(Derived::Exec) => match v {
            "true" => 0.01,
            _ => 0.99,
        },
        _ => 1.0 / w,
    }
}

/// How rarely a field is present at all, for the presence index.
fn presence_weight(f: &FieldRef) -> f64 {
    match f {
        FieldRef::ImpUserName | FieldRef::ImpUserGroups => 300.0,
        FieldRef::Annotation(k) if !k.starts_with("authorization.k8s.io/") => 300.0,
        FieldRef::UserExtra(_) => 50.0,
        _ => 0.0,
    }
}

/// Fields that must be present for `e` to be true (comparisons, `!=`
/// included, are false on absent fields).
fn required_present(e: &Expr) -> Vec<FieldRef> {
    match e {
        Expr::And(xs) => {
            let mut v: Vec<FieldRef> = xs.iter().flat_map(required_present).collect();
            v.dedup();
            v
        }
        Expr::Or(xs) => {
            let mut it = xs.iter().map(required_present);
            let Some(first) = it.next() else { return Vec::new() };
            it.fold(first, |acc, b| acc.into_iter().filter(|f| b.contains(f)).collect())
        }
        Expr::Test { field, .. } | Expr::Exists(field) => vec![field.clone()],
        Expr::Not(_) => Vec::new(),
        // The index reads conditions, not plans; transparent all the same.
        Expr::Memo(_, x) => required_present(x),
    }
}
const PAIR_WEIGHT: f64 = 7.0 * 30.0;
const NEEDLE_WEIGHT: f64 = 2000.0;
/// How much more a needle key on a body, or on a long text every event
/// has, costs than one on a short or rare field.
const BODY_NEEDLE_COST: f64 = 100.0;
const LONG_NEEDLE_COST: f64 = 10.0;

/// One key a rule is filed under.
#[derive(Debug)]
enum Key {
    /// `single[k]` takes one of these values.
    Single(usize, Vec<String>),
    /// (verb, resource) is one of these pairs.
    Pair(Vec<String>, Vec<String>),
    /// The field is present.
    Presence(FieldRef),
    /// One of these needles occurs in the field.
    Needle(NeedleSpec),
}

/// Where a condition can be filed: it can be true (or blind) on an event
/// only if one of `keys` matches it (or the key's field is blind there).
/// `share` is the expected share of events that visit it.
#[derive(Debug)]
struct Filing {
    share: f64,
    keys: Vec<Key>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Anchor {
    Anywhere,
    Start,
    End,
}

#[derive(Debug)]
struct Needles {
    reader: Reader,
    insensitive: bool,
    /// Per pattern: where it must occur and which rules it selects.
    patterns: Vec<(String, Anchor, u32)>,
    ac: Option<AhoCorasick>,
    /// The event resources that can reach these rules ([`Gates`]).
    gate: u128,
    /// Every pattern is anchored (at the start or the end) and they are
    /// few: comparing each is cheaper than an automaton pass.
    anchored: bool,
    /// For anchored, case-sensitive patterns: the first bytes of those
    /// anchored at the start, the last bytes of those at the end — a text
    /// with neither matches none.
    edges: Option<([u64; 4], [u64; 4])>,
    all: Vec<u32>,
}

/// At most this many anchored patterns are compared one by one.
const FEW_ANCHORED: usize = 8;

/// The lengths and first bytes of a map's keys: a text whose length or
/// first byte no key has is not a key, known without hashing it.
#[derive(Debug, Default)]
struct KeyShape {
    /// Bit `n`: a key of `n` bytes (bit 63: of 63 bytes or more).
    lens: u64,
    /// Bit `b`: a key that starts with byte `b`.
    first: [u64; 4],
    /// Bit `b`: a key that ends with byte `b`.
    last: [u64; 4],
}

impl KeyShape {
    fn of<'a>(keys: impl Iterator<Item = &'a String>) -> KeyShape {
        let mut k = KeyShape::default();
        for key in keys {
            k.lens |= 1 << key.len().min(63);
            if let (Some(&b), Some(&e)) = (key.as_bytes().first(), key.as_bytes().last()) {
                set_byte(&mut k.first, b);
                set_byte(&mut k.last, e);
            }
        }
        k
    }

    /// `false` only if `t` is none of the keys. The three tests are
    /// combined without branching: which of them fails changes from one
    /// event to the next, a branch apiece would be mispredicted often.
    #[inline(always)]
    fn may_hold(&self, t: &str) -> bool {
        let b = t.as_bytes();
        let len = (self.lens >> b.len().min(63)) & 1;
        // An empty text: the length bit alone (no key has edges to test).
        let (first, last) = match (b.first(), b.last()) {
            (Some(&f), Some(&e)) => (bit_of(&self.first, f), bit_of(&self.last, e)),
            _ => (1, 1),
        };
        len & first & last != 0
    }
}

/// Set bit `b` of a 256-bit set.
fn set_byte(set: &mut [u64; 4], b: u8) {
    if let Some(w) = set.get_mut(usize::from(b >> 6)) {
        *w |= 1 << (b & 63);
    }
}

/// Bit `b` of a 256-bit set, as 0 or 1.
#[inline(always)]
fn bit_of(set: &[u64; 4], b: u8) -> u64 {
    set.get(usize::from(b >> 6)).map_or(0, |w| (w >> (b & 63)) & 1)
}

/// A field read for the index: blind, absent (or not one text), or its text.
enum Read<'c> {
    Blind,
    Nothing,
    Text(std::borrow::Cow<'c, str>),
}

/// Read `f` as the index needs it: what [`View::get`] gives, with scalar
/// fields read straight from the event ([`View::scalar_text`]). Objects
/// and arrays read as their JSON text (for needles), other values as their
/// text; several values are `Read::Nothing`, as is an absent field.
fn read<'c>(view: &'c View<'_, '_>, f: &FieldRef, buf: &'c mut [u8; 24]) -> Read<'c> {
    match view.scalar_text(f, buf) {
        Some(Some(t)) => Read::Text(std::borrow::Cow::Borrowed(t)),
        Some(None) => {
            if f.needs().iter().any(|m| view.unavailable().contains(m)) {
                Read::Blind
            } else {
                Read::Nothing
            }
        }
        None => match view.get(f) {
            Got::Blind(_) => Read::Blind,
            Got::One(Val::Str(s)) => Read::Text(s),
            Got::One(v @ (Val::Json(_) | Val::Raw(_))) => view.container_text(&v).map_or(Read::Nothing, Read::Text),
            Got::One(v) => Read::Text(std::borrow::Cow::Owned(v.with_text(str::to_owned))),
            _ => Read::Nothing,
        },
    }
}

/// A field the index reads straight from the event, once per event, with
/// no dispatch on a [`FieldRef`] ([`Facts`]): what [`read`] gives for it.
/// `Code` beyond the stack-spelled range and `ExecCommand` of an exec are
/// left to [`read`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Slot {
    Verb,
    UserName,
    ImpUserName,
    Resource,
    Subresource,
    Namespace,
    Name,
    ApiGroup,
    Outcome,
    ActorKind,
    SaNamespace,
    SaName,
    Code,
    Exec,
    ExecCommand,
}

const SLOTS: usize = 15;

impl Slot {
    fn of(f: &FieldRef) -> Option<Slot> {
        use FieldRef as F;
        Some(match f {
            F::Verb => Slot::Verb,
            F::UserName => Slot::UserName,
            F::ImpUserName => Slot::ImpUserName,
            F::ObjResource => Slot::Resource,
            F::ObjSubresource => Slot::Subresource,
            F::ObjNamespace => Slot::Namespace,
            F::ObjName => Slot::Name,
            F::ObjApiGroup => Slot::ApiGroup,
            F::Outcome => Slot::Outcome,
            F::Code => Slot::Code,
            F::Derived(Derived::ActorKind) => Slot::ActorKind,
            F::Derived(Derived::ActorSaNamespace) => Slot::SaNamespace,
            F::Derived(Derived::ActorSaName) => Slot::SaName,
            F::Derived(Derived::Exec) => Slot::Exec,
            F::Derived(Derived::ExecCommand) => Slot::ExecCommand,
            _ => return None,
        })
    }

    fn bit(self) -> u32 {
        1 << self as u32
    }
}

/// The slots' texts for one event, read once (only the slots the index
/// uses): `None` where absent, or where left to [`read`] (`slow`).
struct Facts<'c> {
    text: [Option<&'c str>; SLOTS],
    /// Bit per slot: read it with [`read`].
    slow: u32,
}

impl<'c> Facts<'c> {
    fn new(view: &'c View<'_, '_>, used: u32, code_buf: &'c mut [u8; 24]) -> Facts<'c> {
        let e = view.ev;
        let oref = e.object_ref.as_ref();
        let mut f = Facts { text: [None; SLOTS], slow: 0 };
        let on = |s: Slot| used & s.bit() != 0;
        let mut set = |s: Slot, t: Option<&'c str>| {
            if let Some(x) = f.text.get_mut(s as usize) {
                *x = t;
            }
        };
        if on(Slot::Verb) {
            set(Slot::Verb, e.verb.as_deref());
        }
        if on(Slot::UserName) {
            set(Slot::UserName, e.username());
        }
        if on(Slot::ImpUserName) {
            set(Slot::ImpUserName, e.impersonated_user.as_ref().and_then(|u| u.username.as_deref()));
        }
        if on(Slot::Resource) {
            set(Slot::Resource, oref.and_then(|o| o.resource.as_deref()));
        }
        if on(Slot::Subresource) {
            set(Slot::Subresource, oref.and_then(|o| o.subresource.as_deref()));
        }
        if on(Slot::Namespace) {
            set(Slot::Namespace, oref.and_then(|o| o.namespace.as_deref()));
        }
        if on(Slot::Name) {
            set(Slot::Name, oref.and_then(|o| o.name.as_deref()));
        }
        if on(Slot::ApiGroup) {
            set(Slot::ApiGroup, oref.and_then(|o| o.api_group.as_deref()));
        }
        if on(Slot::Outcome) {
            set(Slot::Outcome, Some(e.outcome.id()));
        }
        if on(Slot::ActorKind) {
            set(Slot::ActorKind, view.actor_kind());
        }
        if on(Slot::SaNamespace) || on(Slot::SaName) {
            let sa = e.username().and_then(derive::service_account);
            set(Slot::SaNamespace, sa.map(|(ns, _)| ns));
            set(Slot::SaName, sa.map(|(_, n)| n));
        }
        let exec = (on(Slot::Exec) || on(Slot::ExecCommand)) && view.is_exec();
        if on(Slot::Exec) {
            // Always present (`Val::Bool`).
            set(Slot::Exec, Some(if exec { "true" } else { "false" }));
        }
        if on(Slot::Code) {
            // `Val::Num(c as f64)`, which `with_text` spells as the integer
            // below 1e15 (exact there); any other code is left to `read`.
            match e.code() {
                Some(c) if c.unsigned_abs() < 1_000_000_000_000_000 => set(Slot::Code, Some(code_str(c, code_buf))),
                Some(_) => f.slow |= Slot::Code.bit(),
                None => {}
            }
        }
        // Absent but for exec/attach (then `View::get` decides).
        if exec && on(Slot::ExecCommand) {
            f.slow |= Slot::ExecCommand.bit();
        }
        f
    }
}

/// The decimal texts of 100–999, one after another.
static THREE_DIGITS: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| (100..1000).map(|n: u32| n.to_string()).collect());

/// [`int_str`], with the three-digit codes (nearly all) taken from
/// [`THREE_DIGITS`].
fn code_str(c: i64, buf: &mut [u8; 24]) -> &str {
    if let Ok(n @ 100..=999) = usize::try_from(c) {
        let at = (n - 100) * 3;
        if let Some(t) = THREE_DIGITS.get(at..at + 3) {
            return t;
        }
    }
    int_str(c, buf)
}

/// How the index reads one field: from the event's [`Facts`] when it has a
/// slot, else with [`read`]; blind where it is absent and one of `needs` is
/// unavailable (as [`View::get`]).
#[derive(Debug)]
struct Reader {
    field: FieldRef,
    slot: Option<Slot>,
    needs: Vec<Field>,
}

impl Reader {
    fn new(field: FieldRef) -> Reader {
        Reader { slot: Slot::of(&field), needs: field.needs().iter().collect(), field }
    }

    /// The field as the event's [`Facts`] give it, with no copy: its
    /// text, absent, blind, or `Probe::Slow` where the facts do not hold
    /// it (read it with [`read`]).
    #[inline(always)]
    fn probe<'c>(&self, ev: &Event<'c, '_, '_>) -> Probe<'c> {
        match self.slot {
            Some(s) if ev.facts.slow & s.bit() == 0 => match ev.facts.text.get(s as usize).copied().flatten() {
                Some(t) => Probe::Text(t),
                None if self.blind_where_absent(ev) => Probe::Blind,
                None => Probe::Nothing,
            },
            _ => Probe::Slow,
        }
    }

    /// Whether an absent value is blind: one of `needs` is unavailable.
    #[inline(always)]
    fn blind_where_absent(&self, ev: &Event<'_, '_, '_>) -> bool {
        !ev.unavailable.is_empty() && self.needs.iter().any(|m| ev.unavailable.contains(*m))
    }

    /// [`Reader::probe`], with what the facts do not hold read with
    /// [`read`] (into `buf`).
    fn read<'c>(&self, ev: &Event<'c, '_, '_>, buf: &'c mut [u8; 24]) -> Read<'c> {
        match self.probe(ev) {
            Probe::Text(t) => Read::Text(std::borrow::Cow::Borrowed(t)),
            Probe::Nothing => Read::Nothing,
            Probe::Blind => Read::Blind,
            Probe::Slow => read(ev.view, &self.field, buf),
        }
    }

    /// Whether the field is present (or blind, which counts as present, as
    /// in [`View::get`]).
    fn present(&self, ev: &Event<'_, '_, '_>) -> bool {
        let absent = match &self.field {
            // A list: present when it has an item.
            FieldRef::ImpUserGroups => {
                ev.view.ev.impersonated_user.as_ref().and_then(|u| u.groups.as_ref()).is_none_or(|g| g.is_empty())
            }
            f => match self.probe(ev) {
                Probe::Text(_) | Probe::Blind => return true,
                Probe::Nothing => return false,
                Probe::Slow if self.slot.is_some() => {
                    let mut buf = [0u8; 24];
                    matches!(self.read(ev, &mut buf), Read::Nothing)
                }
                Probe::Slow => return !matches!(ev.view.get(f), Got::Absent),
            },
        };
        !absent || self.blind_where_absent(ev)
    }
}

/// A field as [`Reader::probe`] finds it in the event's [`Facts`].
#[derive(Clone, Copy)]
enum Probe<'c> {
    Text(&'c str),
    Nothing,
    Blind,
    /// Not in the facts: read it with [`read`].
    Slow,
}

/// One event as the index reads it.
struct Event<'c, 'r, 'e> {
    view: &'c View<'r, 'e>,
    unavailable: FieldSet,
    facts: Facts<'c>,
}

/// A piece of `s` without a `/`: the last non-empty one (an annotation
/// key's name, after the prefix it shares with other keys), `""` when all
/// of `s` is slashes. In JSON text without a `\u` escape, a string whose
/// unescaped text is `s` — when `s` holds nothing JSON must escape — is `s`
/// with some `/` perhaps written `\/`: each such piece occurs in it
/// verbatim.
fn slash_free(s: &str) -> &str {
    s.rsplit('/').find(|p| !p.is_empty()).unwrap_or_default()
}

/// Finders for `pieces`, but a piece holding another (it occurs only
/// where that one does).
fn finders(mut pieces: Vec<String>) -> Vec<memchr::memmem::Finder<'static>> {
    pieces.sort_by_key(String::len);
    let mut kept: Vec<String> = Vec::new();
    for p in pieces {
        if !kept.iter().any(|k| p.contains(k.as_str())) {
            kept.push(p);
        }
    }
    kept.iter().map(|p| memchr::memmem::Finder::new(p.as_bytes()).into_owned()).collect()
}

/// Finds the `\u` escape (or a `\` followed by `u`).
static ESCAPED_U: std::sync::LazyLock<memchr::memmem::Finder<'static>> =
    std::sync::LazyLock::new(|| memchr::memmem::Finder::new(b"\\u"));

/// A map's keys: a few compared one by one, more in an open-addressed
/// table hashed on a few bytes of the text (cheaper than hashing it all).
#[derive(Debug)]
enum Keys {
    Few(Vec<(String, Vec<u32>)>),
    Many {
        keys: Vec<(String, Vec<u32>)>,
        /// Per slot: an index into `keys` plus one, 0 where empty; at
        /// least a quarter empty, so a probe ends.
        slots: Vec<u32>,
    },
}

/// The slot [`Keys::Many`] starts probing at for `t`, from its length and
/// its first, middle and last bytes (`mask`: the table's size less one).
#[inline(always)]
fn key_slot(t: &[u8], mask: usize) -> usize {
    let byte = |i: usize| u32::from(t.get(i).copied().unwrap_or_default());
    let n = t.len();
    let h = (n as u32).wrapping_mul(0x9e37_79b1)
        ^ byte(0).wrapping_mul(0x85eb_ca6b)
        ^ byte(n / 2).wrapping_mul(0xc2b2_ae35)
        ^ byte(n.wrapping_sub(1)).wrapping_mul(0x27d4_eb2f);
    (h ^ (h >> 15)).wrapping_mul(0x2c1b_3c6d) as usize >> 8 & mask
}

/// At most this many keys are compared one by one.
const FEW_KEYS: usize = 4;

impl Keys {
    fn new(map: Map<Vec<u32>>) -> Keys {
        if map.len() <= FEW_KEYS {
            let mut v: Vec<(String, Vec<u32>)> = map.into_iter().collect();
            v.sort();
            Keys::Few(v)
        } else {
            let mut keys: Vec<(String, Vec<u32>)> = map.into_iter().collect();
            keys.sort();
            let size = (keys.len() * 4).next_power_of_two();
            let mut slots = vec![0u32; size];
            for (i, (k, _)) in keys.iter().enumerate() {
                let mut at = key_slot(k.as_bytes(), size - 1);
                while slots.get(at).is_some_and(|&s| s != 0) {
                    at = (at + 1) & (size - 1);
                }
                if let Some(s) = slots.get_mut(at) {
                    *s = i as u32 + 1;
                }
            }
            Keys::Many { keys, slots }
        }
    }

    fn get(&self, t: &str) -> Option<&[u32]> {
        match self {
            Keys::Few(v) => v.iter().find(|(k, _)| short_eq(k, t)).map(|(_, l)| l.as_slice()),
            Keys::Many { keys, slots } => {
                let mask = slots.len().wrapping_sub(1);
                let mut at = key_slot(t.as_bytes(), mask);
                loop {
                    let (k, l) = keys.get((*slots.get(at)? as usize).checked_sub(1)?)?;
                    if short_eq(k, t) {
                        return Some(l);
                    }
                    at = (at + 1) & mask;
                }
            }
        }
    }
}

/// The rules filed under one single field's values.
#[derive(Debug)]
struct Single {
    reader: Reader,
    keys: Keys,
    /// The shape of the keys.
    shape: KeyShape,
    /// Every rule filed here (visited where the field is blind).
    all: Vec<u32>,
    /// For an annotation: its key and the values among `keys`, to rule
    /// them out from the annotations' text — first from its first member
    /// (`lead`).
    literals: Option<(Literal, Vec<Literal>)>,
    lead: Option<Leading>,
    /// The event resources that can reach these rules ([`Gates`]).
    gate: u128,
}

/// Sort a list of rules and drop repeats: the lists the index adds are
/// ascending without repeats, so that one list alone needs no sorting.
fn tidy(l: &mut Vec<u32>) {
    l.sort_unstable();
    l.dedup();
}

/// The (verb, resource) pairs: a table of verbs × resources.
#[derive(Debug, Default)]
struct Pairs {
    verbs: Vec<String>,
    /// Each resource's column (looked up through [`Resources`]).
    resources: Map<usize>,
    /// `table[v * resources.len() + r]`.
    table: Vec<Vec<u32>>,
    all: Vec<u32>,
}

impl Pairs {
    fn new(pair: Map<Map<Vec<u32>>>, mut all: Vec<u32>) -> Pairs {
        let mut verbs: Vec<String> = pair.keys().cloned().collect();
        verbs.sort();
        let mut names: Vec<&String> = pair.values().flat_map(|m| m.keys()).collect();
        names.sort();
        names.dedup();
        let resources: Map<usize> = names.iter().enumerate().map(|(i, r)| ((*r).clone(), i)).collect();
        let mut table = vec![Vec::new(); verbs.len() * resources.len()];
        for (v, verb) in verbs.iter().enumerate() {
            for (r, l) in pair.get(verb).into_iter().flatten() {
                if let Some(cell) = resources.get(r).and_then(|i| table.get_mut(v * resources.len() + i)) {
                    cell.extend_from_slice(l);
                }
            }
        }
        tidy(&mut all);
        table.iter_mut().for_each(tidy);
        Pairs { verbs, resources, table, all }
    }
}

/// The compiled index.
#[derive(Debug, Default)]
pub struct Index {
    pairs: Pairs,
    verb: Option<Reader>,
    /// The single fields with rules filed under them.
    single: Vec<Single>,
    needles: Vec<Needles>,
    /// Rules filed under a rarely present field: visited when it is present
    /// (with the key of an annotation, as above).
    presence: Vec<(Reader, Vec<u32>, Option<Literal>)>,
    /// For every literal above, a piece without a `/` (see
    /// [`slash_free`]): where none of them occurs in the annotations' text
    /// and the text holds no `\u` escape, every literal rules its
    /// annotation out — one search per distinct piece (`forbid`,
    /// `legacy-token` for the built-in pack) instead of one per literal and
    /// per escape. `None` when a literal holds a character JSON escapes (it
    /// never occurs verbatim) or is all slashes. The singles' pieces and
    /// the presence entries' are searched apart: a single's literal is
    /// mostly ruled out by the text's first member (`Single::lead`).
    annotation_pieces: Option<[Vec<memchr::memmem::Finder<'static>>; 2]>,
    /// For each `presence` entry with a literal: an earlier entry whose
    /// literal occurs in this one's (with the same escaping), so that where
    /// the earlier literal rules its annotation out, this one's is ruled
    /// out too without searching (`legacy-token` in
    /// `legacy-token-invalidated`).
    presence_within: Vec<Option<usize>>,
    /// For each `presence` entry: the event resources that can reach its
    /// rules ([`Gates`]).
    presence_gate: Vec<u128>,
    /// The resources the entries above are gated on.
    gates: Gates,
    /// The resources of `pairs` and `gates`, for one lookup per event.
    resources: Resources,
    /// Rules with no indexable conjunct.
    pub always: Vec<u32>,
    /// Bit per [`Slot`] some key reads.
    used: u32,
}

/// Gates on the event's resource: an entry whose rules all require
/// `objectRef.resource` among some values is not probed on an event whose
/// resource is none of them. Bit `c` of a gate stands for `columns`' `c`-th
/// resource; [`ANY`] is in every event's mask and in the gate of every
/// entry with a rule that requires no resource (`u128::MAX`).
#[derive(Debug, Default)]
struct Gates {
    columns: Map<u32>,
}

/// The bit every event's mask has (see [`Gates`]).
const ANY: u128 = 1 << 127;

impl Gates {
    /// The gate of an entry filing `rules`, given each rule's required
    /// resources (`None`: any resource); ungated once 127 resources have
    /// columns.
    fn gate(&mut self, rules: &[u32], required: &HashMap<u32, Option<Vec<String>>>) -> u128 {
        let mut g = 0u128;
        for i in rules {
            let Some(Some(rs)) = required.get(i) else { return u128::MAX };
            for r in rs {
                let c = match self.columns.get(r) {
                    Some(&c) => c,
                    // No column left: never given one (see `mask`).
                    None if self.columns.len() >= 127 => return u128::MAX,
                    None => {
                        let c = self.columns.len() as u32;
                        self.columns.insert(r.clone(), c);
                        c
                    }
                };
                g |= 1 << c;
            }
        }
        g
    }

    /// The bit of `resource`'s column (0 for a resource without one).
    fn bit(&self, resource: &str) -> u128 {
        self.columns.get(resource).and_then(|&c| 1u128.checked_shl(c)).unwrap_or(0)
    }

    /// The mask of an event with this `resource` ([`mask_of`]).
    #[cfg(test)]
    fn mask(&self, resource: Option<&str>, blind: bool) -> u128 {
        mask_of(self.columns.is_empty(), resource.map(|r| self.bit(r)), blind)
    }
}

/// The mask of an event whose resource has the column bit `bit` (`None`:
/// no resource): that bit and [`ANY`]; every bit where the resource is
/// absent but unavailable (`blind`), or where no gate has columns. A
/// resource without a column is in no gate.
#[inline(always)]
fn mask_of(no_columns: bool, bit: Option<u128>, blind: bool) -> u128 {
    match bit {
        _ if no_columns => u128::MAX,
        Some(b) => ANY | b,
        None if blind => u128::MAX,
        None => ANY,
    }
}

/// The column of a resource in no pair (see [`Resources`]).
const NO_PAIR: u32 = u32::MAX;

/// Every resource a pair or a gate names, with its pairs' column
/// ([`NO_PAIR`] if none) and its gates' bit: the event's resource is
/// looked up once for both.
#[derive(Debug, Default)]
struct Resources {
    known: Map<(u32, u128)>,
    shape: KeyShape,
}

impl Resources {
    fn new(pairs: &Pairs, gates: &Gates) -> Resources {
        let mut known: Map<(u32, u128)> = Map::default();
        for (r, &c) in &pairs.resources {
            known.insert(r.clone(), (u32::try_from(c).unwrap_or(NO_PAIR), gates.bit(r)));
        }
        for r in gates.columns.keys() {
            known.entry(r.clone()).or_insert((NO_PAIR, gates.bit(r)));
        }
        Resources { shape: KeyShape::of(known.keys()), known }
    }
}

/// The index while rules are filed.
#[derive(Default)]
struct Filed {
    pair: Map<Map<Vec<u32>>>,
    pair_all: Vec<u32>,
    single: Vec<(FieldRef, Map<Vec<u32>>, Vec<u32>)>,
    needles: Vec<Needles>,
    presence: Vec<(FieldRef, Vec<u32>)>,
    always: Vec<u32>,
}

/// The values a condition requires for `field` (see `required_values`).
pub type Required<'a> = &'a dyn Fn(&Expr, &FieldRef) -> Option<Vec<String>>;

/// A needle conjunct: the field, whether case-insensitive, the needles.
type NeedleSpec = (FieldRef, bool, Vec<(String, Anchor)>);

fn needle_conjunct(e: &Expr) -> Option<NeedleSpec> {
    match e {
        Expr::And(xs) => {
            // The conjunct with the fewest needles.
            xs.iter().filter_map(needle_conjunct).min_by_key(|(_, _, n)| n.len())
        }
        Expr::Test { field, m, negate: false, all: false } if !field.is_list() => match m {
            Matcher::Contains(ns, _, ci) => {
                Some((field.clone(), *ci, ns.iter().map(|n| (n.clone(), Anchor::Anywhere)).collect()))
            }
            Matcher::StartsWith(ns) => {
                Some((field.clone(), false, ns.iter().map(|n| (n.clone(), Anchor::Start)).collect()))
            }
            Matcher::EndsWith(ns) => {
                Some((field.clone(), false, ns.iter().map(|n| (n.clone(), Anchor::End)).collect()))
            }
            _ => None,
        },
        _ => None,
    }
    .filter(|(_, _, ns)| !ns.is_empty() && ns.iter().all(|(n, _)| !n.is_empty()))
}

/// The most selective filing of `e`, if it has one: the best single key
/// among its top-level conjuncts, or, for a disjunction (at the top or as a
/// conjunct), the union of one filing per branch.
fn filing(e: &Expr, fields: &[(FieldRef, f64)], required: Required<'_>) -> Option<Filing> {
    let mut best: Option<Filing> = None;
    let mut offer = |f: Filing| {
        if best.as_ref().is_none_or(|b| f.share < b.share) {
            best = Some(f);
        }
    };
    let mut singles: Vec<Option<Vec<String>>> = Vec::new();
    for (k, (f, w)) in fields.iter().enumerate() {
        let vals = required(e, f);
        if let Some(v) = &vals {
            let share = v.iter().map(|x| value_share(f, x, *w)).sum::<f64>();
            offer(Filing { share, keys: vec![Key::Single(k, v.clone())] });
        }
        singles.push(vals);
    }
    let pos = |g: FieldRef| fields.iter().position(|(f, _)| *f == g);
    if let (Some(vi), Some(ri)) = (pos(FieldRef::Verb), pos(FieldRef::ObjResource)) {
        if let (Some(Some(vs)), Some(Some(rs))) = (singles.get(vi), singles.get(ri)) {
            let share = (vs.len() * rs.len()) as f64 / PAIR_WEIGHT;
            offer(Filing { share, keys: vec![Key::Pair(vs.clone(), rs.clone())] });
        }
    }
    if let Some((w, f)) = required_present(e)
        .into_iter()
        .map(|f| (presence_weight(&f), f))
        .filter(|(w, _)| *w > 0.0)
        .max_by(|a, b| a.0.total_cmp(&b.0))
    {
        offer(Filing { share: 1.0 / w, keys: vec![Key::Presence(f)] });
    }
    if let Some(n) = needle_conjunct(e) {
        // Needles in a body search its whole text, made for the purpose:
        // worth it only where nothing else narrows the rule down.
        let cost = match n.0 {
            FieldRef::Body(..) => BODY_NEEDLE_COST,
            // Long texts on every event.
            FieldRef::UserAgent | FieldRef::RequestUri | FieldRef::RequestUriPath | FieldRef::StatusMessage => {
                LONG_NEEDLE_COST
            }
            _ => 1.0,
        };
        offer(Filing { share: cost * n.2.len() as f64 / NEEDLE_WEIGHT, keys: vec![Key::Needle(n)] });
    }
    match e {
        Expr::Or(xs) if !xs.is_empty() => {
            let mut all = Filing { share: 0.0, keys: Vec::new() };
            for x in xs {
                let Some(f) = filing(x, fields, required) else { return best };
                all.share += f.share;
                all.keys.extend(f.keys);
            }
            offer(all);
        }
        Expr::And(xs) => {
            for x in xs.iter().filter(|x| matches!(x, Expr::Or(_) | Expr::And(_))) {
                if let Some(f) = filing(x, fields, required) {
                    offer(f);
                }
            }
        }
        _ => {}
    }
    best
}

impl Index {
    /// Build the index for `rules` (indices into the rule set).
    pub fn build(rules: &[(u32, &Expr)], required: Required<'_>) -> Index {
        let fields = single_fields();
        let resources: HashMap<u32, Option<Vec<String>>> =
            rules.iter().map(|&(i, e)| (i, required(e, &FieldRef::ObjResource))).collect();
        let mut gates = Gates::default();
        let mut ix = Filed {
            single: fields.iter().map(|(f, _)| (f.clone(), Map::default(), Vec::new())).collect(),
            ..Filed::default()
        };
        for &(i, expr) in rules {
            let Some(f) = filing(expr, &fields, required) else {
                ix.always.push(i);
                continue;
            };
            for key in f.keys {
                ix.file(i, key);
            }
        }
        for n in &mut ix.needles {
            let pats: Vec<&str> = n.patterns.iter().map(|(p, _, _)| p.as_str()).collect();
            n.ac = AhoCorasickBuilder::new().match_kind(MatchKind::Standard).build(&pats).ok();
            n.anchored = n.patterns.len() <= FEW_ANCHORED && n.patterns.iter().all(|(_, a, _)| *a != Anchor::Anywhere);
            n.edges = (n.anchored && !n.insensitive && n.ac.is_some()).then(|| {
                let (mut first, mut last) = ([0u64; 4], [0u64; 4]);
                for (p, anchor, _) in &n.patterns {
                    match (anchor, p.as_bytes().first(), p.as_bytes().last()) {
                        (Anchor::Start, Some(&b), _) => set_byte(&mut first, b),
                        (Anchor::End, _, Some(&e)) => set_byte(&mut last, e),
                        // Empty patterns are never filed (`needle_conjunct`);
                        // all bits set keeps the check exact regardless.
                        _ => (first, last) = ([u64::MAX; 4], [u64::MAX; 4]),
                    }
                }
                (first, last)
            });
        }
        // What `View::annotation_may_be` searches for (the values where
        // there are some, else the key), and whether any of it is escaped.
        // The singles' pieces, then the presence entries'.
        let mut pieces: [Vec<String>; 2] = [Vec::new(), Vec::new()];
        let mut escaped = false;
        let single = ix
            .single
            .into_iter()
            .filter(|(_, _, all)| !all.is_empty())
            .map(|(f, mut map, mut all)| {
                tidy(&mut all);
                map.values_mut().for_each(tidy);
                let mut lead = None;
                let literals = match &f {
                    FieldRef::Annotation(k) => {
                        let (key, values): (Literal, Vec<Literal>) =
                            (Literal::new(k), map.keys().map(|v| Literal::new(v)).collect());
                        escaped |= key.escaped() || values.iter().any(Literal::escaped);
                        pieces[0].extend(map.keys().map(|v| slash_free(v).to_string()));
                        let vs: Vec<&str> = map.keys().map(String::as_str).collect();
                        lead = Leading::new(k, &vs);
                        Some((key, values))
                    }
                    _ => None,
                };
                let shape = KeyShape::of(map.keys());
                let gate = gates.gate(&all, &resources);
                Single { shape, keys: Keys::new(map), reader: Reader::new(f), all, literals, lead, gate }
            })
            .collect();
        for n in &mut ix.needles {
            tidy(&mut n.all);
            n.gate = gates.gate(&n.all, &resources);
        }
        let presence: Vec<(Reader, Vec<u32>, Option<Literal>)> = ix
            .presence
            .into_iter()
            .map(|(f, mut rules)| {
                tidy(&mut rules);
                let lit = match &f {
                    FieldRef::Annotation(k) => {
                        let key = Literal::new(k);
                        escaped |= key.escaped();
                        pieces[1].push(slash_free(k).to_string());
                        Some(key)
                    }
                    _ => None,
                };
                (Reader::new(f), rules, lit)
            })
            .collect();
        let lits: Vec<Option<&Literal>> = presence.iter().map(|(_, _, l)| l.as_ref()).collect();
        let presence_within = lits
            .iter()
            .enumerate()
            .map(|(j, b)| {
                let b = (*b)?;
                lits.iter().take(j).position(|a| a.is_some_and(|a| a.within(b)))
            })
            .collect();
        let presence_gate = presence.iter().map(|(_, rules, _)| gates.gate(rules, &resources)).collect();
        tidy(&mut ix.always);
        let mut ix = Index {
            verb: (!ix.pair_all.is_empty()).then(|| Reader::new(FieldRef::Verb)),
            pairs: Pairs::new(ix.pair, ix.pair_all),
            single,
            needles: ix.needles,
            presence,
            annotation_pieces: if escaped
                || pieces.iter().all(Vec::is_empty)
                || pieces.iter().flatten().any(String::is_empty)
            {
                None
            } else {
                Some(pieces.map(finders))
            },
            presence_within,
            presence_gate,
            gates,
            resources: Resources::default(),
            always: ix.always,
            used: 0,
        };
        let readers = ix.verb.iter().chain(ix.single.iter().map(|s| &s.reader));
        let readers = readers.chain(ix.needles.iter().map(|n| &n.reader)).chain(ix.presence.iter().map(|p| &p.0));
        ix.used = readers.filter_map(|r| r.slot).fold(0, |u, s| u | s.bit());
        ix.resources = Resources::new(&ix.pairs, &ix.gates);
        ix
    }

    /// The candidate rules for an event, ascending, into `out` (cleared).
    pub fn candidates(&self, view: &View<'_, '_>, out: &mut Vec<u32>) {
        out.clear();
        out.extend_from_slice(&self.always);
        let mut code_buf = [0u8; 24];
        let ev = Event { view, unavailable: view.unavailable(), facts: Facts::new(view, self.used, &mut code_buf) };
        // Every list below is ascending without repeats: `out` needs
        // sorting only where more than one list (or a needle) added rules.
        let mut added = Added { lists: usize::from(!self.always.is_empty()), out };
        // The event's resource, looked up once: its pairs' column and its
        // gates' bit.
        let resource = view.ev.resource();
        let (pair_column, gate_bit) =
            match resource.filter(|r| self.resources.shape.may_hold(r)).and_then(|r| self.resources.known.get(r)) {
                Some(&(p, b)) => ((p != NO_PAIR).then_some(p as usize), b),
                None => (None, 0),
            };
        // (verb, resource) pairs: the resource's row, then the verb's.
        if let Some(verb) = &self.verb {
            match verb.probe(&ev) {
                Probe::Text(v) => self.pairs.add(pair_column, v, &mut added),
                Probe::Blind => added.list(&self.pairs.all),
                Probe::Nothing => {}
                Probe::Slow => {
                    let mut buf = [0u8; 24];
                    match verb.read(&ev, &mut buf) {
                        Read::Blind => added.list(&self.pairs.all),
                        Read::Text(v) => self.pairs.add(pair_column, &v, &mut added),
                        Read::Nothing => {}
                    }
                }
            }
        }
        // Whether no literal below of a group (the singles', the presence
        // entries') can occur in the annotations' text: then each rules
        // its annotation out, as `View::annotation_may_be` would find.
        // Looked for once, when a literal first asks.
        let text = match (&view.ev.annotations, ev.unavailable.contains(Field::Annotations)) {
            (Some(raw), false) => Some(raw.get().as_bytes()),
            _ => None,
        };
        // The decoder may already know the text holds no `\u` escape.
        let escaped_u = view.ev.flags.annotations_without_u_escape.then_some(false);
        let resource_blind = FieldRef::ObjResource.needs().first_common(ev.unavailable).is_some();
        let mask = mask_of(self.gates.columns.is_empty(), resource.map(|_| gate_bit), resource_blind);
        let mut pieces = Pieces { finders: self.annotation_pieces.as_ref(), text, escaped_u, none: [None; 2] };
        for s in &self.single {
            if s.gate & mask == 0 {
                continue;
            }
            if let Some((key, values)) = &s.literals {
                if s.lead.as_ref().zip(text).is_some_and(|(l, t)| l.rules_out(t))
                    || pieces.none_occur(0)
                    || !view.annotation_may_be(key, Some(values))
                {
                    continue;
                }
            }
            match s.reader.probe(&ev) {
                Probe::Text(t) => {
                    if let Some(l) = s.get(t) {
                        added.list(l);
                    }
                }
                Probe::Blind => added.list(&s.all),
                Probe::Nothing => {}
                Probe::Slow => s.slow(&ev, &mut added),
            }
        }
        // Bit `j`: presence entry `j`'s literal ruled its annotation out.
        let mut ruled_out = 0u64;
        let bit = |i: usize| u32::try_from(i).ok().and_then(|i| 1u64.checked_shl(i)).unwrap_or(0);
        for (j, (reader, rules, lit)) in self.presence.iter().enumerate() {
            if self.presence_gate.get(j).is_some_and(|g| g & mask == 0) {
                continue;
            }
            if let Some(key) = lit {
                let within = self.presence_within.get(j).copied().flatten();
                let implied = within.is_some_and(|i| ruled_out & bit(i) != 0);
                if implied || pieces.none_occur(1) || !view.annotation_may_be(key, None) {
                    ruled_out |= bit(j);
                    continue;
                }
            }
            if reader.present(&ev) {
                added.list(rules);
            }
        }
        for n in &self.needles {
            if n.gate & mask == 0 {
                continue;
            }
            match n.reader.probe(&ev) {
                Probe::Text(v) => {
                    if n.may_match(v) {
                        n.add(v, &mut added);
                    }
                }
                Probe::Blind => added.list(&n.all),
                Probe::Nothing => {}
                Probe::Slow => {
                    let mut buf = [0u8; 24];
                    match n.reader.read(&ev, &mut buf) {
                        Read::Blind => added.list(&n.all),
                        Read::Text(v) => n.add(&v, &mut added),
                        Read::Nothing => {}
                    }
                }
            }
        }
        if added.lists > 1 {
            out.sort_unstable();
            out.dedup();
        }
    }
}

/// The annotations' text searched for the pieces of one group of
/// literals (`Index::annotation_pieces`), and for `\u`, once each.
struct Pieces<'a> {
    finders: Option<&'a [Vec<memchr::memmem::Finder<'static>>; 2]>,
    /// The text, where annotations are available.
    text: Option<&'a [u8]>,
    /// Whether the text holds `\u` (known from the decoder, or searched for
    /// once).
    escaped_u: Option<bool>,
    none: [Option<bool>; 2],
}

impl Pieces<'_> {
    /// Whether no piece of group `g`, and no `\u`, occurs in the text.
    fn none_occur(&mut self, g: usize) -> bool {
        let (Some(finders), Some(text)) = (self.finders.and_then(|f| f.get(g)), self.text) else { return false };
        let Some(slot) = self.none.get_mut(g) else { return false };
        let escaped_u = &mut self.escaped_u;
        *slot.get_or_insert_with(|| {
            !*escaped_u.get_or_insert_with(|| ESCAPED_U.find(text).is_some())
                && finders.iter().all(|p| p.find(text).is_none())
        })
    }
}

/// The candidates so far, and how many lists (each ascending, without
/// repeats) went in.
struct Added<'o> {
    lists: usize,
    out: &'o mut Vec<u32>,
}

impl Added<'_> {
    #[inline(always)]
    fn list(&mut self, l: &[u32]) {
        if !l.is_empty() {
            self.out.extend_from_slice(l);
            self.lists += 1;
        }
    }
}

impl Pairs {
    /// Add the rules filed under (`verb`, the resource in column `r`).
    #[inline(always)]
    fn add(&self, r: Option<usize>, verb: &str, added: &mut Added<'_>) {
        let Some(r) = r else { return };
        let first = verb.as_bytes().first();
        let Some(v) = self.verbs.iter().position(|x| x.as_bytes().first() == first && short_eq(x, verb)) else {
            return;
        };
        if let Some(l) = self.table.get(v * self.resources.len() + r) {
            added.list(l);
        }
    }
}

impl Single {
    /// The rules filed under the value `t`.
    #[inline(always)]
    fn get(&self, t: &str) -> Option<&[u32]> {
        if self.shape.may_hold(t) {
            self.keys.get(t)
        } else {
            None
        }
    }

    /// What [`Reader::probe`] leaves to [`read`].
    #[cold]
    #[inline(never)]
    fn slow(&self, ev: &Event<'_, '_, '_>, added: &mut Added<'_>) {
        let mut buf = [0u8; 24];
        match self.reader.read(ev, &mut buf) {
            Read::Blind => added.list(&self.all),
            Read::Text(t) => {
                if let Some(l) = self.get(&t) {
                    added.list(l);
                }
            }
            Read::Nothing => {}
        }
    }
}

impl Needles {
    /// `false` only where no pattern can match `v` (see `edges`).
    #[inline(always)]
    fn may_match(&self, v: &str) -> bool {
        match (self.edges.as_ref(), v.as_bytes().first(), v.as_bytes().last()) {
            (Some((first, last)), Some(&b), Some(&e)) => bit_of(first, b) | bit_of(last, e) != 0,
            _ => true,
        }
    }

    /// Add the rules whose needles occur in `v`, one by one (several
    /// patterns may select one rule: `out` is sorted afterwards).
    fn add(&self, v: &str, added: &mut Added<'_>) {
        let lowered;
        let hay = if self.insensitive {
            lowered = v.to_lowercase();
            lowered.as_str()
        } else {
            v
        };
        let Some(ac) = &self.ac else {
            added.list(&self.all);
            return;
        };
        let out = &mut *added.out;
        let before = out.len();
        if self.anchored {
            // What the automaton's overlapping matches select, below.
            let h = hay.as_bytes();
            for (p, anchor, rule) in &self.patterns {
                // The first (last) byte before the whole compare.
                let q = p.as_bytes();
                let ok = match anchor {
                    Anchor::Start => h.first() == q.first() && h.starts_with(q),
                    Anchor::End => h.last() == q.last() && h.ends_with(q),
                    Anchor::Anywhere => hay.contains(p.as_str()),
                };
                if ok {
                    out.push(*rule);
                }
            }
        } else {
            for m in ac.find_overlapping_iter(hay) {
                let Some((_, anchor, rule)) = self.patterns.get(m.pattern().as_usize()) else { continue };
                let ok = match anchor {
                    Anchor::Anywhere => true,
                    Anchor::Start => m.start() == 0,
                    Anchor::End => m.end() == hay.len(),
                };
                if ok {
                    out.push(*rule);
                }
            }
        }
        // Pushed one by one: count them as two lists, so they are sorted.
        if out.len() > before {
            added.lists += 2;
        }
    }
}

impl Filed {
    /// File rule `i` under `key`.
    fn file(&mut self, i: u32, key: Key) {
        match key {
            Key::Pair(vs, rs) => {
                for v in &vs {
                    for r in &rs {
                        self.pair.entry(v.clone()).or_default().entry(r.clone()).or_default().push(i);
                    }
                }
                self.pair_all.push(i);
            }
            Key::Presence(f) => match self.presence.iter_mut().find(|(g, _)| *g == f) {
                Some((_, l)) => l.push(i),
                None => self.presence.push((f, vec![i])),
            },
            Key::Needle((field, ci, ns)) => {
                let slot = match self.needles.iter().position(|n| n.reader.field == field && n.insensitive == ci) {
                    Some(p) => p,
                    None => {
                        self.needles.push(Needles {
                            reader: Reader::new(field),
                            insensitive: ci,
                            patterns: Vec::new(),
                            ac: None,
                            gate: u128::MAX,
                            anchored: false,
                            edges: None,
                            all: Vec::new(),
                        });
                        self.needles.len() - 1
                    }
                };
                if let Some(n) = self.needles.get_mut(slot) {
                    for (p, a) in ns {
                        n.patterns.push((p, a, i));
                    }
                    n.all.push(i);
                }
            }
            Key::Single(k, vals) => {
                if let Some((_, map, all)) = self.single.get_mut(k) {
                    for v in vals {
                        map.entry(v).or_default().push(i);
                    }
                    all.push(i);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_whose_rules_all_require_resources_are_gated_on_them() {
        let mut b = crate::rules::Builder::new();
        b.add_file(
            "t.yaml",
            "rules:\n  - {id: a, title: t, severity: low, condition: \"objectRef.name = x and objectRef.resource in (configmaps, secrets)\"}\n  \
             - {id: b, title: t, severity: low, condition: \"impersonatedUser.username exists\"}\n  \
             - {id: c, title: t, severity: low, condition: \"objectRef.name = y\"}\n",
        );
        let set = b.build().expect("compiles");
        let ix = &set.index;
        let by_name = ix.single.iter().find(|s| s.reader.field == FieldRef::ObjName).expect("filed by name");
        // `c` requires no resource: the name entry is ungated.
        assert_eq!(by_name.gate, u128::MAX);
        assert_eq!(ix.presence_gate, vec![u128::MAX]);
        let mut b = crate::rules::Builder::new();
        b.add_file(
            "t.yaml",
            "rules:\n  - {id: a, title: t, severity: low, condition: \"objectRef.name = x and objectRef.resource in (configmaps, secrets)\"}\n",
        );
        let set = b.build().expect("compiles");
        let by_name = set.index.single.iter().find(|s| s.reader.field == FieldRef::ObjName).expect("filed by name");
        assert_eq!(by_name.gate.count_ones(), 2);
        assert_eq!(by_name.gate & ANY, 0);
    }

    #[test]
    fn one_resource_lookup_serves_pairs_and_gates() {
        // `p` is filed under (get, pods); `g` under a name, gated on
        // secrets; `both` under (delete, secrets). The one table holds pods
        // (a pair column, no gate bit) and secrets (both).
        let mut b = crate::rules::Builder::new();
        b.add_file(
            "t.yaml",
            "rules:\n  - {id: p, title: t, severity: low, condition: \"verb = get and objectRef.resource = pods\"}\n  \
             - {id: g, title: t, severity: low, condition: \"objectRef.name = x and objectRef.resource = secrets\"}\n  \
             - {id: both, title: t, severity: low, condition: \"verb = delete and objectRef.resource = secrets\"}\n",
        );
        let set = b.build().expect("compiles");
        let ix = &set.index;
        let pods = ix.resources.known.get("pods").copied().expect("pods known");
        let secrets = ix.resources.known.get("secrets").copied().expect("secrets known");
        assert_ne!(pods.0, NO_PAIR);
        assert_eq!(pods.1, 0, "no entry is gated on pods");
        assert_ne!(secrets.0, NO_PAIR);
        assert_ne!(secrets.1, 0);
        let id = |n: &str| set.find(n).expect("rule") as u32;
        let cands = |verb: &str, resource: &str, name: &str| {
            let line = format!(
                r#"{{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":"a","stage":"ResponseComplete","verb":"{verb}","user":{{"username":"u"}},"objectRef":{{"resource":"{resource}","name":"{name}"}}}}"#
            );
            struct Cands<'a>(&'a Index, Option<Vec<u32>>);
            impl crate::Sink for Cands<'_> {
                fn event(&mut self, ev: &crate::AuditEvent<'_>) {
                    let mut out = Vec::new();
                    self.0.candidates(&View::new(ev), &mut out);
                    self.1 = Some(out);
                }
                fn skipped(&mut self, _: crate::Unit<'_>, _: &'static str) {}
                fn error(&mut self, _: crate::Unit<'_>, _: &crate::Error) {}
            }
            let mut sink = Cands(ix, None);
            crate::Decoder::default().decode(line.as_bytes(), &mut sink);
            sink.1.expect("one event")
        };
        assert_eq!(cands("get", "pods", "x"), vec![id("p")]);
        assert_eq!(cands("get", "secrets", "x"), vec![id("g")]);
        assert_eq!(cands("delete", "secrets", "y"), vec![id("both")]);
        assert_eq!(cands("delete", "secrets", "x"), vec![id("g"), id("both")]);
        // A resource neither knows: no pair, no gate open.
        assert!(cands("get", "configmaps", "x").is_empty());
    }

    #[test]
    fn gates_run_out_of_columns_without_overflowing() {
        // 130 entries, each filing one rule that requires its own resource:
        // the first 127 get a column, the rest are ungated, and no event's
        // mask shifts past the mask's width.
        let required: HashMap<u32, Option<Vec<String>>> = (0..130).map(|i| (i, Some(vec![format!("r{i}")]))).collect();
        let mut g = Gates::default();
        let gates: Vec<u128> = (0..130u32).map(|i| g.gate(&[i], &required)).collect();
        assert_eq!(g.columns.len(), 127);
        for (i, gate) in gates.iter().enumerate() {
            let mask = g.mask(Some(&format!("r{i}")), false);
            if i < 127 {
                assert_eq!(*gate, 1u128 << i);
                // Its own entry only.
                assert_eq!(gates.iter().filter(|&&x| x & mask != 0).count(), 1 + 3, "r{i}");
            } else {
                assert_eq!(*gate, u128::MAX);
                assert_eq!(mask, ANY);
            }
        }
        assert_eq!(g.mask(Some("other"), false), ANY);
        assert_eq!(g.mask(None, false), ANY);
        assert_eq!(g.mask(None, true), u128::MAX);
        // A rule that requires no resource ungates its entry.
        let mut required = required;
        required.insert(500, None);
        assert_eq!(g.gate(&[0, 500], &required), u128::MAX);
    }

    #[test]
    fn key_shape_admits_every_key_and_rules_out_by_length_first_and_last_byte() {
        let long = "k".repeat(70);
        let keys: Vec<String> = ["", "a", "ab", "xbc", "é", long.as_str()].iter().map(|s| s.to_string()).collect();
        let shape = KeyShape::of(keys.iter());
        assert!(keys.iter().all(|k| shape.may_hold(k)));
        // No key starts with `b`; none has 4 bytes; 63 bytes and more share a bit.
        assert!(!shape.may_hold("bc"));
        assert!(!shape.may_hold("abcd"));
        // Two bytes, starting with `a`, but no key ends with `d`.
        assert!(!shape.may_hold("ad"));
        assert!(shape.may_hold(&"k".repeat(100)));
        let none = KeyShape::of(std::iter::empty());
        assert!(!none.may_hold("") && !none.may_hold("a"));
    }

    #[test]
    fn keys_find_every_key_and_nothing_else_few_or_many() {
        for n in [0usize, 1, 4, 5, 35, 100] {
            let mut map: Map<Vec<u32>> = Map::default();
            let mut keys: Vec<String> = (0..n).map(|i| format!("k{i}-{}", "x".repeat(i % 7))).collect();
            // Keys that agree on length and first, middle and last bytes.
            if n > 4 {
                keys.extend(["abXcd", "abYcd", "abZcd", "", "é"].map(String::from));
            }
            for (i, k) in keys.iter().enumerate() {
                map.insert(k.clone(), vec![i as u32]);
            }
            let ks = Keys::new(map);
            for (i, k) in keys.iter().enumerate() {
                assert_eq!(ks.get(k), Some(&[i as u32][..]), "{n} {k}");
            }
            for t in ["abWcd", "k", "k0-", "x", "abcd", "è", "kk"] {
                if !keys.iter().any(|k| k == t) {
                    assert_eq!(ks.get(t), None, "{n} {t}");
                }
            }
        }
    }

    #[test]
    fn code_str_spells_codes_as_int_str_does() {
        for c in [-1000, -100, -1, 0, 1, 99, 100, 101, 200, 999, 1000, 999_999_999_999_999] {
            let (mut a, mut b) = ([0u8; 24], [0u8; 24]);
            assert_eq!(code_str(c, &mut a), int_str(c, &mut b), "{c}");
        }
    }

    #[test]
    fn slash_free_piece_is_the_last_non_empty_one() {
        assert_eq!(slash_free("authentication.k8s.io/legacy-token"), "legacy-token");
        assert_eq!(slash_free("example.com/"), "example.com");
        assert_eq!(slash_free("a//b/"), "b");
        assert_eq!(slash_free("forbid"), "forbid");
        assert_eq!(slash_free("//"), "");
        assert_eq!(slash_free(""), "");
    }

    #[test]
    fn a_literal_is_within_another_only_if_contained_and_escaped_alike() {
        let short = Literal::new("example.com/legacy-token");
        let long = Literal::new("example.com/legacy-token-invalidated");
        assert!(short.within(&long));
        assert!(!long.within(&short));
        // A `/` in one only: `\/` would hide one and not the other.
        assert!(!Literal::new("legacy-token").within(&long));
        assert!(!Literal::new("a").within(&Literal::new("a\"b")));
    }
}
