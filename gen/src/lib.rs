//! Deterministic, synthetic corpora of Kubernetes audit events (`kaudit gen`
//! and kaudit's benchmarks).
//!
//! [`EventGen`] produces an endless, reproducible stream of `audit.k8s.io/v1`
//! `Event`s (seeded PRNG, no clock, no `rand`) with the mix of a busy
//! production cluster: node and leader-election lease renewals, endpoint
//! churn, controller list/watch, kubelet node-status patches, pod creates at
//! `RequestResponse`, human `kubectl` traffic (exec, secrets, RBAC writes,
//! 403s), anonymous scanners and delegated authn/authz reviews.
//!
//! Events are written the way the apiserver's log backend writes them: one
//! compact JSON object per line, keys in Go struct order, map keys sorted,
//! and Go's HTML-safe escaping (`&` → `\u0026`, `<` → `\u003c`, `>` →
//! `\u003e`), so requestURIs with query strings look like the real thing.
//!
//! [`write`] wraps the stream of one or more clusters into one vendor shape
//! ([`Source`]) and streams it to a writer; the same [`Options`] always give
//! the same bytes. The benches' in-memory helpers ([`vanilla_corpus`] and
//! friends) take a target size in bytes and stop at the first whole line at
//! or past it.

mod cluster;
mod corpus;
mod event;
mod gojson;
mod human;
mod pod;
mod rng;
mod traffic;

pub use cluster::EventGen;
pub use corpus::{cluster_name, corpus, write, Options, Source, Stop, Written};
pub use event::{Class, Event};
pub use gojson::go_quote;
pub use rng::Rng;

/// The seed every bench corpus uses.
pub const SEED: u64 = 42;

fn sized(source: Source, target_bytes: usize) -> Vec<u8> {
    corpus(&Options::new(source), Stop::Bytes(target_bytes as u64))
}

/// Vanilla log-backend NDJSON: one Event per line, ending with `\n`.
pub fn vanilla_corpus(target_bytes: usize) -> Vec<u8> {
    sized(Source::K8s, target_bytes)
}

/// EKS CloudWatch Logs rows: `{"logStreamName","timestamp","message","ingestionTime","eventId"}`.
pub fn eks_cloudwatch_rows(target_bytes: usize) -> Vec<u8> {
    sized(Source::EksCloudwatch, target_bytes)
}

/// AKS diagnostic-settings records, `properties.log` holding the Event line (with its newline).
pub fn aks_diagnostic_lines(target_bytes: usize) -> Vec<u8> {
    sized(Source::AksDiagnostic, target_bytes)
}

/// GKE Cloud Audit Logs `LogEntry`s, one per line.
pub fn gke_logentries(target_bytes: usize) -> Vec<u8> {
    sized(Source::GkeLogentry, target_bytes)
}

/// `{"awslogs":{"data":"<base64(gzip(DATA_MESSAGE json))>"}}`, one per line,
/// each batching 20–50 consecutive events of one log stream.
pub fn eks_subscription_gzip_lines(target_bytes: usize) -> Vec<u8> {
    sized(Source::EksSubscription, target_bytes)
}

/// The first `n` events of the corpus stream.
pub fn events(n: usize) -> Vec<Event> {
    EventGen::new(SEED).take(n).collect()
}

/// A corpus generator: target size in bytes → NDJSON.
pub type Generator = fn(usize) -> Vec<u8>;

/// Every source: its kaudit source id and its generator.
pub const SOURCES: [(&str, Generator); 5] = [
    ("k8s", vanilla_corpus),
    ("eks.cloudwatch", eks_cloudwatch_rows),
    ("aks.diagnostic", aks_diagnostic_lines),
    ("gke.logentry", gke_logentries),
    ("eks.subscription", eks_subscription_gzip_lines),
];

#[cfg(test)]
mod tests;
