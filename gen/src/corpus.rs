//! Corpora: the event stream of one or more clusters, wrapped in one
//! source's record shape, streamed to a writer.

use std::fmt::Write as _;
use std::io::{self, Write};

use base64::Engine as _;

use crate::cluster::EventGen;
use crate::event::Event;
use crate::gojson::rfc3339;
use crate::rng::Rng;

/// A record shape the generator writes (kaudit's source id).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// Log-backend NDJSON: one Event per line.
    K8s,
    /// EKS CloudWatch Logs rows (`FilterLogEvents` / `aws logs tail --format json`).
    EksCloudwatch,
    /// AKS diagnostic-settings records as written to a storage account.
    AksDiagnostic,
    /// GKE Cloud Audit Logs `LogEntry`s.
    GkeLogentry,
    /// CloudWatch subscription-filter deliveries: base64(gzip) batches of 20–50 events.
    EksSubscription,
}

impl Source {
    /// Every source, in the benches' order.
    pub const ALL: [Source; 5] =
        [Source::K8s, Source::EksCloudwatch, Source::AksDiagnostic, Source::GkeLogentry, Source::EksSubscription];

    /// kaudit's source id for records of this shape.
    pub fn id(self) -> &'static str {
        match self {
            Source::K8s => "k8s",
            Source::EksCloudwatch => "eks.cloudwatch",
            Source::AksDiagnostic => "aks.diagnostic",
            Source::GkeLogentry => "gke.logentry",
            Source::EksSubscription => "eks.subscription",
        }
    }

    /// The source with this id.
    pub fn from_id(id: &str) -> Option<Source> {
        Source::ALL.into_iter().find(|s| s.id() == id)
    }
}

/// What to generate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Options {
    pub source: Source,
    /// Seed of the first cluster's stream; cluster `i` uses `seed + i`.
    pub seed: u64,
    /// Clusters whose streams are interleaved in time order (at least 1).
    /// Cluster 0 is `bench`, the others `bench-2`, `bench-3`, …
    pub clusters: usize,
}

impl Options {
    /// One cluster, the benches' seed.
    pub fn new(source: Source) -> Self {
        Options { source, seed: crate::SEED, clusters: 1 }
    }
}

/// When to stop.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stop {
    /// After this many events.
    Events(u64),
    /// After the first whole line at or past this many bytes.
    Bytes(u64),
}

/// What was written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Written {
    pub events: u64,
    pub lines: u64,
    pub bytes: u64,
}

impl Written {
    fn done(&self, stop: Stop) -> bool {
        match stop {
            Stop::Events(n) => self.events >= n,
            Stop::Bytes(n) => self.bytes >= n,
        }
    }
}

/// The name of cluster `i`.
pub fn cluster_name(i: usize) -> String {
    if i == 0 {
        "bench".to_owned()
    } else {
        format!("bench-{}", i + 1)
    }
}

/// A JSON string holding `s` (serde_json's escaping, as the vendors' Go,
/// Java and Python encoders would produce for these strings).
fn json_string(s: &str) -> String {
    // A str always serializes.
    serde_json::to_string(s).unwrap_or_default()
}

fn stream_name(rng: &mut Rng) -> String {
    format!("kube-apiserver-audit-{}", rng.hex(32))
}

/// The interleaved event streams of the clusters.
struct Clusters {
    gens: Vec<EventGen>,
    /// The next event of each cluster (only used with several clusters).
    heads: Vec<Option<Event>>,
    names: Vec<String>,
}

impl Clusters {
    fn new(opts: &Options) -> Self {
        let n = opts.clusters.max(1);
        Clusters {
            gens: (0..n).map(|i| EventGen::new(opts.seed.wrapping_add(i as u64))).collect(),
            heads: (0..n).map(|_| None).collect(),
            names: (0..n).map(cluster_name).collect(),
        }
    }

    /// The cluster whose next event is the earliest.
    fn earliest(&mut self) -> usize {
        if self.gens.len() == 1 {
            return 0;
        }
        for (h, g) in self.heads.iter_mut().zip(&mut self.gens) {
            if h.is_none() {
                *h = Some(g.next_event());
            }
        }
        let t = |h: &Option<Event>| h.as_ref().map_or(i64::MAX, |e| e.received_ns);
        (0..self.heads.len()).min_by_key(|&i| t(&self.heads[i])).unwrap_or(0)
    }

    /// The next event of cluster `i`.
    fn take(&mut self, i: usize) -> Event {
        match self.heads[i].take() {
            Some(e) => e,
            None => self.gens[i].next_event(),
        }
    }
}

/// The per-source envelope state (its own random stream, so that the
/// events are the same in every shape).
struct Envelope {
    source: Source,
    rng: Rng,
    /// CloudWatch log streams (EKS) or apiserver pod names (AKS).
    names: [String; 2],
}

/// Envelope seeds, as the benches have always used them.
const CLOUDWATCH: u64 = 0xC10D_3A7C;
const AKS: u64 = 0xA25E_D1A6;
const GKE: u64 = 0x06CE_0006;
const SUBSCRIPTION: u64 = 0x5AB5_C41B;

