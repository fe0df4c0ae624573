//! Three-valued evaluation of compiled conditions over one event.
//!
//! A field read gives values, *absent* (the event could have it but does
//! not), or *blind* (the source cannot provide it: it is in the event's
//! `missing` set, or the audit level dropped the body). Comparisons on absent
//! fields are false (as in Falco); on blind fields they are blind. `and`,
//! `or`, `not` follow Kleene logic, so `x and blind` is false when `x` is
//! false, and a rule is reported blind only when the blind field could have
//! changed its result.

use std::borrow::Cow;
use std::cell::{Cell, OnceCell};
use std::collections::HashSet;

use serde_json::Value;

use super::body::{self, Node, Raw, Tape};
use super::cidr::Cidrs;
use super::derive::{self, PodSummary, RbacSummary};
use super::fields::{Body, Derived, FieldRef, PodField, RbacField, Step};
use super::lang::Op;
use super::pieces::{Needles, Pieces, TextRegex};
use crate::event::{AuditEvent, Field, FieldSet};

/// One value read from an event.
#[derive(Clone, Debug, PartialEq)]
pub enum Val<'c> {
    Str(Cow<'c, str>),
    Num(f64),
    Bool(bool),
    /// An object or array inside a body, read as its compact JSON text
    /// (sorted keys) only when a comparison needs the text.
    Json(&'c Value),
    /// The same, read from the body's text (`body.rs`) instead of a DOM.
    Raw(Raw<'c>),
}

impl Val<'_> {
    /// Call `f` with the value's text; integers are formatted on the stack.
    pub(crate) fn with_text<R>(&self, f: impl FnOnce(&str) -> R) -> R {
        match self {
            Val::Num(n) if n.fract() == 0.0 && n.abs() < 1e15 => {
                let mut buf = [0u8; 24];
                f(int_str(*n as i64, &mut buf))
            }
            other => f(&other.text()),
        }
    }

    pub(crate) fn text(&self) -> Cow<'_, str> {
        match self {
            Val::Str(s) => Cow::Borrowed(s),
            Val::Num(n) => Cow::Owned(if n.fract() == 0.0 { format!("{}", *n as i64) } else { n.to_string() }),
            Val::Bool(b) => Cow::Borrowed(if *b { "true" } else { "false" }),
            Val::Json(v) => Cow::Owned(v.to_string()),
            Val::Raw(r) => Cow::Owned(r.canonical()),
        }
    }

    fn num(&self) -> Option<f64> {
        match self {
            Val::Num(n) => Some(*n),
            Val::Str(s) => s.parse().ok(),
            Val::Bool(_) | Val::Json(_) | Val::Raw(_) => None,
        }
    }
}

/// A text searched for verbatim in an annotation object's JSON text
/// (see [`View::annotation_may_be`]).
#[derive(Debug)]
pub(crate) struct Literal {
    finder: memchr::memmem::Finder<'static>,
    /// It holds a character JSON must escape (`"`, `\`, controls), so it
    /// never occurs verbatim.
    escaped: bool,
    /// It holds a `/`, which JSON may write `\/`.
    slash: bool,
}

impl Literal {
    pub(crate) fn new(s: &str) -> Literal {
        Literal {
            finder: memchr::memmem::Finder::new(s.as_bytes()).into_owned(),
            escaped: s.bytes().any(|b| b == b'"' || b == b'\\' || b < 0x20),
            slash: s.contains('/'),
        }
    }

    /// Whether it holds a character JSON must escape (it never occurs
    /// verbatim in JSON text).
    pub(crate) fn escaped(&self) -> bool {
        self.escaped
    }

    /// Whether this literal occurs in `other` and they are escaped alike:
    /// where [`View::annotation_may_be`] rules this key out, `other`'s
    /// is ruled out too (the same escapes would hide both, and a text
    /// without this one holds no `other`).
    pub(crate) fn within(&self, other: &Literal) -> bool {
        self.escaped == other.escaped
            && self.slash == other.slash
            && memchr::memmem::find(other.finder.needle(), self.finder.needle()).is_some()
    }
}

/// Finders for `\u` and `\/`, the escapes that can spell an annotation
/// key or value without its text occurring verbatim.
static ESCAPES: std::sync::LazyLock<(memchr::memmem::Finder<'static>, memchr::memmem::Finder<'static>)> =
    std::sync::LazyLock::new(|| (memchr::memmem::Finder::new(b"\\u"), memchr::memmem::Finder::new(b"\\/")));

/// The result of reading a field.
#[derive(Clone, Debug, PartialEq)]
pub enum Got<'c> {
    One(Val<'c>),
    Many(Vec<Val<'c>>),
    /// Several strings read in place (no allocation): groups, source IPs,
    /// pod-spec and RBAC lists.
    Strs(&'c [crate::json::Str<'c>]),
    Owned(&'c [String]),
    Absent,
    Blind(Field),
}

/// Three-valued truth.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tri {
    True,
    False,
    /// Unknown because this field is not available from the source.
    Blind(Field),
}

/// A read-only view over one event with lazily computed derived fields.
pub struct View<'r, 'e> {
    pub ev: &'r AuditEvent<'e>,
    unavailable: FieldSet,
    /// What only some events need (bodies, their texts and summaries,
    /// the exec command, user extras, annotations), made on first use in
    /// one allocation: a view that needs none of it is small to make and
    /// to drop (most events).
    lazy: OnceCell<Box<Lazy<'r>>>,
    /// `actor.kind`, computed once.
    actor_kind: OnceCell<Option<&'static str>>,
    /// The event time for stateful rules, parsed once.
    time: OnceCell<Option<super::state::Micros>>,
    /// Bytes the rule being evaluated may still scan (its match budget).
    budget_left: Cell<usize>,
    /// Results of shared sub-conditions (`memo.rs`): 0 not yet evaluated,
    /// 1 true, 2 false, 3 + `Field` blind.
    memo: [Cell<u8>; super::memo::SLOTS],
}

/// The parts of a [`View`] only some events need (see `View::lazy`).
#[derive(Default)]
struct Lazy<'r> {
    req: OnceCell<Option<Doc<'r>>>,
    resp: OnceCell<Option<Doc<'r>>>,
    /// The compact text of each whole body (for whole-body text matchers),
    /// made once per event however many rules ask.
    req_text: OnceCell<String>,
    resp_text: OnceCell<String>,
    /// What a prefilter needs of a whole body's canonical text, made once.
    req_shadow: OnceCell<Option<body::Shadow>>,
    resp_shadow: OnceCell<Option<body::Shadow>>,
    pod: OnceCell<Option<PodSummary>>,
    rbac: OnceCell<Option<RbacSummary>>,
    exec_cmd: OnceCell<Option<String>>,
    /// `user.extra`, parsed once.
    extra: OnceCell<Vec<(String, Vec<String>)>>,
    /// Whether the annotations' text holds a `\u` escape, and a `\/` one.
    annotation_escapes: OnceCell<(bool, bool)>,
    /// Annotations, parsed once: keys and values unescaped.
    annotations: OnceCell<Vec<(crate::json::Str<'r>, MapVal<'r>)>>,
}

impl<'r, 'e> View<'r, 'e> {
    /// A view. Bodies the audit level excluded are unavailable too: at
    /// `Metadata` there is no request or response object, at `Request` no
    /// response object.
    pub fn new(ev: &'r AuditEvent<'e>) -> Self {
        let mut unavailable = ev.missing;
        match ev.level.as_deref() {
            Some("Metadata") | Some("None") => {
                unavailable.insert(Field::RequestObject);
                unavailable.insert(Field::ResponseObject);
            }
            Some("Request") => unavailable.insert(Field::ResponseObject),
            // No level: an absent body may have been dropped by the policy,
            // so absent bodies are unavailable rather than known-empty.
            None => {
                if ev.request_object.is_none() {
                    unavailable.insert(Field::RequestObject);
                }
                if ev.response_object.is_none() {
                    unavailable.insert(Field::ResponseObject);
                }
            }
            _ => {}
        }
        View {
            ev,
            unavailable,
            lazy: OnceCell::new(),
            actor_kind: OnceCell::new(),
            time: OnceCell::new(),
            budget_left: Cell::new(usize::MAX),
            memo: [const { Cell::new(0) }; super::memo::SLOTS],
        }
    }

