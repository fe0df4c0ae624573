//! The GKE `LogEntry` read by the validating cursor (the technique of
//! `decode/fast.rs`) instead of serde's derived parsers for [`Entry`] and
//! its parts, for the common case: a compact entry whose keys are not
//! escaped, given at most once, with values of the types `Entry` reads.
//!
//! The contract is all-or-nothing, as in `decode/fast.rs`: [`entry`]
//! returns `Some` only when `serde_json::from_str::<Entry>(text)` would
//! give exactly that value; on anything else — a key given twice (also
//! `callerIp` with its alias `callerIP`), an escaped key, a struct written
//! as an array, a number that is not a plain non-negative integer — it
//! returns `None`, and the caller runs serde_json, which gives the
//! authoritative value or error. `text` is valid JSON already (the record's
//! `Top` was read from it), so members nobody reads are stepped over
//! without validating them again.

use super::{AuthN, AuthZ, Entry, Operation, Proto, ReqMeta, Resource, ResourceLabels, Status};
use crate::json::cursor::Cursor;
use crate::json::Json;

/// Marks a field as read once (serde's derived parsers refuse duplicates).
fn once(seen: &mut u32, bit: u32) -> Option<()> {
    if *seen & (1 << bit) != 0 {
        return None;
    }
    *seen |= 1 << bit;
    Some(())
}

/// An `Option<T>` struct field: `null` is `None`; an object is read with
/// `member` (which gives `None` to decline); anything else declines.
fn object<'a, T: Default>(
    c: &mut Cursor<'a>,
    mut member: impl FnMut(&mut Cursor<'a>, &mut T, &[u8], &mut u32) -> Option<()>,
) -> Option<Option<T>> {
    if c.null() {
        return Some(None);
    }
    let mut out = T::default();
    let mut seen = 0u32;
    if c.open(b'{', b'}')? {
        loop {
            let k = c.key()?;
            member(c, &mut out, k, &mut seen)?;
            if !c.next(b'}')? {
                break;
            }
        }
    }
    Some(Some(out))
}

/// An `Option<&RawValue>` field.
fn json<'a>(c: &mut Cursor<'a>) -> Option<Option<Json<'a>>> {
    if c.null() {
        return Some(None);
    }
    Some(Some(Json(c.raw_valid()?)))
}

fn operation<'a>(c: &mut Cursor<'a>) -> Option<Option<Operation<'a>>> {
    object(c, |c, o: &mut Operation<'a>, k, seen| {
        match k {
            b"id" => (once(seen, 0)?, o.id = c.opt_str()?).1,
            _ => c.skip_valid()?,
        }
        Some(())
    })
}

fn resource<'a>(c: &mut Cursor<'a>) -> Option<Option<Resource<'a>>> {
    object(c, |c, r: &mut Resource<'a>, k, seen| {
        match k {
            b"type" => (once(seen, 0)?, r.ty = c.opt_str()?).1,
            b"labels" => {
                once(seen, 1)?;
                r.labels = object(c, |c, l: &mut ResourceLabels<'a>, k, seen| {
                    match k {
                        b"project_id" => (once(seen, 0)?, l.project_id = c.opt_str()?).1,
                        b"location" => (once(seen, 1)?, l.location = c.opt_str()?).1,
                        b"cluster_name" => (once(seen, 2)?, l.cluster_name = c.opt_str()?).1,
                        _ => c.skip_valid()?,
                    }
                    Some(())
                })?;
            }
            _ => c.skip_valid()?,
        }
        Some(())
    })
}

fn authn<'a>(c: &mut Cursor<'a>) -> Option<Option<AuthN<'a>>> {
    object(c, |c, a: &mut AuthN<'a>, k, seen| {
        match k {
            b"principalEmail" => (once(seen, 0)?, a.principal_email = c.opt_str()?).1,
            b"principalSubject" => (once(seen, 1)?, a.principal_subject = c.opt_str()?).1,
            b"authoritySelector" => (once(seen, 2)?, a.authority_selector = c.opt_str()?).1,
            _ => c.skip_valid()?,
        }
        Some(())
    })
}

