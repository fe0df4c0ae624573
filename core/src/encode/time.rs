//! Times for the encoders: the event's own time as epoch milliseconds (OCSF
//! `timestamp_t`) or as a normalized RFC 3339 string (Falco, ECS), and the
//! transport's receive time. Conversions are exact; nothing is guessed.

use crate::event::AuditEvent;
use crate::rules::state::{parse_time, utc_parts, Micros};

/// `stageTimestamp`, else `requestReceivedTimestamp`, in microseconds.
pub(crate) fn event_micros(ev: &AuditEvent<'_>) -> Option<Micros> {
    crate::rules::state::event_time(ev)
}

/// `requestReceivedTimestamp` in microseconds.
pub(crate) fn start_micros(ev: &AuditEvent<'_>) -> Option<Micros> {
    ev.request_received_timestamp.as_deref().and_then(parse_time)
}

/// When the transport received the record (`kaudit.received`): an RFC 3339
/// string, or an integer of epoch milliseconds (CloudWatch `timestamp`).
/// Integers with fewer than 12 digits (before 1973 as milliseconds) are not
/// read, since they cannot be told apart from seconds.
pub(crate) fn received_micros(ev: &AuditEvent<'_>) -> Option<Micros> {
    let raw = ev.received.as_ref()?;
    let t = raw.get().trim();
    if let Some(s) = t.strip_prefix('"').and_then(|t| t.strip_suffix('"')) {
        return parse_time(s);
    }
    if t.len() >= 12 && t.bytes().all(|b| b.is_ascii_digit()) {
        return t.parse::<i64>().ok()?.checked_mul(1000);
    }
    None
}

/// Microseconds to milliseconds (floor).
pub(crate) fn ms(us: Micros) -> i64 {
    us.div_euclid(1000)
}

/// Write `us` as a quoted RFC 3339 UTC time with microseconds:
/// `"2024-01-02T03:04:05.123456Z"`.
pub(crate) fn write_rfc3339(out: &mut Vec<u8>, us: Micros) {
    let (y, m, d, h, mi, sec, frac) = utc_parts(us);
    let s = format!("\"{y:04}-{m:02}-{d:02}T{h:02}:{mi:02}:{sec:02}.{frac:06}Z\"");
    out.extend_from_slice(s.as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_round_trips() {
        for s in ["2024-02-29T23:59:59.999999Z", "1970-01-01T00:00:00.000000Z", "2018-10-26T13:38:34.867116Z"] {
            let us = parse_time(s).unwrap();
            let mut out = Vec::new();
            write_rfc3339(&mut out, us);
            assert_eq!(String::from_utf8(out).unwrap(), format!("\"{s}\""));
        }
        let mut out = Vec::new();
        write_rfc3339(&mut out, parse_time("2024-01-01T02:00:00+02:00").unwrap());
        assert_eq!(out, b"\"2024-01-01T00:00:00.000000Z\"");
    }
}