    /// The lazily made parts, made now if not yet.
    fn lazy(&self) -> &Lazy<'r> {
        self.lazy.get_or_init(Box::default)
    }

    /// The stored result of shared sub-condition `slot`, if evaluated.
    fn memo(&self, slot: u8) -> Option<Tri> {
        match self.memo.get(usize::from(slot))?.get() {
            0 => None,
            1 => Some(Tri::True),
            2 => Some(Tri::False),
            b => Field::ALL.iter().find(|f| **f as u8 == b - 3).map(|f| Tri::Blind(*f)),
        }
    }

    fn set_memo(&self, slot: u8, t: Tri) {
        if let Some(c) = self.memo.get(usize::from(slot)) {
            c.set(match t {
                Tri::True => 1,
                Tri::False => 2,
                // Every `Field` fits: there are far fewer than 253.
                Tri::Blind(f) => (f as u8).saturating_add(3),
            });
        }
    }

    /// Start evaluating a rule: its text matchers may scan `budget` bytes
    /// of this event (see [`Matcher::one`] for what is charged).
    pub fn start_rule(&self, budget: usize) {
        self.budget_left.set(budget);
    }

    /// Take `n` bytes from the rule's budget; `false` (and the budget is
    /// spent) if fewer are left.
    fn charge(&self, n: usize) -> bool {
        let left = self.budget_left.get();
        if n > left {
            self.budget_left.set(0);
            return false;
        }
        self.budget_left.set(left - n);
        true
    }

    /// The event's time (`stageTimestamp`, else `requestReceivedTimestamp`).
    pub fn time(&self) -> Option<super::state::Micros> {
        *self.time.get_or_init(|| super::state::event_time(self.ev))
    }

    /// The fields not available on this event.
    pub fn unavailable(&self) -> FieldSet {
        self.unavailable
    }

    /// A body, read once: from its text when `body::check` admits it,
    /// else as a DOM; `None` when the event has no such body.
    fn doc(&self, b: Body) -> Option<&Doc<'r>> {
        let (cell, raw) = match b {
            Body::Request => (&self.lazy().req, &self.ev.request_object),
            Body::Response => (&self.lazy().resp, &self.ev.response_object),
        };
        cell.get_or_init(|| {
            let text = raw.as_ref()?.get();
            Some(match body::check(text) {
                Some(t) => Doc::Raw(t),
                None => serde_json::from_str(text).map_or(Doc::Unreadable, Doc::Dom),
            })
        })
        .as_ref()
    }

    /// A readable body.
    fn body(&self, b: Body) -> Option<Obj<'_>> {
        match self.doc(b)? {
            Doc::Raw(t) => Some(Obj::Raw(t.root())),
            Doc::Dom(v) => Some(Obj::Dom(v)),
            Doc::Unreadable => None,
        }
    }

    /// The compact JSON text (sorted keys) of an object or array read from
    /// this view; a whole body's text is made once and kept.
    pub(crate) fn json_text<'c>(&'c self, v: &'c Value) -> Cow<'c, str> {
        for (b, cell) in [(Body::Request, &self.lazy().req_text), (Body::Response, &self.lazy().resp_text)] {
            if matches!(self.body(b), Some(Obj::Dom(root)) if std::ptr::eq(root, v)) {
                return Cow::Borrowed(cell.get_or_init(|| v.to_string()));
            }
        }
        Cow::Owned(v.to_string())
    }

    /// [`View::json_text`] of a value read from a body's text.
    pub(crate) fn raw_text<'c>(&'c self, v: Raw<'c>) -> Cow<'c, str> {
        for (b, cell) in [(Body::Request, &self.lazy().req_text), (Body::Response, &self.lazy().resp_text)] {
            if matches!(self.body(b), Some(Obj::Raw(root)) if root.same(v)) {
                return Cow::Borrowed(cell.get_or_init(|| v.canonical()));
            }
        }
        Cow::Owned(v.canonical())
    }

    /// The canonical length of `v`'s text when none of `pieces` can occur
    /// in it (see `body::Shadow`), without building the text; `None` when
    /// one may, or the length is not known.
    fn ruled_out(&self, v: Raw<'_>, pieces: &Pieces) -> Option<usize> {
        // A piece may be spelled escaped in the raw text (`\u0041`, `\/`):
        // the shadow holds every escaped string's canonical spelling,
        // searched below.
        if pieces.any_in(v.text().as_bytes()) {
            return None;
        }
        let fresh;
        let mut shadow = None;
        let mut root = false;
        for (b, cell) in [(Body::Request, &self.lazy().req_shadow), (Body::Response, &self.lazy().resp_shadow)] {
            if matches!(self.body(b), Some(Obj::Raw(r)) if r.same(v)) {
                shadow = cell.get_or_init(|| v.shadow()).as_ref();
                root = true;
                break;
            }
        }
        if !root {
            fresh = v.shadow();
            shadow = fresh.as_ref();
        }
        let sh = shadow?;
        if !sh.escaped.is_empty() && pieces.any_in(sh.escaped.as_bytes()) {
            return None;
        }
        Some(sh.len)
    }

    /// The text of an object or array value, if `v` is one.
    pub(crate) fn container_text<'c>(&'c self, v: &Val<'c>) -> Option<Cow<'c, str>> {
        match v {
            Val::Json(j) => Some(self.json_text(j)),
            Val::Raw(r) => Some(self.raw_text(*r)),
            _ => None,
        }
    }

    /// A body that is in the event but cannot be read as a JSON value
    /// (numbers beyond the range of f64, say): rules reading it are blind,
    /// never silently false.
    fn unreadable(&self, b: Body) -> Option<Field> {
        let (raw, f) = match b {
            Body::Request => (&self.ev.request_object, Field::RequestObject),
            Body::Response => (&self.ev.response_object, Field::ResponseObject),
        };
        (raw.is_some() && matches!(self.doc(b), Some(Doc::Unreadable))).then_some(f)
    }

    /// The body a pod-spec or RBAC summary reads: for `patch` the request
    /// is only the patch document, so the resulting object (response) is used.
    fn object_body(&self) -> Result<Option<Obj<'_>>, Field> {
        let (b, f) = if self.ev.verb.as_deref() == Some("patch") {
            (Body::Response, Field::ResponseObject)
        } else {
            (Body::Request, Field::RequestObject)
        };
        let v = self.body(b);
        if v.is_none() && (self.unavailable.contains(f) || self.unreadable(b).is_some()) {
            return Err(f);
        }
        Ok(v)
    }

    fn pod(&self) -> Result<Option<&PodSummary>, Field> {
        if let Some(p) = self.lazy().pod.get() {
            return Ok(p.as_ref());
        }
        let obj = self.object_body()?;
        let res = self.ev.resource().unwrap_or("");
        let summary = obj.and_then(|o| match o {
            Obj::Raw(r) => derive::pod_spec(res, r).map(derive::summarize_pod),
            Obj::Dom(v) => derive::pod_spec(res, v).map(derive::summarize_pod),
        });
        Ok(self.lazy().pod.get_or_init(|| summary).as_ref())
    }

    fn rbac(&self) -> Result<Option<&RbacSummary>, Field> {
        if let Some(r) = self.lazy().rbac.get() {
            return Ok(r.as_ref());
        }
        let is_rbac = self.ev.resource().is_some_and(|r| derive::RBAC_RESOURCES.contains(&r));
        let summary = if is_rbac {
            self.object_body()?.map(|o| match o {
                Obj::Raw(r) => derive::summarize_rbac(r),
                Obj::Dom(v) => derive::summarize_rbac(v),
            })
        } else {
            None
        };
        Ok(self.lazy().rbac.get_or_init(|| summary).as_ref())
    }

    pub(crate) fn is_exec(&self) -> bool {
        self.ev.resource() == Some("pods")
            && matches!(self.ev.subresource(), Some("exec" | "attach"))
            && matches!(self.ev.verb.as_deref(), Some("create" | "get"))
    }

    /// Whether annotation `key` may be present with one of `values` (with
    /// any value when `values` is `None`), judged from the annotations' text
    /// without reading them into a map. `false` only when that is certain:
    /// annotations are available, the text holds no escape that could spell
    /// the key or a value (`\u`, or `\/` for a `/`), and the key, or else
    /// every one of the values, does not occur in it verbatim. Reading the
    /// annotation then gives absent, or a value not among `values`.
    pub(crate) fn annotation_may_be(&self, key: &Literal, values: Option<&[Literal]>) -> bool {
        if self.lazy.get().is_some_and(|l| l.annotations.get().is_some())
            || self.unavailable.contains(Field::Annotations)
        {
            return true;
        }
        let Some(raw) = self.ev.annotations.as_ref() else { return true };
        let text = raw.get().as_bytes();
        let (u, slash) = *self.lazy().annotation_escapes.get_or_init(|| {
            // A backslash followed by `u`, or by `/`, wherever it is (the
            // second of a `\\` too: `true` is always a safe answer). Where
            // there is a `\u` every literal counts as hidden, so `\/` is
            // not looked for.
            let (esc_u, esc_slash) = &*ESCAPES;
            let u = esc_u.find(text).is_some();
            (u, !u && esc_slash.find(text).is_some())
        });
        let hidden = |l: &Literal| l.escaped || u || (slash && l.slash);
        if hidden(key) {
            return true;
        }
        // The values first: they are usually the rarer texts (`forbid`
        // where the key is on every event), so the key is seldom searched.
        if let Some(vs) = values {
            if !vs.iter().any(|v| hidden(v) || v.finder.find(text).is_some()) {
                return false;
            }
        }
        key.finder.find(text).is_some()
    }

    /// A scalar field's text for the index, read straight from the event
    /// without a [`Got`]: `Some(Some(text))` as [`View::get`] would give it
    /// (`Got::One`; numbers as [`Val::with_text`] spells them, in `buf`),
    /// `Some(None)` when it is absent — blind, as in [`View::get`], when
    /// one of its [`FieldRef::needs`] is unavailable, which the caller
    /// checks — and `None` for any other field (read it with
    /// [`View::get`]). Never for `requestURI`, or `exec.command` of an
    /// exec, which [`View::get`] may call blind although present.
    pub(crate) fn scalar_text<'c>(&'c self, f: &FieldRef, buf: &'c mut [u8; 24]) -> Option<Option<&'c str>> {
        match f {
            // `Val::Num(c as f64)`, which `with_text` spells as the integer
            // below 1e15 (exact there); any other code takes `View::get`.
            FieldRef::Code => match self.ev.code() {
                Some(c) if c.unsigned_abs() < 1_000_000_000_000_000 => Some(Some(int_str(c, buf))),
                Some(_) => None,
                None => Some(None),
            },
            _ => self.scalar_str(f),
        }
    }

    /// [`View::scalar_text`] of the fields [`View::get`] reads as one
    /// string (`Got::One(Val::Str)`): all of them but the code.
    fn scalar_str(&self, f: &FieldRef) -> Option<Option<&str>> {
        use FieldRef as F;
        let ev = self.ev;
        let oref = ev.object_ref.as_ref();
        Some(match f {
            F::Verb => ev.verb.as_deref(),
            F::UserName => ev.username(),
            F::ImpUserName => ev.impersonated_user.as_ref().and_then(|u| u.username.as_deref()),
            F::ObjResource => oref.and_then(|o| o.resource.as_deref()),
            F::ObjSubresource => oref.and_then(|o| o.subresource.as_deref()),
            F::ObjNamespace => oref.and_then(|o| o.namespace.as_deref()),
            F::ObjName => oref.and_then(|o| o.name.as_deref()),
            F::ObjApiGroup => oref.and_then(|o| o.api_group.as_deref()),
            F::Outcome => Some(ev.outcome.id()),
            F::Derived(Derived::ActorKind) => self.actor_kind(),
            F::Derived(Derived::ActorSaNamespace) => ev.username().and_then(derive::service_account).map(|(ns, _)| ns),
            F::Derived(Derived::ActorSaName) => ev.username().and_then(derive::service_account).map(|(_, n)| n),
            // Absent but for exec/attach (then `View::get` decides).
            F::Derived(Derived::ExecCommand) if !self.is_exec() => None,
            _ => return None,
        })
    }

    /// The list fields [`View::get`] reads as strings (`Got::Strs`), read
    /// straight from the event: the strings (`Some(None)` where absent or
    /// empty); `None` for any other field.
    fn list_strs(&self, f: &FieldRef) -> Option<Option<&[crate::json::Str<'e>]>> {
        use FieldRef as F;
        let ev = self.ev;
        let list = match f {
            F::SourceIps => ev.source_ips.as_ref(),
            F::UserGroups => ev.user.as_ref().and_then(|u| u.groups.as_ref()),
            F::ImpUserGroups => ev.impersonated_user.as_ref().and_then(|u| u.groups.as_ref()),
            _ => return None,
        };
        Some(list.map(Vec::as_slice).filter(|xs| !xs.is_empty()))
    }

    /// A scalar field [`View::scalar_text`] found absent: blind on the first
    /// of its needs that is unavailable (as [`View::get`]), else false.
    fn absent(&self, f: &FieldRef) -> Tri {
        match f.needs().first_common(self.unavailable) {
            Some(m) => Tri::Blind(m),
            None => Tri::False,
        }
    }

    /// `actor.kind`, computed once.
    pub(crate) fn actor_kind(&self) -> Option<&'static str> {
        *self.actor_kind.get_or_init(|| {
            let groups = self.ev.user.as_ref().and_then(|u| u.groups.as_deref());
            self.ev.username().map(|u| derive::actor_kind(u, groups))
        })
    }

    /// Read a field.
    pub fn get<'c>(&'c self, f: &FieldRef) -> Got<'c> {
        // Blind only if the field is unavailable *and* absent: a value that
        // is present is used (GKE's rebuilt path still serves requestURI.path).
        let got = self.read(f);
        if matches!(got, Got::Absent) || matches!(f, FieldRef::RequestUri | FieldRef::Derived(Derived::ExecCommand)) {
            if let Some(missing) = f.needs().first_common(self.unavailable) {
                // requestURI without its query cannot answer questions on the query.
                return Got::Blind(missing);
            }
        }
        got
    }

    fn read<'c>(&'c self, f: &FieldRef) -> Got<'c> {
        use FieldRef as F;
        let ev = self.ev;
        let s = |v: &'c Option<crate::json::Str<'e>>| match v {
            Some(x) => Got::One(Val::Str(Cow::Borrowed(x.as_str()))),
            None => Got::Absent,
        };
        let owned = |v: &'c [String]| if v.is_empty() { Got::Absent } else { Got::Owned(v) };
        let oref = ev.object_ref.as_ref();
        match f {
            F::Kind => match &ev.kind {
                Some(k) => Got::One(Val::Str(Cow::Borrowed(k.as_str()))),
                None => Got::One(Val::Str(Cow::Borrowed("Event"))),
            },
            F::ApiVersion => s(&ev.api_version),
            F::Level => s(&ev.level),
            F::AuditId => s(&ev.audit_id),
            F::Stage => s(&ev.stage),
            F::RequestUri => s(&ev.request_uri),
            F::RequestUriPath => match &ev.request_uri {
                Some(u) => Got::One(Val::Str(Cow::Borrowed(u.split('?').next().unwrap_or("")))),
                None => Got::Absent,
            },
            F::Verb => s(&ev.verb),
            F::UserName => match ev.user.as_ref() {
                Some(u) => s(&u.username),
                None => Got::Absent,
            },
            F::UserUid => match ev.user.as_ref() {
                Some(u) => s(&u.uid),
                None => Got::Absent,
            },
            // The list fields, as `list_strs` reads them.
            F::UserGroups | F::ImpUserGroups | F::SourceIps => match self.list_strs(f) {
                Some(Some(xs)) => Got::Strs(xs),
                _ => Got::Absent,
            },
            F::UserExtra(k) => {
                let extra = self.lazy().extra.get_or_init(|| {
                    let raw = ev.user.as_ref().and_then(|u| u.extra.as_ref());
                    let map: Option<std::collections::BTreeMap<String, Vec<String>>> =
                        raw.and_then(|x| serde_json::from_str(x.get()).ok());
                    map.map(|m| m.into_iter().collect()).unwrap_or_default()
                });
                match extra.iter().find(|(key, _)| key == k) {
                    Some((_, v)) if !v.is_empty() => Got::Owned(v),
                    _ => Got::Absent,
                }
            }
            F::ImpUserName => match ev.impersonated_user.as_ref() {
                Some(u) => s(&u.username),
                None => Got::Absent,
            },
            F::SourceIp => match ev.source_ips.as_ref().and_then(|v| v.first()) {
                Some(ip) => Got::One(Val::Str(Cow::Borrowed(ip.as_str()))),
                None => Got::Absent,
            },
            F::UserAgent => s(&ev.user_agent),
            F::ObjResource => oref.map_or(Got::Absent, |o| s(&o.resource)),
            F::ObjSubresource => oref.map_or(Got::Absent, |o| s(&o.subresource)),
            F::ObjNamespace => oref.map_or(Got::Absent, |o| s(&o.namespace)),
            F::ObjName => oref.map_or(Got::Absent, |o| s(&o.name)),
            F::ObjUid => oref.map_or(Got::Absent, |o| s(&o.uid)),
            F::ObjApiGroup => oref.map_or(Got::Absent, |o| s(&o.api_group)),
            F::ObjApiVersion => oref.map_or(Got::Absent, |o| s(&o.api_version)),
            F::Code => match ev.code() {
                Some(c) => Got::One(Val::Num(c as f64)),
                None => Got::Absent,
            },
            F::StatusReason => ev.response_status.as_ref().map_or(Got::Absent, |r| s(&r.reason)),
            F::StatusMessage => ev.response_status.as_ref().map_or(Got::Absent, |r| s(&r.message)),
            F::RequestReceivedTimestamp => s(&ev.request_received_timestamp),
            F::StageTimestamp => s(&ev.stage_timestamp),
            F::Annotation(k) => {
                let list = self
                    .lazy()
                    .annotations
                    .get_or_init(|| ev.annotations.as_ref().map_or_else(Vec::new, |a| parse_string_map(a.get())));
                match list.iter().find(|(key, _)| key.as_str() == k.as_str()) {
                    Some((_, v)) => Got::One(Val::Str(v.text())),
                    None => Got::Absent,
                }
            }
            F::Body(b, steps) => match self.body(*b) {
                Some(Obj::Raw(r)) => walk(r, steps),
                Some(Obj::Dom(v)) => walk(v, steps),
                None => match self.unreadable(*b) {
                    Some(f) => Got::Blind(f),
                    None => Got::Absent,
                },
            },
            F::Source => Got::One(Val::Str(Cow::Borrowed(ev.source_id()))),
            F::Provider => Got::One(Val::Str(Cow::Borrowed(ev.cluster.provider.id()))),
            F::ClusterName => s(&ev.cluster.name),
            F::ClusterAccount => s(&ev.cluster.account),
            F::Outcome => Got::One(Val::Str(Cow::Borrowed(ev.outcome.id()))),
            F::Derived(d) => self.derived(*d, &owned),
        }
    }

    fn derived<'c>(&'c self, d: Derived, owned: &dyn Fn(&'c [String]) -> Got<'c>) -> Got<'c> {
        let ev = self.ev;
        match d {
            Derived::ActorKind => {
                // No user name: absent here, and blind (via `needs`) where the
                // source lost it (a GKE entry without principalEmail may be
                // anonymous, but that is not certain).
                match self.actor_kind() {
                    Some(k) => Got::One(Val::Str(Cow::Borrowed(k))),
                    None => Got::Absent,
                }
            }
            Derived::ActorSaNamespace | Derived::ActorSaName => match ev.username().and_then(derive::service_account) {
                Some((ns, n)) => Got::One(Val::Str(Cow::Borrowed(if d == Derived::ActorSaNamespace { ns } else { n }))),
                None => Got::Absent,
            },
            Derived::Exec => Got::One(Val::Bool(self.is_exec())),
            Derived::ExecCommand => {
                if !self.is_exec() {
                    return Got::Absent;
                }
                let cmd = self.lazy().exec_cmd.get_or_init(|| {
                    let argv = derive::query_values(ev.request_uri.as_deref()?, "command");
                    (!argv.is_empty()).then(|| argv.join(" "))
                });
                match cmd {
                    Some(c) => Got::One(Val::Str(Cow::Borrowed(c))),
                    None => Got::Absent,
                }
            }
            Derived::ExecContainer => {
                if !self.is_exec() {
                    return Got::Absent;
                }
                match ev.request_uri.as_deref().map(|u| derive::query_values(u, "container")) {
                    Some(v) if !v.is_empty() => Got::One(Val::Str(Cow::Owned(v.join(" ")))),
                    _ => Got::Absent,
                }
            }
            Derived::PodSpec(p) => match self.pod() {
                Err(f) => Got::Blind(f),
                Ok(None) => {
                    if p == PodField::Present {
                        Got::One(Val::Bool(false))
                    } else {
                        Got::Absent
                    }
                }
                Ok(Some(s)) => match p {
                    PodField::Present => Got::One(Val::Bool(true)),
                    PodField::Privileged => Got::One(Val::Bool(s.privileged)),
                    PodField::AllowPrivilegeEscalation => Got::One(Val::Bool(s.allow_privilege_escalation)),
                    PodField::HostPid => Got::One(Val::Bool(s.host_pid)),
                    PodField::HostIpc => Got::One(Val::Bool(s.host_ipc)),
                    PodField::HostNetwork => Got::One(Val::Bool(s.host_network)),
                    PodField::RunsAsRoot => Got::One(Val::Bool(s.runs_as_root)),
                    PodField::HostPaths => owned(&s.host_paths),
                    PodField::HostPorts => owned(&s.host_ports),
                    PodField::CapsAdded => owned(&s.caps_added),
                    PodField::Images => owned(&s.images),
                    PodField::ContainerNames => owned(&s.container_names),
                    PodField::ServiceAccount => match &s.service_account {
                        Some(a) => Got::One(Val::Str(Cow::Borrowed(a))),
                        None => Got::Absent,
                    },
                },
            },
            Derived::Rbac(r) => match self.rbac() {
                Err(f) => Got::Blind(f),
                Ok(None) => Got::Absent,
                Ok(Some(s)) => match r {
                    RbacField::Verbs => owned(&s.verbs),
                    RbacField::Resources => owned(&s.resources),
                    RbacField::ApiGroups => owned(&s.api_groups),
                    RbacField::SubjectKinds => owned(&s.subject_kinds),
                    RbacField::SubjectNames => owned(&s.subject_names),
                    RbacField::RoleRefName => match &s.role_ref_name {
                        Some(a) => Got::One(Val::Str(Cow::Borrowed(a))),
                        None => Got::Absent,
                    },
                    RbacField::RoleRefKind => match &s.role_ref_kind {
                        Some(a) => Got::One(Val::Str(Cow::Borrowed(a))),
                        None => Got::Absent,
                    },
                },
            },
        }
    }
}

