//! The fast path of [`Top`]: a compact record is read with the validating
//! [`Cursor`] instead of serde's derived visitor, which spends most of its
//! time dispatching ~60 possible keys and building values through generic
//! visitors. Event keys are read typed; [`top_any`] (what the decoder uses)
//! also reads the envelope keys of `Top` as raw JSON text and steps over
//! keys `Top` does not know, so vendor envelopes (CloudWatch rows, AKS
//! diagnostic records, subscription payloads, GKE entries …) take it too.
//! [`fields`] and [`array_fields`] read the envelopes' inner objects
//! (`properties`, `logEvents[]`) the same way.
//!
//! The contract is all-or-nothing: [`top`] returns `Some` only when
//! `serde_json::from_str::<Top>` would succeed with exactly the same value,
//! and `None` whenever it is not sure — for [`top`], any key that is not an
//! Event key; for both, a key with escapes, a key given twice, a value of a
//! type the derived parser would refuse, a control character, malformed
//! JSON. The caller then runs the serde parse, which gives the
//! authoritative result or error message. Nothing about the output depends
//! on which path ran (`fast_path_agrees_with_serde` below,
//! `decode/differential.rs` and the golden tests check it).

use super::Top;
use crate::event::{ObjectRef, ResponseStatus, UserInfo};
use crate::json::cursor::Cursor;
use crate::json::{Json, Raw, Str};

use std::borrow::Cow;

/// Marks a field as read once; a second occurrence gives `None` (serde's
/// derived parser refuses duplicate fields with an error).
#[inline]
fn once(seen: &mut u32, bit: u32) -> Option<()> {
    if *seen & (1 << bit) != 0 {
        return None;
    }
    *seen |= 1 << bit;
    Some(())
}

/// [`once`] for the 55 keys of [`Top`].
#[inline]
fn once64(seen: &mut u64, bit: u32) -> Option<()> {
    if *seen & (1 << bit) != 0 {
        return None;
    }
    *seen |= 1 << bit;
    Some(())
}

/// `Option<&RawValue>` as serde_json reads it: `null` is `None`, any other
/// value (validated) its text.
fn opt_json<'a>(c: &mut Cursor<'a>) -> Option<Option<Json<'a>>> {
    if c.null() {
        return Some(None);
    }
    Some(Some(Json(c.raw()?)))
}

fn opt_raw<'a>(c: &mut Cursor<'a>) -> Option<Option<Raw<'a>>> {
    if c.null() {
        return Some(None);
    }
    Some(Some(Raw(Cow::Borrowed(c.raw()?))))
}

fn opt_strs<'a>(c: &mut Cursor<'a>) -> Option<Option<Vec<Str<'a>>>> {
    if c.null() {
        return Some(None);
    }
    let mut v = Vec::new();
    if c.open(b'[', b']')? {
        loop {
            v.push(c.str()?);
            if !c.next(b']')? {
                break;
            }
        }
    }
    Some(Some(v))
}

/// Members of an object at the cursor (`null` → `None`); `member` reads
/// each value and returns `None` to give up.
fn object<'a, T: Default>(
    c: &mut Cursor<'a>,
    mut member: impl FnMut(&mut Cursor<'a>, &mut T, &[u8]) -> Option<()>,
) -> Option<Option<T>> {
    if c.null() {
        return Some(None);
    }
    let mut out = T::default();
    // The members' values are one level deeper than this object's.
    let room = c.room();
    c.set_room(room.checked_sub(1)?);
    if c.open(b'{', b'}')? {
        loop {
            let k = c.key()?;
            member(c, &mut out, k)?;
            if !c.next(b'}')? {
                break;
            }
        }
    }
    c.set_room(room);
    Some(Some(out))
}

fn user<'a>(c: &mut Cursor<'a>) -> Option<Option<UserInfo<'a>>> {
    let mut seen = 0u32;
    object(c, |c, u: &mut UserInfo<'a>, k| {
        match k {
            b"username" => (once(&mut seen, 0)?, u.username = c.opt_str()?).1,
            b"uid" => (once(&mut seen, 1)?, u.uid = c.opt_str()?).1,
            b"groups" => (once(&mut seen, 2)?, u.groups = opt_strs(c)?).1,
            b"extra" => (once(&mut seen, 3)?, u.extra = opt_raw(c)?).1,
            _ => c.skip()?,
        }
        Some(())
    })
}

