//! kaudit-core: every Kubernetes audit log shape in, one canonical event out.
//!
//! * [`decode`]: auto-detects the shape of each record (vanilla log line,
//!   webhook `EventList`, EKS CloudWatch rows and subscription payloads, AKS
//!   diagnostic records and Log Analytics rows, GKE `LogEntry` and Pub/Sub,
//!   OpenShift ViaQ and OTLP, shipper wrappers) and pushes events into a
//!   [`Sink`].
//! * [`AuditEvent`]: the canonical event, a borrowed view over the record.
//! * [`encode`]: the canonical JSON encoder, the error/skip envelopes, and
//!   the OCSF, ECS, Falco and SARIF encoders.
//! * [`findings`]: detections as OCSF / ECS / Falco / SARIF records.
//! * [`frame`]: splits a byte stream into records.
//! * [`normalize`]: the sink that writes canonical NDJSON and counts.
//! * [`health`]: log-health counters (rates, gaps, stage pairing, latency,
//!   skew, structure, coverage) and the validation report.
//!
//! The core does no I/O, starts no threads, and never panics on input.

#![forbid(unsafe_code)]

pub mod decode;
pub mod encode;
mod error;
pub mod event;
pub mod findings;
pub mod frame;
pub mod health;
pub mod json;
pub mod normalize;
pub mod rules;
pub mod scan;
#[cfg(test)]
mod testdata;

pub use decode::{Decoder, Limits, Sink, Unit};
pub use error::{Category, Error};
pub use event::{AuditEvent, Cluster, Field, FieldSet, Outcome, Provider, Source};
pub use normalize::{Normalizer, Options, Stats};

/// Normalize a whole buffer (any number of records) into canonical NDJSON.
/// A convenience for tests and small inputs; hosts that stream use
/// [`frame::Framer`] and [`Normalizer`] directly.
pub fn normalize_buffer(dec: &Decoder, input: &[u8], opts: Options) -> (Vec<u8>, Stats) {
    let mut n = Normalizer::new(opts);
    let limit = dec.limits().max_record_bytes;
    for f in frame::records(input, limit) {
        if f.oversize {
            n.oversize(&input[f.range], limit);
        } else {
            n.record(dec, &input[f.range]);
        }
    }
    let stats = n.stats();
    let mut out = Vec::new();
    n.take_output(&mut out);
    (out, stats)
}