/// A value of a string map: read in place, or kept escaped (and validated)
/// until a rule reads it, so values no rule reads are never unescaped.
#[derive(Clone, Debug, PartialEq)]
enum MapVal<'a> {
    Str(crate::json::Str<'a>),
    /// A string with escapes, quotes included; it holds no surrogate escape.
    Escaped(&'a str),
}

impl<'a> MapVal<'a> {
    fn text(&self) -> Cow<'a, str> {
        match self {
            MapVal::Str(s) => s.0.clone(),
            // Validated by the cursor when the map was read, without
            // surrogates: unescaping cannot fail.
            MapVal::Escaped(q) => crate::json::cursor::Cursor::within(q).str().map_or(Cow::Borrowed(""), |s| s.0),
        }
    }
}

/// A `map[string]string` (annotations) as key/value pairs, borrowing from
/// the text where no escapes forced a copy. Non-string values are skipped.
fn parse_string_map(text: &str) -> Vec<(crate::json::Str<'_>, MapVal<'_>)> {
    fast_string_map(text)
        .unwrap_or_else(|| slow_string_map(text).into_iter().map(|(k, v)| (k, MapVal::Str(v))).collect())
}

/// [`parse_string_map`] with the validating cursor; `None` when the text
/// is anything but a plain object of well-formed members (the serde path
/// then decides, as before).
fn fast_string_map(text: &str) -> Option<Vec<(crate::json::Str<'_>, MapVal<'_>)>> {
    let mut c = crate::json::cursor::Cursor::new(text)?;
    c.ws();
    let mut out = Vec::new();
    if c.open(b'{', b'}')? {
        loop {
            let k = c.str()?;
            c.ws();
            if !c.eat(b':') {
                return None;
            }
            c.ws();
            if c.peek()? == b'"' {
                let start = c.i;
                let (s, e, escaped) = c.string()?;
                let v = if escaped {
                    MapVal::Escaped(text.get(start..c.i)?)
                } else {
                    MapVal::Str(crate::json::Str(Cow::Borrowed(text.get(s..e)?)))
                };
                out.push((k, v));
            } else {
                c.skip()?;
            }
            if !c.next(b'}')? {
                break;
            }
        }
    }
    c.ws();
    // A surrogate escape may be a lone one, which serde_json refuses: its
    // path decides.
    (c.at_end() && !c.surrogates).then_some(out)
}