fn object_ref<'a>(c: &mut Cursor<'a>) -> Option<Option<ObjectRef<'a>>> {
    let mut seen = 0u32;
    object(c, |c, o: &mut ObjectRef<'a>, k| {
        let (bit, slot) = match k {
            b"resource" => (0, &mut o.resource),
            b"namespace" => (1, &mut o.namespace),
            b"name" => (2, &mut o.name),
            b"uid" => (3, &mut o.uid),
            b"apiGroup" => (4, &mut o.api_group),
            b"apiVersion" => (5, &mut o.api_version),
            b"resourceVersion" => (6, &mut o.resource_version),
            b"subresource" => (7, &mut o.subresource),
            _ => return c.skip(),
        };
        once(&mut seen, bit)?;
        *slot = c.opt_str()?;
        Some(())
    })
}

fn response_status<'a>(c: &mut Cursor<'a>) -> Option<Option<ResponseStatus<'a>>> {
    let mut seen = 0u32;
    object(c, |c, r: &mut ResponseStatus<'a>, k| {
        match k {
            b"metadata" => (once(&mut seen, 0)?, r.metadata = opt_raw(c)?).1,
            b"status" => (once(&mut seen, 1)?, r.status = c.opt_str()?).1,
            b"message" => (once(&mut seen, 2)?, r.message = c.opt_str()?).1,
            b"reason" => (once(&mut seen, 3)?, r.reason = c.opt_str()?).1,
            b"details" => (once(&mut seen, 4)?, r.details = opt_raw(c)?).1,
            b"code" => {
                once(&mut seen, 5)?;
                r.code = if c.null() { None } else { Some(c.plain_i64()?) };
            }
            _ => c.skip()?,
        }
        Some(())
    })
}

/// The Event keys, numbered in the apiserver's order; dispatched on the
/// key's length first so that one or two fixed-size compares decide.
fn event_key(k: &[u8]) -> Option<u32> {
    Some(match k.len() {
        4 if k == b"kind" => 0,
        4 if k == b"verb" => 6,
        4 if k == b"user" => 7,
        5 if k == b"level" => 2,
        5 if k == b"stage" => 4,
        7 if k == b"auditID" => 3,
        9 if k == b"sourceIPs" => 9,
        9 if k == b"userAgent" => 10,
        9 if k == b"objectRef" => 11,
        10 if k == b"apiVersion" => 1,
        10 if k == b"requestURI" => 5,
        11 if k == b"annotations" => 17,
        13 if k == b"requestObject" => 13,
        14 if k == b"responseStatus" => 12,
        14 if k == b"responseObject" => 14,
        14 if k == b"stageTimestamp" => 16,
        16 if k == b"impersonatedUser" => 8,
        24 if k == b"requestReceivedTimestamp" => 15,
        _ => return None,
    })
}

/// The keys of [`Top`] other than the Event's (envelopes, batches, kaudit's
/// own output), numbered from 18 on; `None` for a key `Top` does not know.
fn envelope_key(k: &[u8]) -> Option<u32> {
    Some(match k {
        b"items" => 18,
        b"kaudit" => 19,
        b"resourceLogs" => 20,
        b"k8s_audit_level" => 21,
        b"openshift_audit_level" => 22,
        b"log_type" => 23,
        b"log_source" => 24,
        b"openshift" => 25,
        b"@timestamp" => 26,
        b"awslogs" => 27,
        b"messageType" => 28,
        b"logEvents" => 29,
        b"logGroup" => 30,
        b"logGroupName" => 31,
        b"logStream" => 32,
        b"logStreamName" => 33,
        b"owner" => 34,
        b"ingestionTime" => 35,
        b"eventId" => 36,
        b"timestamp" => 37,
        b"message" => 38,
        b"protoPayload" => 39,
        b"resource" => 40,
        b"records" => 41,
        b"category" => 42,
        b"properties" => 43,
        b"operationName" => 44,
        b"resourceId" => 45,
        b"time" => 46,
        b"Type" => 47,
        b"AuditId" => 48,
        b"RequestUri" => 49,
        b"StageReceivedTime" => 50,
        b"Category" => 51,
        b"log_s" => 52,
        b"log" => 53,
        b"p_log_type" => 54,
        _ => return None,
    })
}