impl Envelope {
    fn new(source: Source, seed: u64) -> Self {
        let salt = match source {
            Source::K8s => 0,
            Source::EksCloudwatch => CLOUDWATCH,
            Source::AksDiagnostic => AKS,
            Source::GkeLogentry => GKE,
            Source::EksSubscription => SUBSCRIPTION,
        };
        let mut rng = Rng::new(seed ^ salt);
        let names = match source {
            Source::EksCloudwatch | Source::EksSubscription => [stream_name(&mut rng), stream_name(&mut rng)],
            Source::AksDiagnostic => {
                let mut pod = || format!("kube-apiserver-{}-{}", rng.k8s_suffix(10), rng.k8s_suffix(5));
                [pod(), pod()]
            }
            Source::K8s | Source::GkeLogentry => [String::new(), String::new()],
        };
        Envelope { source, rng, names }
    }

    /// One line (with its newline) holding one event.
    fn line(&mut self, ev: &Event, cluster: &str, out: &mut String) {
        let rng = &mut self.rng;
        match self.source {
            Source::K8s => {
                out.push_str(&ev.to_json());
                out.push('\n');
            }
            Source::EksCloudwatch => {
                let ts = ev.stage_ms();
                let _ = writeln!(
                    out,
                    "{{\"logStreamName\":\"{}\",\"timestamp\":{ts},\"message\":{},\"ingestionTime\":{},\"eventId\":\"{}\"}}",
                    rng.pick(&self.names),
                    json_string(&ev.to_json()),
                    ts + rng.range(150, 2500) as i64,
                    rng.digits(56)
                );
            }
            Source::AksDiagnostic => {
                let time = rfc3339(ev.stage_ns + rng.range(1_000_000, 900_000_000) as i64, 7);
                let mut log = ev.to_json();
                log.push('\n');
                let _ = writeln!(
                    out,
                    "{{\"time\":\"{time}\",\"resourceId\":\"/SUBSCRIPTIONS/00000000-0000-0000-0000-000000000000/RESOURCEGROUPS/RG/PROVIDERS/MICROSOFT.CONTAINERSERVICE/MANAGEDCLUSTERS/{cluster}\",\"category\":\"kube-audit\",\"operationName\":\"Microsoft.ContainerService/managedClusters/diagnosticLogs/Read\",\"properties\":{{\"log\":{},\"stream\":\"stdout\",\"pod\":\"{}\"}}}}",
                    json_string(&log),
                    rng.pick(&self.names)
                );
            }
            Source::GkeLogentry => {
                out.push_str(&ev.to_gke_logentry(rng, cluster));
                out.push('\n');
            }
            // Batches are written by `subscription_batch`.
            Source::EksSubscription => {}
        }
    }

    /// One subscription delivery of up to `max` events of one cluster;
    /// returns how many it holds.
    fn subscription_batch(&mut self, cl: &mut Clusters, max: u64, out: &mut String) -> u64 {
        let n = self.rng.range(20, 50).min(max.max(1));
        let c = cl.earliest();
        let mut doc = String::with_capacity(256 * 1024);
        let _ = write!(
            doc,
            "{{\"messageType\":\"DATA_MESSAGE\",\"owner\":\"123456789012\",\"logGroup\":\"/aws/eks/{}/cluster\",\"logStream\":\"{}\",\"subscriptionFilters\":[\"f\"],\"logEvents\":[",
            cl.names[c],
            self.rng.pick(&self.names)
        );
        for i in 0..n {
            let ev = cl.take(c);
            if i > 0 {
                doc.push(',');
            }
            let _ = write!(
                doc,
                "{{\"id\":\"{}\",\"timestamp\":{},\"message\":{}}}",
                self.rng.digits(56),
                ev.stage_ms(),
                json_string(&ev.to_json())
            );
        }
        doc.push_str("]}");
        let mut gz = Vec::with_capacity(64 * 1024);
        let mut enc = flate2::write::GzEncoder::new(&mut gz, flate2::Compression::default());
        // Writing to a Vec cannot fail.
        let _ = enc.write_all(doc.as_bytes());
        let _ = enc.finish();
        out.push_str("{\"awslogs\":{\"data\":\"");
        out.push_str(&base64::engine::general_purpose::STANDARD.encode(&gz));
        out.push_str("\"}}\n");
        n
    }
}

/// Write a corpus to `out` until `stop`. The same options always give the
/// same bytes.
pub fn write(opts: &Options, stop: Stop, out: &mut dyn Write) -> io::Result<Written> {
    let mut cl = Clusters::new(opts);
    let mut env = Envelope::new(opts.source, opts.seed);
    let mut w = Written::default();
    let mut line = String::with_capacity(64 * 1024);
    while !w.done(stop) {
        line.clear();
        if opts.source == Source::EksSubscription {
            let left = match stop {
                Stop::Events(n) => n - w.events,
                Stop::Bytes(_) => u64::MAX,
            };
            w.events += env.subscription_batch(&mut cl, left, &mut line);
        } else {
            let c = cl.earliest();
            let ev = cl.take(c);
            env.line(&ev, &cl.names[c], &mut line);
            w.events += 1;
        }
        out.write_all(line.as_bytes())?;
        w.lines += 1;
        w.bytes += line.len() as u64;
    }
    Ok(w)
}

/// [`write`] into memory.
pub fn corpus(opts: &Options, stop: Stop) -> Vec<u8> {
    let mut out = Vec::new();
    // Writing to a Vec cannot fail.
    let _ = write(opts, stop, &mut out);
    out
}