fn slow_string_map(text: &str) -> Vec<(crate::json::Str<'_>, crate::json::Str<'_>)> {
    let Ok(m) = serde_json::from_str::<crate::json::Members<'_>>(text) else { return Vec::new() };
    m.0.into_iter()
        .filter_map(|(k, v)| serde_json::from_str::<crate::json::Str<'_>>(v.get()).ok().map(|v| (k, v)))
        .collect()
}

/// A body as read: from its text, or as a DOM where `body::check`
/// declined the text; `Unreadable` where serde_json refused it too.
enum Doc<'r> {
    Raw(Tape<'r>),
    Dom(Value),
    Unreadable,
}

/// A readable body, either way.
#[derive(Clone, Copy)]
enum Obj<'c> {
    Raw(Raw<'c>),
    Dom(&'c Value),
}

/// A JSON value as a comparison reads it.
trait Leaf<'c>: Node<'c> {
    /// `None` for `null`.
    fn leaf(self) -> Option<Val<'c>>;
}

impl<'c> Leaf<'c> for &'c Value {
    fn leaf(self) -> Option<Val<'c>> {
        Some(match self {
            Value::String(s) => Val::Str(Cow::Borrowed(s)),
            Value::Number(n) => Val::Num(n.as_f64()?),
            Value::Bool(b) => Val::Bool(*b),
            Value::Null => return None,
            other => Val::Json(other),
        })
    }
}

