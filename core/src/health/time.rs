//! Times in the health counters: the transport's receive time in its several
//! spellings, and a printable UTC time.

use crate::rules::state::{parse_time, utc_parts, Micros};

/// The transport's receive time (`AuditEvent::received`, raw JSON) in µs.
///
/// RFC 3339 strings (Azure `time`, GKE `receiveTimestamp`, Pub/Sub
/// `publishTime`, ViaQ `@timestamp`) are parsed as such. Epoch numbers, bare
/// or quoted (CloudWatch `timestamp` in ms, OTLP `observedTimeUnixNano` in ns),
/// are read by their number of integer digits: up to 11 seconds, 12–14
/// milliseconds, 15–17 microseconds, 18 or more nanoseconds — exact for every
/// time between 2001-09-09 and 2286-11-20.
pub fn received_micros(raw: &str) -> Option<Micros> {
    let t = raw.trim();
    let t = t.strip_prefix('"').and_then(|t| t.strip_suffix('"')).unwrap_or(t);
    let int = t.split('.').next().unwrap_or("");
    if !int.is_empty() && int.bytes().all(|b| b.is_ascii_digit()) {
        let n: i64 = int.parse().ok()?;
        return Some(match int.len() {
            0..=11 => n.checked_mul(1_000_000)?,
            12..=14 => n.checked_mul(1_000)?,
            15..=17 => n,
            _ => n / 1_000,
        });
    }
    parse_time(t)
}

/// `YYYY-MM-DDTHH:MM:SSZ` (UTC, whole seconds) for µs since the epoch.
pub fn format_utc(t: Micros) -> String {
    let (y, m, d, h, mi, s, _) = utc_parts(t);
    format!("{y:04}-{m:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn receive_time_spellings() {
        let want = parse_time("2023-11-14T22:13:20Z").unwrap();
        assert_eq!(received_micros("1700000000000"), Some(want));
        assert_eq!(received_micros("1700000000"), Some(want));
        assert_eq!(received_micros("\"1700000000000000000\""), Some(want));
        assert_eq!(received_micros("1700000000000000"), Some(want));
        assert_eq!(received_micros("\"2023-11-14T22:13:20Z\""), Some(want));
        assert_eq!(received_micros("1700000000000.5"), Some(want));
        assert_eq!(received_micros("\"soon\""), None);
        assert_eq!(received_micros("null"), None);
        assert_eq!(received_micros("99999999999999999999999"), None);
    }

    #[test]
    fn formats_utc() {
        for s in ["1970-01-01T00:00:00Z", "2000-02-29T23:59:59Z", "2024-12-31T12:00:00Z", "1969-12-31T23:59:59Z"] {
            assert_eq!(format_utc(parse_time(s).unwrap()), s);
        }
    }
}