/// An envelope member of [`Top`] (`k` from [`envelope_key`]).
fn envelope_member<'a>(c: &mut Cursor<'a>, t: &mut Top<'a>, k: u32) -> Option<()> {
    let v = opt_json(c)?;
    let slot = match k {
        18 => &mut t.items,
        19 => &mut t.kaudit,
        20 => &mut t.resource_logs,
        21 => &mut t.k8s_audit_level,
        22 => &mut t.openshift_audit_level,
        23 => &mut t.log_type,
        24 => &mut t.log_source,
        25 => &mut t.openshift,
        26 => &mut t.at_timestamp,
        27 => &mut t.awslogs,
        28 => &mut t.message_type,
        29 => &mut t.log_events,
        30 => &mut t.log_group,
        31 => &mut t.log_group_name,
        32 => &mut t.log_stream,
        33 => &mut t.log_stream_name,
        34 => &mut t.owner,
        35 => &mut t.ingestion_time,
        36 => &mut t.event_id,
        37 => &mut t.timestamp,
        38 => &mut t.message,
        39 => &mut t.proto_payload,
        40 => &mut t.resource,
        41 => &mut t.records,
        42 => &mut t.category,
        43 => &mut t.properties,
        44 => &mut t.operation_name,
        45 => &mut t.resource_id,
        46 => &mut t.time,
        47 => &mut t.la_type,
        48 => &mut t.la_audit_id,
        49 => &mut t.la_request_uri,
        50 => &mut t.la_stage_received_time,
        51 => &mut t.la_category,
        52 => &mut t.log_s,
        53 => &mut t.log,
        54 => &mut t.p_log_type,
        _ => return None,
    };
    *slot = v;
    Some(())
}

/// The fast path of `serde_json::from_str::<Top>(text)` (see the module
/// documentation), filling `top` in place (it is large: moving it costs);
/// `top` must be `Top::default()`. `None` means "ask serde_json" (`top` is
/// then partly filled, and the caller overwrites it). `Some(s)` says
/// whether any string held a `\u` escape of a UTF-16 surrogate.
///
/// It also answers only when the record is nested at most `max_depth`
/// levels deep (the record itself is level 1, as for
/// [`crate::json::deeper_than`]), so that the caller need not run that
/// separate pass over a record the fast path read.
#[cfg(test)]
pub(super) fn top<'a>(text: &'a str, max_depth: usize, top: &mut Top<'a>) -> Option<bool> {
    read(text, max_depth, top, false)
}

/// [`top`] for any record `Top` reads, envelopes included: the other keys
/// of `Top` are read as raw JSON text (`Option<&RawValue>` as serde_json
/// reads it: `null` is `None`), keys `Top` does not know are skipped
/// (validated), as serde's derived parser ignores them. The same contract
/// as [`top`]: `Some` only when serde_json would give exactly this `Top`.
pub(super) fn top_any<'a>(text: &'a str, max_depth: usize, top: &mut Top<'a>) -> Option<bool> {
    read(text, max_depth, top, true)
}