impl<'c> Leaf<'c> for Raw<'c> {
    fn leaf(self) -> Option<Val<'c>> {
        if self.is_container() {
            return Some(Val::Raw(self));
        }
        if self.is_null() {
            return None;
        }
        if let Some(s) = self.as_str() {
            return Some(Val::Str(s));
        }
        if let Some(b) = self.as_bool() {
            return Some(Val::Bool(b));
        }
        self.as_f64().map(Val::Num)
    }
}

fn walk<'c, N: Leaf<'c>>(v: N, steps: &[Step]) -> Got<'c> {
    let mut cur: Vec<N> = vec![v];
    let mut fanned = false;
    for st in steps {
        let mut next = Vec::new();
        for c in cur {
            match st {
                Step::Key(k) => {
                    if let Some(x) = c.get(k.as_str()) {
                        next.push(x);
                    }
                }
                Step::Each => {
                    fanned = true;
                    c.each(|x| next.push(x));
                }
            }
        }
        cur = next;
    }
    // A path that ends on an array reads its elements (Falco-style), so
    // `spec.usages intersects (…)` works without writing `usages[]`.
    let mut flat: Vec<N> = Vec::with_capacity(cur.len());
    for c in cur {
        if c.each(|x| flat.push(x)) {
            fanned = true;
        } else {
            flat.push(c);
        }
    }
    let vals: Vec<Val<'c>> = flat.into_iter().filter_map(N::leaf).collect();
    match (vals.len(), fanned) {
        (0, _) => Got::Absent,
        (1, false) => Got::One(vals.into_iter().next().unwrap_or(Val::Bool(false))),
        _ => Got::Many(vals),
    }
}

#[cfg(test)]
mod walk_tests {
    use super::*;

    /// A read as text, so that a DOM object and the same object read from
    /// the body's text compare equal.
    fn texts(g: Got<'_>) -> (String, Vec<String>) {
        match g {
            Got::One(v) => ("one".into(), vec![v.text().into_owned()]),
            Got::Many(vs) => ("many".into(), vs.iter().map(|v| v.text().into_owned()).collect()),
            other => (format!("{other:?}"), Vec::new()),
        }
    }

    #[test]
    fn body_paths_read_from_text_agree_with_the_dom() {
        let bodies = [
            r#"{"spec":{"containers":[{"name":"a","ports":[{"hostPort":80},{"hostPort":null}],"args":["x",["y"],{"z":1}]},{"name":"b"}],
               "usages":["client auth","digital signature"],"n":-3,"t":true,"e":"\u0041\n","o":{"b":1,"a":[]}},
               "spec":{"containers":[{"name":"dup"}],"usages":"one","n":7},"x":[[1,2],[3]],"m":{"l/k.e":"v"}}"#,
            r#"[{"op":"add","path":"/spec/type","value":"NodePort"},{"op":"remove","path":"/x"},{"value":{"k":["v"]}}]"#,
        ];
        let paths = [
            "requestObject",
            "requestObject.spec",
            "requestObject.spec.containers",
            "requestObject.spec.containers[].name",
            "requestObject.spec.containers[].ports[].hostPort",
            "requestObject.spec.containers[].args",
            "requestObject.spec.usages",
            "requestObject.spec.usages[]",
            "requestObject.spec.n",
            "requestObject.spec.t",
            "requestObject.spec.e",
            "requestObject.spec.o",
            "requestObject.x",
            "requestObject.x[]",
            "requestObject.m[l/k.e]",
            "requestObject.[].op",
            "requestObject.[].value",
            "requestObject.[].value.k",
            "requestObject.no.such",
        ];
        for b in bodies {
            let b = b.replace('\n', " ");
            let dom: Value = serde_json::from_str(&b).unwrap();
            let tape = body::check(&b).expect("admitted");
            for p in paths {
                let Some(FieldRef::Body(_, steps)) = super::super::fields::resolve(p) else { panic!("{p}") };
                assert_eq!(texts(walk(tape.root(), &steps)), texts(walk(&dom, &steps)), "{p} on {b}");
            }
        }
    }
}

#[cfg(test)]
mod hash_tests {
    use std::hash::{BuildHasher, BuildHasherDefault};

    use super::*;

    #[test]
    fn fast_hash_tells_apart_lengths_and_every_byte() {
        let b = BuildHasherDefault::<FastHash>::default();
        let words = [
            "",
            "a",
            "a\0",
            "\0",
            "abcdefgh",
            "abcdefgh\0",
            "abcdefgi",
            "bbcdefgh",
            "system:node:n1",
            "system:node:n2",
        ];
        let hashes: HashSet<u64> = words.iter().map(|w| b.hash_one(w)).collect();
        assert_eq!(hashes.len(), words.len());
        let set: FastSet = words.iter().map(|w| w.to_string()).collect();
        assert!(words.iter().all(|w| set.contains(*w)) && !set.contains("system:node:n3"));
    }

    #[test]
    fn short_eq_is_string_equality() {
        let base: String = (0..20u8).map(|i| char::from(b'a' + i)).collect();
        for len in 0..=20 {
            let a = &base[..len];
            assert!(short_eq(a, a), "{a}");
            assert!(!short_eq(a, &base[..len.saturating_sub(1)]) || len == 0);
            for i in 0..len {
                let mut b = a.as_bytes().to_vec();
                b[i] ^= 0x20;
                let b = String::from_utf8(b).expect("ascii");
                assert!(!short_eq(a, &b), "{a} vs {b}");
            }
        }
        assert!(short_eq("", "") && !short_eq("get", "gets") && short_eq("é", "é") && !short_eq("é", "è"));
    }

    #[test]
    fn fast_hash_reads_every_byte_of_the_tail() {
        // The tail word is read in overlapping pieces: changing any one
        // byte of any length up to two words changes the hash.
        let b = BuildHasherDefault::<FastHash>::default();
        for len in 1..=16usize {
            let base: Vec<u8> = (0..len).map(|i| b'a' + i as u8).collect();
            let h = b.hash_one(&base[..]);
            for i in 0..len {
                let mut v = base.clone();
                v[i] ^= 0x20;
                assert_ne!(b.hash_one(&v[..]), h, "length {len}, byte {i}");
            }
        }
    }
}