fn req_meta<'a>(c: &mut Cursor<'a>) -> Option<Option<ReqMeta<'a>>> {
    object(c, |c, m: &mut ReqMeta<'a>, k, seen| {
        match k {
            // `callerIP` is serde's alias of `callerIp`: one field.
            b"callerIp" | b"callerIP" => (once(seen, 0)?, m.caller_ip = c.opt_str()?).1,
            b"callerSuppliedUserAgent" => (once(seen, 1)?, m.caller_supplied_user_agent = c.opt_str()?).1,
            _ => c.skip_valid()?,
        }
        Some(())
    })
}

fn status<'a>(c: &mut Cursor<'a>) -> Option<Option<Status<'a>>> {
    object(c, |c, s: &mut Status<'a>, k, seen| {
        match k {
            b"code" => {
                once(seen, 0)?;
                s.code = if c.null() { None } else { Some(c.plain_i64()?) };
            }
            b"message" => (once(seen, 1)?, s.message = c.opt_str()?).1,
            _ => c.skip_valid()?,
        }
        Some(())
    })
}

fn authz_list<'a>(c: &mut Cursor<'a>) -> Option<Option<Vec<AuthZ<'a>>>> {
    if c.null() {
        return Some(None);
    }
    let mut v = Vec::new();
    if c.open(b'[', b']')? {
        loop {
            // An element must be an object (`null` is not an `AuthZ`).
            if c.peek()? != b'{' {
                return None;
            }
            let a = object(c, |c, a: &mut AuthZ<'a>, k, seen| {
                match k {
                    b"granted" => {
                        once(seen, 0)?;
                        a.granted = if c.null() { None } else { Some(c.bool()?) };
                    }
                    b"permission" => (once(seen, 1)?, a.permission = c.opt_str()?).1,
                    _ => c.skip_valid()?,
                }
                Some(())
            })??;
            v.push(a);
            if !c.next(b']')? {
                break;
            }
        }
    }
    Some(Some(v))
}

fn proto<'a>(c: &mut Cursor<'a>) -> Option<Option<Proto<'a>>> {
    object(c, |c, p: &mut Proto<'a>, k, seen| {
        match k {
            b"serviceName" => (once(seen, 0)?, p.service_name = c.opt_str()?).1,
            b"methodName" => (once(seen, 1)?, p.method_name = c.opt_str()?).1,
            b"resourceName" => (once(seen, 2)?, p.resource_name = c.opt_str()?).1,
            b"authenticationInfo" => (once(seen, 3)?, p.authentication_info = authn(c)?).1,
            b"requestMetadata" => (once(seen, 4)?, p.request_metadata = req_meta(c)?).1,
            b"request" => (once(seen, 5)?, p.request = json(c)?).1,
            b"response" => (once(seen, 6)?, p.response = json(c)?).1,
            b"status" => (once(seen, 7)?, p.status = status(c)?).1,
            b"authorizationInfo" => (once(seen, 8)?, p.authorization_info = authz_list(c)?).1,
            _ => c.skip_valid()?,
        }
        Some(())
    })
}

/// `serde_json::from_str::<Entry>(text)` for the common case (see the
/// module documentation); `None`: ask serde_json.
pub(super) fn entry(text: &str) -> Option<Entry<'_>> {
    if !crate::json::fast_paths_on() {
        return None;
    }
    let mut c = Cursor::within(text);
    c.ws();
    if c.peek()? != b'{' {
        return None;
    }
    let e = object(&mut c, |c, e: &mut Entry<'_>, k, seen| {
        match k {
            b"insertId" => (once(seen, 0)?, e.insert_id = c.opt_str()?).1,
            b"timestamp" => (once(seen, 1)?, e.timestamp = c.opt_str()?).1,
            b"receiveTimestamp" => (once(seen, 2)?, e.receive_timestamp = json(c)?).1,
            b"operation" => (once(seen, 3)?, e.operation = operation(c)?).1,
            b"labels" => (once(seen, 4)?, e.labels = json(c)?).1,
            b"resource" => (once(seen, 5)?, e.resource = resource(c)?).1,
            b"protoPayload" => (once(seen, 6)?, e.proto_payload = proto(c)?).1,
            _ => c.skip_valid()?,
        }
        Some(())
    })??;
    c.ws();
    c.at_end().then_some(e)
}