/// [`top`] (`envelopes` false: only Event keys) or [`top_any`].
#[inline(always)]
fn read<'a>(text: &'a str, max_depth: usize, top: &mut Top<'a>, envelopes: bool) -> Option<bool> {
    if !crate::json::fast_paths_on() {
        return None;
    }
    // The typed walk itself opens three levels (the record, `user`,
    // `user.groups`); a skipped member value starts at level 2, so it may
    // open `max_depth - 1` levels (one fewer inside `user`, `objectRef` …).
    let max_depth = u32::try_from(max_depth).ok().filter(|&d| d >= 3)?;
    let mut c = Cursor::new(text)?;
    c.set_room(max_depth - 1);
    c.ws();
    let mut seen = 0u64;
    if c.open(b'{', b'}')? {
        loop {
            // An Event key is read typed. Only for `top_any`: any other key
            // of `Top` (an envelope, kaudit's own output) as raw JSON text,
            // and a key `Top` does not know is skipped (validated), as
            // serde's derived parser ignores it. An escaped key gives
            // `None` (`key`): the serde parse then decides.
            let name = c.key()?;
            let k = match event_key(name) {
                Some(k) => k,
                None if !envelopes => return None,
                None => match envelope_key(name) {
                    Some(k) => k,
                    None => {
                        c.skip()?;
                        if !c.next(b'}')? {
                            break;
                        }
                        continue;
                    }
                },
            };
            once64(&mut seen, k)?;
            let t = &mut *top;
            match k {
                0 => t.kind = c.opt_str()?,
                1 => t.api_version = c.opt_str()?,
                2 => t.level = c.opt_str()?,
                3 => t.audit_id = c.opt_str()?,
                4 => t.stage = c.opt_str()?,
                5 => t.request_uri = c.opt_str()?,
                6 => t.verb = c.opt_str()?,
                7 => t.user = user(&mut c)?,
                8 => t.impersonated_user = user(&mut c)?,
                9 => t.source_ips = opt_strs(&mut c)?,
                10 => t.user_agent = c.opt_str()?,
                11 => t.object_ref = object_ref(&mut c)?,
                12 => t.response_status = response_status(&mut c)?,
                13 => t.request_object = opt_raw(&mut c)?,
                14 => t.response_object = opt_raw(&mut c)?,
                15 => t.request_received_timestamp = c.opt_str()?,
                16 => t.stage_timestamp = c.opt_str()?,
                17 => {
                    c.unicode_escapes = false;
                    t.annotations = opt_raw(&mut c)?;
                    t.annotations_without_u_escape = !c.unicode_escapes;
                }
                _ => envelope_member(&mut c, t, k)?,
            }
            if !c.next(b'}')? {
                break;
            }
        }
    }
    c.ws();
    c.at_end().then_some(c.surrogates)
}

/// A struct of `Option<&RawValue>` fields as serde's derived parser reads
/// it from a compact object (`v` valid JSON already: serde_json or the
/// cursor read it, so values are stepped over without being validated
/// again, `Cursor::skip_valid`): `names` are the fields, each read at most
/// once (`null` is `None`); other keys are skipped. `None` for anything
/// else — not an object, a key given twice, an escaped key, whitespace
/// other than spaces — so that serde_json decides and gives the error.
pub(super) fn fields<'a, const N: usize>(v: Json<'a>, names: [&[u8]; N]) -> Option<[Option<Json<'a>>; N]> {
    if !crate::json::fast_paths_on() {
        return None;
    }
    let mut c = Cursor::within(v.get());
    let out = fields_at(&mut c, names)?;
    c.ws();
    c.at_end().then_some(out)
}

/// [`fields`] of the object at the cursor.
fn fields_at<'a, const N: usize>(c: &mut Cursor<'a>, names: [&[u8]; N]) -> Option<[Option<Json<'a>>; N]> {
    let mut out = [None; N];
    let mut seen = 0u32;
    if c.open(b'{', b'}')? {
        loop {
            let k = c.key()?;
            match names.iter().position(|n| *n == k) {
                Some(i) => {
                    once(&mut seen, u32::try_from(i).ok().filter(|&b| b < 32)?)?;
                    *out.get_mut(i)? = if c.null() { None } else { Some(Json(c.raw_valid()?)) };
                }
                None => c.skip_valid()?,
            }
            if !c.next(b'}')? {
                break;
            }
        }
    }
    Some(out)
}