#[cfg(test)]
mod string_map_tests {
    use super::*;

    #[test]
    fn fast_string_map_agrees_with_serde() {
        for t in [
            r#"{"authorization.k8s.io/decision":"allow","authorization.k8s.io/reason":"RBAC: allowed by \"x\" \u0026 y"}"#,
            r#"{}"#,
            r#" { "a" : "1" , "n" : 2, "o": {"x": ["y"]}, "a": "dup", "e\u0041": "\ud83d\ude00" } "#,
            r#"{"lone":"\ud800","b":"c"}"#,
            r#"{"k":"a\"b\\c\/\n\u00e9","k":"second","\u006b":"escaped key"}"#,
            r#"{"a":"b",}"#,
            r#"["a","b"]"#,
            "{\"a\":\n\"b\"}",
        ] {
            let fast: Vec<(String, String)> =
                parse_string_map(t).into_iter().map(|(k, v)| (k.as_str().to_owned(), v.text().into_owned())).collect();
            let slow: Vec<(String, String)> =
                slow_string_map(t).into_iter().map(|(k, v)| (k.as_str().to_owned(), v.as_str().to_owned())).collect();
            assert_eq!(fast, slow, "{t}");
        }
        assert!(fast_string_map(r#"{"a":"b","c":1}"#).is_some());
        // Escaped values stay escaped until read.
        let m = fast_string_map(r#"{"a":"x\"y","b":"z"}"#).unwrap();
        assert!(matches!(m[0].1, MapVal::Escaped(_)) && matches!(m[1].1, MapVal::Str(_)));
        assert_eq!(m[0].1.text(), "x\"y");
    }
}

/// A fast, fixed hasher for strings that takes eight bytes per step
/// (multiply-rotate, as rustc's FxHasher). The sets and maps it serves are
/// built from trusted rule text and only looked up with field values, which
/// cannot add entries: no DoS concern.
#[derive(Default, Clone, Copy)]
pub struct FastHash(u64);

const FAST_HASH_K: u64 = 0xf135_7aea_2e62_a9c5;

impl FastHash {
    #[inline]
    fn add(&mut self, word: u64) {
        self.0 = (self.0 ^ word).wrapping_mul(FAST_HASH_K).rotate_left(26);
    }
}

impl std::hash::Hasher for FastHash {
    fn finish(&self) -> u64 {
        // Spread the high bits (where the multiplications put the entropy)
        // down to the bucket bits.
        self.0 ^ (self.0 >> 32)
    }
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.add(u64::from_le_bytes(w));
        }
        // The tail in one word, read in place (two overlapping 4-byte
        // reads, or three bytes, which together cover it): building it in
        // a zeroed buffer costs a copy the load then waits on.
        let tail = chunks.remainder();
        let n = tail.len();
        let w = match (tail.first_chunk::<4>(), tail.last_chunk::<4>()) {
            (Some(lo), Some(hi)) => u64::from(u32::from_le_bytes(*lo)) | u64::from(u32::from_le_bytes(*hi)) << 32,
            _ => match (tail.first(), tail.get(n / 2), tail.last()) {
                (Some(&a), Some(&b), Some(&c)) => u64::from(a) | u64::from(b) << 8 | u64::from(c) << 16,
                _ => 0,
            },
        };
        // The length keeps "a" and "a\0" apart.
        self.add(w ^ ((bytes.len() as u64) << 56));
    }
}

/// `a == b`, without a call to `memcmp` for texts of up to 16 bytes (the
/// values rules compare most: verbs, resources, outcomes, names): two
/// overlapping reads from each end cover them. The call costs more than
/// the compare on such texts.
#[inline(always)]
pub fn short_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    if a.len() > 16 {
        return a == b;
    }
    if let (Some(x), Some(y), Some(xe), Some(ye)) =
        (a.first_chunk::<8>(), b.first_chunk::<8>(), a.last_chunk::<8>(), b.last_chunk::<8>())
    {
        return u64::from_ne_bytes(*x) == u64::from_ne_bytes(*y) && u64::from_ne_bytes(*xe) == u64::from_ne_bytes(*ye);
    }
    if let (Some(x), Some(y), Some(xe), Some(ye)) =
        (a.first_chunk::<4>(), b.first_chunk::<4>(), a.last_chunk::<4>(), b.last_chunk::<4>())
    {
        return u32::from_ne_bytes(*x) == u32::from_ne_bytes(*y) && u32::from_ne_bytes(*xe) == u32::from_ne_bytes(*ye);
    }
    // Fewer than four bytes.
    a.iter().zip(b).all(|(x, y)| x == y)
}

/// A hash set of strings with the fast hasher.
pub type FastSet = HashSet<String, std::hash::BuildHasherDefault<FastHash>>;

/// A compiled right-hand side.
#[derive(Clone, Debug)]
pub enum Matcher {
    /// `=`/`!=` against one value (numeric when both sides are numbers).
    Eq(String, Option<f64>),
    /// `in`/`intersects` against a few values: a linear scan beats hashing.
    Small(Vec<String>),
    /// `in`/`intersects` against a set.
    Set(FastSet),
    /// Numeric comparison.
    Cmp(Op, f64),
    /// Substring needles (`contains`; `icontains` lowercases both sides).
    /// The automaton and the regex are boxed: they are large and rarely
    /// read, and every condition node is as large as its largest matcher
    /// (a rule's nodes are read one after another on every candidate
    /// event, so the fewer cache lines they span the better).
    Contains(Vec<String>, Box<Needles>, bool),
    StartsWith(Vec<String>),
    EndsWith(Vec<String>),
    Regex(Box<TextRegex>),
    /// `cidr`: an IP address inside one of the blocks.
    Cidr(Box<Cidrs>),
}

impl Matcher {
    /// The literal pieces that rule this matcher out on a body's text
    /// (`pieces.rs`): for `contains` and `regex`/`glob` only.
    fn pieces(&self) -> Option<&Pieces> {
        match self {
            Matcher::Contains(needles, n, false) => n.pieces(needles),
            Matcher::Regex(r) => r.pieces(),
            _ => None,
        }
    }

    /// Whether `v` matches; `None` when the rule's match budget ran out
    /// first. Charged to the budget: the length of the text a `contains`,
    /// `icontains`, `glob` or `regex` scans, and the length of the JSON text
    /// of an object or array a comparison reads (it is serialised first, and
    /// serialisation stops at the budget). Other comparisons stop within the
    /// length of the rule's own value (equality, prefixes, suffixes) or hash
    /// the value once (sets), and are not charged.
    fn one(&self, v: &Val<'_>, view: &View<'_, '_>) -> Option<bool> {
        // An object or array: its text (a whole body's is made once per
        // event, `json_text`), charged, then matched as a string.
        let t = match v {
            Val::Raw(r) => {
                if let Some(len) = self.pieces().and_then(|p| view.ruled_out(*r, p)) {
                    // No match is possible; the budget is charged as if the
                    // text had been made and scanned (`Contains`, `Regex`),
                    // so that `blind (match budget)` answers agree.
                    return if view.charge(len) && view.charge(len) { Some(false) } else { None };
                }
                Some(view.raw_text(*r))
            }
            Val::Json(j) => Some(view.json_text(j)),
            _ => None,
        };
        if let Some(t) = t {
            return if view.charge(t.len()) { self.one(&Val::Str(t), view) } else { None };
        }
        let s = match v {
            Val::Str(s) => return self.one_str(s, view),
            // Integers (response codes) are compared as text without
            // allocating.
            Val::Num(n) if n.fract() == 0.0 && n.abs() < 1e15 => {
                let mut buf = [0u8; 24];
                return self.one_str(int_str(*n as i64, &mut buf), view);
            }
            other => other,
        };
        Some(match self {
            Matcher::Eq(t, n) => match (n, s) {
                (Some(n), Val::Num(x)) => x == n,
                _ => s.text() == t.as_str(),
            },
            Matcher::Cmp(op, n) => s.num().is_some_and(|x| cmp(*op, x, *n)),
            _ => return self.one_str(&s.text(), view),
        })
    }

    /// [`Matcher::one`] on a string value: the path nearly every test takes
    /// (scalar fields, list items), without wrapping the text in a [`Val`].
    fn one_str(&self, t: &str, view: &View<'_, '_>) -> Option<bool> {
        Some(match self {
            // Text first: the number is parsed only when the texts differ.
            Matcher::Eq(s, n) => short_eq(t, s) || n.is_some_and(|n| t.parse::<f64>().ok() == Some(n)),
            Matcher::Small(items) => items.iter().any(|x| short_eq(x, t)),
            Matcher::Set(set) => set.contains(t),
            Matcher::Cmp(op, n) => t.parse::<f64>().ok().is_some_and(|x| cmp(*op, x, *n)),
            Matcher::Contains(needles, n, insensitive) => {
                if !view.charge(t.len()) {
                    return None;
                }
                let lower;
                let hay = if *insensitive {
                    lower = t.to_lowercase();
                    lower.as_str()
                } else {
                    t
                };
                match &n.ac {
                    Some(ac) => ac.is_match(hay),
                    None => needles.iter().any(|n| hay.contains(n.as_str())),
                }
            }
            Matcher::StartsWith(ns) => ns.iter().any(|n| t.starts_with(n.as_str())),
            Matcher::EndsWith(ns) => ns.iter().any(|n| t.ends_with(n.as_str())),
            Matcher::Regex(r) => {
                if !view.charge(t.len()) {
                    return None;
                }
                r.is_match(t)
            }
            // An address is at most 45 characters long: the parse stops
            // within that, uncharged, as equality does.
            Matcher::Cidr(c) => c.contains(t),
        })
    }
}

/// `x OP n` for the ordering operators (false for any other).
fn cmp(op: Op, x: f64, n: f64) -> bool {
    match op {
        Op::Lt => x < n,
        Op::Le => x <= n,
        Op::Gt => x > n,
        Op::Ge => x >= n,
        _ => false,
    }
}

/// `any` (or `all`) of `items` match; `None` when the match budget ran out
/// before the answer was known.
fn quantify<T>(items: impl Iterator<Item = T>, all: bool, mut f: impl FnMut(T) -> Option<bool>) -> Option<bool> {
    let mut over = false;
    for x in items {
        match f(x) {
            // `any` is decided by a match, `all` by a miss.
            Some(b) if b != all => return Some(b),
            Some(_) => {}
            None => over = true,
        }
    }
    if over {
        None
    } else {
        Some(all)
    }
}

/// Decimal text of `n` in `buf`.
pub(crate) fn int_str(n: i64, buf: &mut [u8; 24]) -> &str {
    let mut i = buf.len();
    let neg = n < 0;
    let mut m = n.unsigned_abs();
    loop {
        i -= 1;
        buf[i] = b'0' + (m % 10) as u8;
        m /= 10;
        if m == 0 {
            break;
        }
    }
    if neg {
        i -= 1;
        buf[i] = b'-';
    }
    std::str::from_utf8(&buf[i..]).unwrap_or("")
}

/// A compiled condition.
#[derive(Clone, Debug)]
pub enum Expr {
    And(Vec<Expr>),
    Or(Vec<Expr>),
    Not(Box<Expr>),
    /// `field OP value`; `all` makes a list field match only when every
    /// element matches (`in`); `negate` is `!=`.
    Test {
        field: FieldRef,
        m: Matcher,
        all: bool,
        negate: bool,
    },
    Exists(FieldRef),
    /// A sub-condition shared by several rules, evaluated once per event
    /// (`memo.rs`): its result is kept in the view's slot.
    Memo(u8, Box<Expr>),
}

fn and(a: Tri, b: impl FnOnce() -> Tri) -> Tri {
    match a {
        Tri::False => Tri::False,
        Tri::True => b(),
        Tri::Blind(f) => match b() {
            Tri::False => Tri::False,
            _ => Tri::Blind(f),
        },
    }
}

fn or(a: Tri, b: impl FnOnce() -> Tri) -> Tri {
    match a {
        Tri::True => Tri::True,
        Tri::False => b(),
        Tri::Blind(f) => match b() {
            Tri::True => Tri::True,
            _ => Tri::Blind(f),
        },
    }
}

impl Expr {
    /// Evaluate over a view.
    pub fn eval(&self, v: &View<'_, '_>) -> Tri {
        match self {
            // Kleene `and`/`or`, left to right, stopping at the first
            // deciding operand (`and`/`or` below, without walking the rest).
            // Two loops, not one over both: a shared loop tests the kind per
            // operand, +0.9 M instructions on the detect corpus.
            Expr::And(xs) => {
                let mut acc = Tri::True;
                for x in xs {
                    acc = and(acc, || x.eval(v));
                    if acc == Tri::False {
                        break;
                    }
                }
                acc
            }
            Expr::Or(xs) => {
                let mut acc = Tri::False;
                for x in xs {
                    acc = or(acc, || x.eval(v));
                    if acc == Tri::True {
                        break;
                    }
                }
                acc
            }
            Expr::Not(x) => match x.eval(v) {
                Tri::True => Tri::False,
                Tri::False => Tri::True,
                b => b,
            },
            Expr::Memo(slot, x) => match v.memo(*slot) {
                Some(t) => t,
                None => {
                    let t = x.eval(v);
                    v.set_memo(*slot, t);
                    t
                }
            },
            Expr::Exists(f) => match v.scalar_str(f) {
                Some(Some(_)) => Tri::True,
                Some(None) => v.absent(f),
                None => match v.list_strs(f) {
                    Some(Some(_)) => Tri::True,
                    Some(None) => v.absent(f),
                    None => match v.get(f) {
                        Got::Blind(m) => Tri::Blind(m),
                        Got::Absent => Tri::False,
                        _ => Tri::True,
                    },
                },
            },
            Expr::Test { field, m, all, negate } => {
                let r = match v.scalar_str(field) {
                    Some(Some(s)) => m.one_str(s, v),
                    Some(None) => return v.absent(field),
                    None => match v.list_strs(field) {
                        Some(Some(xs)) => quantify(xs.iter(), *all, |x| m.one_str(x.as_str(), v)),
                        Some(None) => return v.absent(field),
                        None => match v.get(field) {
                            Got::Blind(f) => return Tri::Blind(f),
                            Got::Absent => return Tri::False,
                            Got::One(x) => m.one(&x, v),
                            Got::Many(xs) => quantify(xs.iter(), *all, |x| m.one(x, v)),
                            Got::Strs(xs) => quantify(xs.iter(), *all, |x| m.one_str(x.as_str(), v)),
                            Got::Owned(xs) => quantify(xs.iter(), *all, |x| m.one_str(x.as_str(), v)),
                        },
                    },
                };
                match r {
                    // Over budget: unknown, never silently false.
                    None => Tri::Blind(Field::MatchBudget),
                    Some(r) if r != *negate => Tri::True,
                    Some(_) => Tri::False,
                }
            }
        }
    }

    /// Every field the expression reads.
    pub fn fields<'s>(&'s self, out: &mut Vec<&'s FieldRef>) {
        match self {
            Expr::And(xs) | Expr::Or(xs) => xs.iter().for_each(|x| x.fields(out)),
            Expr::Not(x) | Expr::Memo(_, x) => x.fields(out),
            Expr::Test { field, .. } | Expr::Exists(field) => out.push(field),
        }
    }
}

#[cfg(test)]
mod prefilter_tests;

#[cfg(test)]
mod scalar_tests {
    use super::*;
    use crate::{Decoder, Sink, Unit};

    /// Every scalar field `scalar_text` reads, and some it leaves to `get`.
    fn fields() -> Vec<FieldRef> {
        use FieldRef as F;
        vec![
            F::Verb,
            F::UserName,
            F::ImpUserName,
            F::ObjResource,
            F::ObjSubresource,
            F::ObjNamespace,
            F::ObjName,
            F::ObjApiGroup,
            F::Outcome,
            F::Code,
            F::Derived(Derived::ActorKind),
            F::Derived(Derived::ActorSaNamespace),
            F::Derived(Derived::ActorSaName),
            F::Derived(Derived::ExecCommand),
            F::RequestUri,
            F::UserGroups,
            F::ImpUserGroups,
            F::SourceIps,
            F::Kind,
        ]
    }

    /// What `View::get` answers for a field a fast read found absent, as a
    /// test's truth value: blind, or false.
    fn absent_as_get(want: &Got<'_>, read: &str) -> Tri {
        match want {
            Got::Blind(m) => Tri::Blind(*m),
            Got::Absent => Tri::False,
            other => panic!("get gives {other:?}, {read} absent"),
        }
    }