/// `serde_json::from_str::<Vec<&RawValue>>(v)` by the cursor (`v` valid
/// JSON already, as for [`fields`]), each element with its [`fields`] read
/// in the same pass: `None` beside an element [`fields`] declines (then
/// serde_json reads that element). `None` for anything but a compact array.
#[allow(clippy::type_complexity)]
pub(super) fn array_fields<'a, const N: usize>(
    v: Json<'a>,
    names: [&[u8]; N],
) -> Option<Vec<(Json<'a>, Option<[Option<Json<'a>>; N]>)>> {
    if !crate::json::fast_paths_on() {
        return None;
    }
    let text = v.get();
    let mut c = Cursor::within(text);
    let mut out = Vec::new();
    if c.open(b'[', b']')? {
        loop {
            let start = c.i;
            let f = fields_at(&mut c, names);
            if f.is_none() {
                c.i = start;
                c.skip_valid()?;
            }
            out.push((Json(text.get(start..c.i)?), f));
            if !c.next(b']')? {
                break;
            }
        }
    }
    c.ws();
    c.at_end().then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The fields of `Top` the fast path fills, as text, for comparison.
    fn show(t: &Top<'_>) -> String {
        format!(
            "{:?}",
            (
                (&t.kind, &t.api_version, &t.level, &t.audit_id, &t.stage, &t.request_uri, &t.verb),
                (&t.user, &t.impersonated_user, &t.source_ips, &t.user_agent, &t.object_ref, &t.response_status),
                (&t.request_object, &t.response_object, &t.request_received_timestamp, &t.stage_timestamp),
                &t.annotations,
            )
        )
    }

    /// Whenever the fast path answers, serde_json gives the same `Top`.
    fn agrees(text: &str) -> bool {
        let mut t = Top::default();
        let fast = top(text, crate::decode::MAX_JSON_DEPTH, &mut t).map(|_| t);
        let slow = serde_json::from_str::<Top<'_>>(text);
        if let Some(f) = &fast {
            let s = slow.as_ref().unwrap_or_else(|e| panic!("fast path accepted what serde refuses ({e}): {text}"));
            assert_eq!(show(f), show(s), "{text}");
        }
        fast.is_some()
    }

    const EVENT: &str = r#"{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"RequestResponse","auditID":"a-1","stage":"ResponseComplete","requestURI":"/api/v1/namespaces/default/pods?fieldSelector=a%3Db\u0026limit=500","verb":"create","user":{"username":"alice","uid":"u-1","groups":["system:authenticated","dev"],"extra":{"scopes":["a"]},"other":[1,{"x":null}]},"impersonatedUser":null,"sourceIPs":["10.0.0.1","::1"],"userAgent":"kubectl/v1.29 (linux/amd64) \"quoted\"","objectRef":{"resource":"pods","namespace":"default","name":"p","apiVersion":"v1","apiGroup":"","subresource":null,"x-unknown":true},"responseStatus":{"metadata":{},"code":201,"status":"Success","details":{"name":"p"}},"requestObject":{"kind":"Pod","spec":{"containers":[{"name":"c","image":"nginx","args":["-1.5e-3",0,-0.0,1e999]}]}},"responseObject":null,"requestReceivedTimestamp":"2024-01-01T00:00:00.000000Z","stageTimestamp":"2024-01-01T00:00:00.100000Z","annotations":{"authorization.k8s.io/decision":"allow"}}"#;

    #[test]
    fn fast_path_agrees_with_serde() {
        assert!(agrees(EVENT));
        assert!(agrees(&EVENT.replace(',', "  , ").replace(':', " : ")));
        // Line breaks and tabs (pretty-printed records) are left to serde_json.
        assert!(!agrees(&EVENT.replace(',', ",\n\t")));
        assert!(agrees("{}"));
        assert!(agrees(r#"{"user":{},"sourceIPs":[],"objectRef":{},"responseStatus":{"code":0}}"#));
    }

    /// The fast path answers for a record exactly when the record is nested
    /// no deeper than the limit, so the decoder may skip the separate depth
    /// pass (`json::deeper_than`) for the records it reads.
    #[test]
    fn fast_path_answers_only_within_the_depth_limit() {
        let nest = |n: usize| format!("{}1{}", "[".repeat(n), "]".repeat(n));
        for n in 0..8 {
            let texts = [
                // A top-level body (level 2), a member of `user` (level 3),
                // an annotation value, a body inside an object inside arrays.
                format!(r#"{{"kind":"Event","requestObject":{}}}"#, nest(n)),
                format!(r#"{{"kind":"Event","user":{{"username":"a","extra":{{"k":{}}}}}}}"#, nest(n)),
                format!(r#"{{"kind":"Event","user":{{"other":{}}},"annotations":{{"a":"b"}}}}"#, nest(n)),
                format!(r#"{{"responseStatus":{{"details":[{{"x":{}}}]}},"verb":"get"}}"#, nest(n)),
            ];
            for text in &texts {
                for limit in 0..12 {
                    let mut t = Top::default();
                    let fast = top(text, limit, &mut t).is_some();
                    let within = !crate::json::deeper_than(text.as_bytes(), limit);
                    // Below three levels the fast path always declines.
                    assert_eq!(fast, within && limit >= 3, "limit {limit}: {text}");
                }
            }
        }
    }

    #[test]
    fn annotations_without_u_escape_is_set_only_for_their_own_text() {
        // `EVENT` has a `\u0026` in its requestURI, before the annotations:
        // it does not count.
        let cases = [
            (r#"{"a":"b"}"#, true),
            (r#"{"a":"\"b\" \\ \/"}"#, true),
            (r#"{"a":"\\u0062"}"#, true),
            (r#"{"a":"\u0062"}"#, false),
            (r#"{"\u0061":"b"}"#, false),
            (r#"{"example.com/legacy\u002dtoken":"x","b":"c"}"#, false),
        ];
        for (ann, without) in cases {
            let text = EVENT.replace(r#"{"authorization.k8s.io/decision":"allow"}"#, ann);
            let mut t = Top::default();
            assert!(top(&text, 64, &mut t).is_some(), "{ann}");
            assert_eq!(t.annotations_without_u_escape, without, "{ann}");
            // Nor does one after them (in `stageTimestamp`, moved last).
            let stage = r#","stageTimestamp":"2024-01-01T00:00:00.100000Z""#;
            let moved = format!(
                "{},{}",
                text.replace(stage, "").strip_suffix('}').unwrap_or_default(),
                &stage[1..].replace("000Z", "000\\u005a")
            ) + "}";
            let mut t = Top::default();
            assert!(top(&moved, 64, &mut t).is_some(), "{moved}");
            assert_eq!(t.annotations_without_u_escape, without, "{moved}");
        }
        // The serde path (a record the fast path defers) leaves it unknown.
        let deferred = EVENT.replace(',', ",\n");
        let mut t = Top::default();
        assert!(top(&deferred, 64, &mut t).is_none());
        let mut t = Top::default();
        assert!(super::super::parse_top(&deferred, &mut t).is_ok());
        assert!(t.annotations.is_some());
        assert!(!t.annotations_without_u_escape);
    }

    #[test]
    fn fast_path_defers_what_it_does_not_handle() {
        let cases = [
            // Duplicates, at the top and inside typed objects.
            EVENT.replace(r#""verb":"create""#, r#""verb":"create","verb":"get""#),
            EVENT.replace(r#""verb":"create""#, r#""verb":null,"verb":"get""#),
            EVENT.replace(r#""uid":"u-1""#, r#""uid":"u-1","uid":"u-2""#),
            EVENT.replace(r#""code":201"#, r#""code":201,"code":201"#),
            // Other keys, escaped keys.
            EVENT.replace(r#""verb":"create""#, r#""verb":"create","kaudit":{}"#),
            EVENT.replace(r#""verb":"create""#, r#""verb":"create","extra":1"#),
            EVENT.replace(r#""verb""#, r#""ver\u0062""#),
            // Wrong types.
            EVENT.replace(r#""verb":"create""#, r#""verb":1"#),
            EVENT.replace(r#""code":201"#, r#""code":"201""#),
            EVENT.replace(r#""code":201"#, r#""code":201.0"#),
            EVENT.replace(r#""code":201"#, r#""code":-0"#),
            EVENT.replace(r#""code":201"#, r#""code":99999999999999999999"#),
            EVENT.replace(r#""sourceIPs":["10.0.0.1","::1"]"#, r#""sourceIPs":["10.0.0.1",null]"#),
            EVENT.replace(r#""user":{"#, r#""user":[{"#).replace(r#""other":[1,{"x":null}]}"#, r#""other":1}]"#),
            // Malformed JSON and control characters.
            EVENT.replace(r#""kind":"Pod""#, r#""kind":"Pod",}"#),
            EVENT.replace("alice", "al\u{1}ice"),
            format!("{EVENT} x"),
            EVENT[..EVENT.len() - 1].to_string(),
            // A lone surrogate in a string the fast path unescapes.
            EVENT.replace("alice", r"\udc00alice"),
        ];
        for c in &cases {
            assert!(!agrees(c), "fast path answered: {c}");
        }
    }
}