    /// Checks each event as decoded, and with every field missing.
    struct Check(usize);

    impl Sink for Check {
        fn event(&mut self, ev: &AuditEvent<'_>) {
            let mut blind = ev.clone();
            for f in Field::ALL {
                blind.missing.insert(f);
            }
            // The fields the scalar reads leave to `get`.
            let left_to_get = |f: &FieldRef| {
                matches!(
                    f,
                    FieldRef::Code
                        | FieldRef::RequestUri
                        | FieldRef::UserGroups
                        | FieldRef::ImpUserGroups
                        | FieldRef::SourceIps
                        | FieldRef::Kind
                        | FieldRef::Derived(Derived::ExecCommand)
                )
            };
            // And with no source address, and an empty list of them.
            let (mut no_ips, mut empty_ips) = (ev.clone(), ev.clone());
            no_ips.source_ips = None;
            empty_ips.source_ips = Some(Vec::new());
            // `get` and `list_strs` share their reading of lists: check it
            // against the event itself. An empty list is absent.
            let ips = |e: &AuditEvent<'_>| match View::new(e).get(&FieldRef::SourceIps) {
                Got::Strs(xs) => Some(xs.iter().map(|x| x.as_str().to_owned()).collect::<Vec<_>>()),
                Got::Absent => None,
                other => panic!("sourceIPs read as {other:?}"),
            };
            let given = ev.source_ips.as_ref().map(|v| v.iter().map(|x| x.as_str().to_owned()).collect::<Vec<_>>());
            assert_eq!(ips(ev), given.filter(|v| !v.is_empty()));
            assert_eq!((ips(&no_ips), ips(&empty_ips)), (None, None));
            for e in [ev, &blind, &no_ips, &empty_ips] {
                let view = View::new(e);
                for f in fields() {
                    let want = view.get(&f);
                    let mut buf = [0u8; 24];
                    match view.scalar_text(&f, &mut buf) {
                        Some(Some(t)) => match &want {
                            Got::One(v) => assert_eq!(v.with_text(str::to_owned), t, "{f:?}"),
                            other => panic!("{f:?}: get gives {other:?}, scalar_text {t:?}"),
                        },
                        Some(None) => assert_eq!(view.absent(&f), absent_as_get(&want, "scalar_text"), "{f:?}"),
                        None => assert!(left_to_get(&f), "{f:?}"),
                    }
                    match view.scalar_str(&f) {
                        Some(Some(t)) => assert_eq!(want, Got::One(Val::Str(Cow::Borrowed(t))), "{f:?}"),
                        Some(None) => assert!(matches!(want, Got::Absent | Got::Blind(_)), "{f:?}"),
                        // The code (a number), and what `scalar_text` leaves to `get`.
                        None => assert!(left_to_get(&f), "{f:?}"),
                    }
                    let is_list = matches!(f, FieldRef::UserGroups | FieldRef::ImpUserGroups | FieldRef::SourceIps);
                    assert_eq!(view.list_strs(&f).is_some(), is_list, "{f:?}");
                    match view.list_strs(&f) {
                        Some(Some(xs)) => assert_eq!(want, Got::Strs(xs), "{f:?}"),
                        Some(None) => assert_eq!(view.absent(&f), absent_as_get(&want, "list_strs"), "{f:?}"),
                        None => {}
                    }
                }
            }
            self.0 += 1;
        }
        fn skipped(&mut self, _: Unit<'_>, _: &'static str) {}
        fn error(&mut self, _: Unit<'_>, _: &crate::Error) {}
    }

    /// `View::scalar_text` and `View::scalar_str` read what `View::get`
    /// reads, absent and blind alike (synthetic events: service account,
    /// impersonation, exec with and without a command, no object, no user
    /// name, codes beyond the stack-spelled range and negative).
    #[test]
    fn scalar_reads_agree_with_get() {
        let cases: &[(&str, &str, &str, &str, &str)] = &[
            // (user, impersonatedUser, objectRef, code, requestURI); empty: left out
            (
                r#"{"username":"system:serviceaccount:kube-system:abc","groups":["system:serviceaccounts"]}"#,
                r#"{"username":"x"}"#,
                r#"{"resource":"pods","subresource":"exec","namespace":"d","name":"p","apiGroup":"","apiVersion":"v1"}"#,
                "403",
                "/api/v1/namespaces/d/pods/p/exec?command=ls&command=-l",
            ),
            (r#"{"groups":["g"]}"#, r#"{"groups":["g"]}"#, "", "-5", "/healthz"),
            (r#"{"username":"system:anonymous"}"#, "", r#"{"resource":"nodes"}"#, "1000000000000000", "/x"),
            (
                r#"{"username":"system:serviceaccount:ns:"}"#,
                r#"{"username":""}"#,
                r#"{"resource":"pods","subresource":"exec","name":"p"}"#,
                "101",
                "/api/v1/namespaces/d/pods/p/exec",
            ),
        ];
        let dec = Decoder::default();
        let mut c = Check(0);
        for (i, (user, imp, oref, code, uri)) in cases.iter().enumerate() {
            let imp = if imp.is_empty() { String::new() } else { format!(r#""impersonatedUser":{imp},"#) };
            let oref = if oref.is_empty() { String::new() } else { format!(r#""objectRef":{oref},"#) };
            let rec = format!(
                r#"{{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":"s-{i}","stage":"ResponseComplete","requestURI":"{uri}","verb":"create","user":{user},{imp}"sourceIPs":["10.0.0.1"],{oref}"responseStatus":{{"code":{code}}},"requestReceivedTimestamp":"2024-05-14T09:00:00.000000Z","stageTimestamp":"2024-05-14T09:00:00.000001Z"}}"#
            );
            dec.decode(rec.as_bytes(), &mut c);
        }
        assert_eq!(c.0, cases.len(), "every synthetic record is an event");
    }
}

#[cfg(test)]
mod matcher_tests {
    use super::*;

    /// `one_str` (the string path) answers as `one` did on the same value
    /// before it existed: numbers by value, texts by text, others as text.
    #[test]
    fn equality_on_strings_and_numbers_compares_text_then_value() {
        let ev = AuditEvent::default();
        let view = View::new(&ev);
        let eq = Matcher::Eq("200".into(), Some(200.0));
        for t in ["200", "200.0", "2e2", "0200"] {
            assert_eq!(eq.one_str(t, &view), Some(true), "{t}");
        }
        for t in ["20", "abc", "", "200 "] {
            assert_eq!(eq.one_str(t, &view), Some(false), "{t}");
        }
        assert_eq!(eq.one(&Val::Num(200.0), &view), Some(true));
        assert_eq!(eq.one(&Val::Num(201.0), &view), Some(false));
        // A fraction is compared by value; a word by text only.
        let half = Matcher::Eq("0.5".into(), Some(0.5));
        assert_eq!(half.one(&Val::Num(0.5), &view), Some(true));
        assert_eq!(half.one_str(".5", &view), Some(true));
        let word = Matcher::Eq("true".into(), None);
        assert_eq!(word.one(&Val::Bool(true), &view), Some(true));
        assert_eq!(word.one_str("True", &view), Some(false));
        let ge = Matcher::Cmp(Op::Ge, 400.0);
        assert_eq!(ge.one_str("403", &view), Some(true));
        assert_eq!(ge.one_str("399", &view), Some(false));
        assert_eq!(ge.one_str("x", &view), Some(false));
        assert_eq!(ge.one(&Val::Num(500.0), &view), Some(true));
        assert_eq!(ge.one(&Val::Bool(true), &view), Some(false));
    }
}
#[cfg(test)]
mod size_tests {
    /// A condition node stays small (see `Matcher`): 152 bytes before the
    /// large matchers were boxed.
    #[test]
    fn condition_nodes_stay_small() {
        assert!(std::mem::size_of::<super::Expr>() <= 96, "{}", std::mem::size_of::<super::Expr>());
    }

    /// A view is made and dropped for every event: what only some events
    /// need is behind one lazily made box (712 bytes before it was).
    #[test]
    fn a_view_stays_small() {
        assert!(std::mem::size_of::<super::View<'_, '_>>() <= 160, "{}", std::mem::size_of::<super::View<'_, '_>>());
    }
}
