//! kaudit-render: **test tooling**, never part of the engine.
//!
//! Public audit-log samples exist for some vendors and some behaviours only.
//! To test every rule on every source, this crate takes a vanilla canonical
//! event (kaudit's `normalize` output, whose `kaudit` object is dropped) and
//! renders it as the record that vendor would deliver, applying exactly that
//! vendor's losses (formats.md §3–§9, §11), or says the vendor would not
//! deliver it at all. [`coverage`] then runs every rule's own tests through
//! the renderer and builds the rule × source fidelity matrix.
//!
//! Kept out of `kaudit-core` on purpose: the core goes into WASM and Fluent
//! Bit and must not carry test-only vendor emulation.
//!
//! Two kinds of loss are modelled, and kept apart:
//!
//! * **policy** losses ([`lossy`]): what the vendor's audit policy or export
//!   setting drops before the event leaves the cluster (stages, whole events,
//!   bodies, lowered `level`). The result is still a vanilla Event.
//! * **format** losses ([`format_losses`]): what the vendor's record shape
//!   cannot carry at all (GKE has no `user.groups`, no `stage` …). The
//!   renderer simply does not write them; kaudit's decoders list them in
//!   `kaudit.missing`.

use serde_json::{Map, Value};

pub mod coverage;
mod gke;
mod policy;

/// A vendor record shape the renderer can produce.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Target {
    /// The apiserver's own log/webhook Event (formats.md §2): identity.
    Vanilla,
    /// EKS CloudWatch Logs `FilterLogEvents` row (formats.md §3).
    Eks,
    /// AKS diagnostic-settings record, category `kube-audit` (formats.md §5).
    Aks,
    /// AKS diagnostic-settings record, category `kube-audit-admin` (no get/list).
    AksAdmin,
    /// GKE Cloud Audit Logs `LogEntry` (formats.md §7).
    Gke,
    /// OpenShift cluster-logging-operator ViaQ (Vector) record (formats.md §9).
    Openshift,
}

impl Target {
    /// Every target, in matrix column order.
    pub const ALL: [Target; 6] =
        [Target::Vanilla, Target::Eks, Target::Aks, Target::AksAdmin, Target::Gke, Target::Openshift];

    /// Stable id (CLI, JSON).
    pub fn id(self) -> &'static str {
        match self {
            Target::Vanilla => "vanilla",
            Target::Eks => "eks",
            Target::Aks => "aks",
            Target::AksAdmin => "aks-admin",
            Target::Gke => "gke",
            Target::Openshift => "openshift",
        }
    }

    pub fn from_id(s: &str) -> Option<Target> {
        Target::ALL.into_iter().find(|t| t.id() == s)
    }

    /// What rendering for this target assumes (the matrix legend).
    pub fn assumes(self) -> &'static str {
        match self {
            Target::Vanilla => "the apiserver's log/webhook Event as the test wrote it (no transport loss)",
            Target::Eks => {
                "CloudWatch FilterLogEvents row; EKS policy = configure-helper.sh + aws-auth rule: no RequestReceived, \
                 no core events, Metadata for secrets/configmaps/tokens, Request for get/list/watch; 256 KB cut"
            }
            Target::Aks => {
                "diagnostic record, category kube-audit (every verb); AKS's policy is undocumented, bodies kept as written"
            }
            Target::AksAdmin => "diagnostic record, category kube-audit-admin: get and list are never delivered",
            Target::Gke => {
                "Cloud Audit LogEntry, Admin Activity AND Data Access logs enabled; configure-helper.sh policy; \
                 one entry per request (a long-running request's ResponseComplete copy folded away); \
                 no user groups/uid/extra, stage, level, stageTimestamp, URI query, objectRef uid/resourceVersion; \
                 HTTP code only on errors"
            }
            Target::Openshift => {
                "CLO ViaQ (Vector) record, Default audit profile: Metadata only (bodies only for OAuth token and \
                 identity writes), no RequestReceived; real OpenShift samples count as recorded"
            }
        }
    }
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.id())
    }
}

/// Canonical paths a target's record shape cannot carry at all (format
/// losses; the decoder marks them missing). Policy losses are separate
/// ([`lossy`]). Paths are `a.b` into the Event; `requestURI.query` means
/// the query part of `requestURI`; `sourceIPs[1..]` every IP after the first;
/// `responseStatus.code<400` the code of a non-error response.
pub fn format_losses(target: Target) -> &'static [&'static str] {
    match target {
        // §7 mapping table / §11: what a LogEntry has no place for.
        Target::Gke => &[
            "level",
            "stage",
            "stageTimestamp",
            "requestURI.query",
            "user.uid",
            "user.groups",
            "user.extra",
            "impersonatedUser.groups",
            "impersonatedUser.uid",
            "impersonatedUser.extra",
            "sourceIPs[1..]",
            "objectRef.uid",
            "objectRef.resourceVersion",
            "responseStatus.code<400",
            "responseStatus.status",
            "responseStatus.reason",
            "responseStatus.metadata",
            "responseStatus.details",
        ],
        // §9: ViaQ overwrites `level`; the renderer writes the audit level
        // into `k8s_audit_level`, which the decoder reads back.
        Target::Vanilla | Target::Eks | Target::Aks | Target::AksAdmin | Target::Openshift => &[],
    }
}

/// The Event as `target` would keep it after its audit policy / export
/// setting (policy losses), still as a vanilla Event, or `None` when that
/// vendor never delivers it. `event` is a vanilla canonical event; its
/// `kaudit` object is dropped.
pub fn lossy(event: &Value, target: Target) -> Option<Value> {
    let Value::Object(m) = event else { return None };
    let mut ev = m.clone();
    ev.remove("kaudit");
    if target != Target::Vanilla {
        // A vendor record carries an audit Event and nothing else: keys a
        // shipper added after the fact (Panther's `p_*`) are not part of it.
        ev.retain(|k, _| EVENT_ORDER.contains(&k.as_str()) || LEGACY_KEYS.contains(&k.as_str()));
    }
    match target {
        // §2: the transport loses nothing.
        Target::Vanilla => {}
        // §5: no documented policy; the `skipped-too-big-size-object`
        // replacement has no documented threshold and is not modelled.
        Target::Aks => {}
        // §5: "`kube-audit-admin` is the same minus `get` and `list`".
        Target::AksAdmin => {
            if matches!(str_at(&ev, &["verb"]), Some("get" | "list")) {
                return None;
            }
        }
        // §3: EKS runs the upstream configure-helper.sh policy plus a
        // RequestResponse rule for kube-system/aws-auth writes.
        Target::Eks => policy::apply(&mut ev, &policy::EKS)?,
        // §7: GKE uses the upstream configure-helper.sh policy (S41, S11),
        // and writes one LogEntry per request: `operation.first` and
        // `.last` are always true ("Kubernetes does not support
        // long-running operations", Google's GKE audit-log schema notes in
        // GoogleCloudPlatform/gke-mcp). A long-running request's two stage
        // events become one entry; the renderer keeps the ResponseStarted
        // one (which of the two GKE keeps is unverified).
        Target::Gke => {
            if str_at(&ev, &["stage"]) == Some("ResponseComplete") && gke::long_running(&ev) {
                return None;
            }
            policy::apply(&mut ev, &policy::CONFIGURE_HELPER)?
        }
        // §9 / S45: the Default profile logs metadata only, except OAuth
        // token and identity writes; RequestReceived is omitted globally.
        Target::Openshift => policy::apply(&mut ev, &policy::OPENSHIFT_DEFAULT)?,
    }
    Some(Value::Object(ev))
}

/// Render a vanilla canonical event as `target`'s record (JSON text), or
/// `None` when that vendor never delivers it. See [`lossy`] for the policy
/// losses; the record shape's own losses are documented per target below
/// and listed by [`format_losses`].
pub fn render(event: &Value, target: Target) -> Option<String> {
    let ev = lossy(event, target)?;
    let Value::Object(ev) = ev else { return None };
    Some(match target {
        Target::Vanilla => event_json(&ev),
        Target::Eks => eks(&ev),
        Target::Aks => aks(&ev, "kube-audit"),
        Target::AksAdmin => aks(&ev, "kube-audit-admin"),
        Target::Gke => gke::log_entry(&ev, &gke::Context::of(event)),
        Target::Openshift => viaq(&ev),
    })
}

/// The apiserver's field order (audit/v1 `Event`), so that a cut message
/// loses what the apiserver would lose (bodies and the fields after them).
const EVENT_ORDER: &[&str] = kaudit_core::event::EVENT_KEYS;

/// `audit.k8s.io/v1beta1` keys still seen in old captures (formats.md §1).
const LEGACY_KEYS: &[&str] = &["timestamp", "metadata"];

/// An Event object as compact JSON, keys in the apiserver's order, then any
/// others.
pub fn event_json(ev: &Map<String, Value>) -> String {
    let mut out = String::from("{");
    let mut first = true;
    let mut put = |k: &str, v: &Value| {
        if !first {
            out.push(',');
        }
        first = false;
        out.push_str(&Value::String(k.to_string()).to_string());
        out.push(':');
        out.push_str(&v.to_string());
    };
    for k in EVENT_ORDER {
        if let Some(v) = ev.get(*k) {
            put(k, v);
        }
    }
    for (k, v) in ev {
        if !EVENT_ORDER.contains(&k.as_str()) {
            put(k, v);
        }
    }
    out.push('}');
    out
}

pub(crate) fn str_at<'v>(ev: &'v Map<String, Value>, path: &[&str]) -> Option<&'v str> {
    let (last, init) = path.split_last()?;
    let mut m = ev;
    for k in init {
        m = m.get(*k)?.as_object()?;
    }
    m.get(*last)?.as_str()
}

/// FNV-1a, for deterministic ids (stream names, event ids, pod names).
pub(crate) fn fnv(seed: u64, data: &[u8]) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325u64 ^ seed;
    for b in data {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

pub(crate) fn hex(seed: u64, data: &[u8], len: usize) -> String {
    let mut s = String::new();
    let mut i = 0u64;
    while s.len() < len {
        s.push_str(&format!("{:016x}", fnv(seed.wrapping_add(i), data)));
        i += 1;
    }
    s.truncate(len);
    s
}

/// The event's time: `stageTimestamp`, else `requestReceivedTimestamp`.
fn event_time(ev: &Map<String, Value>) -> Option<&str> {
    str_at(ev, &["stageTimestamp"]).or_else(|| str_at(ev, &["requestReceivedTimestamp"]))
}

/// Milliseconds since the epoch of the event's time; a fixed instant when
/// the test event has none (CloudWatch always has one).
fn event_millis(ev: &Map<String, Value>) -> i64 {
    event_time(ev).and_then(kaudit_core::rules::state::parse_time).map(|us| us / 1000).unwrap_or(1_704_067_200_000)
}

/// CloudWatch's per-event cap: 256 KiB including 26 bytes of overhead
/// (formats.md §3: "a CloudWatch entry is capped at 256 KB"; S27).
pub const CLOUDWATCH_MAX_MESSAGE: usize = 262_144 - 26;

/// EKS (formats.md §3): a `FilterLogEvents` row from log group
/// `/aws/eks/<cluster>/cluster`, stream `kube-apiserver-audit-<32 hex>`,
/// whose `message` is the compact Event JSON. A message over the CloudWatch
/// cap is cut and ends with `[Truncated...]` (invalid JSON, as on EKS).
fn eks(ev: &Map<String, Value>) -> String {
    let mut msg = event_json(ev);
    let marker = std::str::from_utf8(kaudit_core::frame::TRUNCATED_MARKER).unwrap_or("[Truncated...]");
    if msg.len() > CLOUDWATCH_MAX_MESSAGE {
        let mut cut = CLOUDWATCH_MAX_MESSAGE - marker.len();
        while !msg.is_char_boundary(cut) {
            cut -= 1;
        }
        msg.truncate(cut);
        msg.push_str(marker);
    }
    let id = str_at(ev, &["auditID"]).unwrap_or("").as_bytes().to_vec();
    let ts = event_millis(ev);
    // eventId: CloudWatch ids are 56 decimal digits.
    let digits: String = hex(7, &id, 56).bytes().map(|b| char::from(b'0' + b % 10)).collect();
    let mut row = Map::new();
    row.insert("logStreamName".into(), format!("kube-apiserver-audit-{}", hex(1, b"kaudit-render", 32)).into());
    row.insert("timestamp".into(), ts.into());
    row.insert("message".into(), msg.into());
    // Delivery is "within a few minutes … best effort" (S26): one second.
    row.insert("ingestionTime".into(), (ts + 1000).into());
    row.insert("eventId".into(), digits.into());
    ordered(&row, &["logStreamName", "timestamp", "message", "ingestionTime", "eventId"])
}

/// AKS (formats.md §5): one diagnostic-settings record (storage-account
/// line; an Event Hub body wraps such records in `records[]`). The Event is
/// a JSON string ending in a newline in `properties.log`.
fn aks(ev: &Map<String, Value>, category: &str) -> String {
    let id = str_at(ev, &["auditID"]).unwrap_or("").as_bytes().to_vec();
    let time = event_time(ev).unwrap_or("2024-01-01T00:00:00Z").to_string();
    let mut props = Map::new();
    props.insert("log".into(), format!("{}\n", event_json(ev)).into());
    props.insert("stream".into(), "stdout".into());
    props.insert("pod".into(), format!("kube-apiserver-{}-{}", hex(3, b"pod", 10), hex(4, b"pod", 5)).into());
    props.insert("containerID".into(), hex(5, &id, 64).into());
    let mut rec = Map::new();
    rec.insert("time".into(), time.into());
    rec.insert(
        "resourceId".into(),
        "/SUBSCRIPTIONS/00000000-0000-0000-0000-000000000000/RESOURCEGROUPS/KAUDIT-RENDER/PROVIDERS/\
         MICROSOFT.CONTAINERSERVICE/MANAGEDCLUSTERS/KAUDIT-RENDER"
            .into(),
    );
    rec.insert("category".into(), category.into());
    rec.insert("operationName".into(), "Microsoft.ContainerService/managedClusters/diagnosticLogs/Read".into());
    // `properties` is an object; both keep their documented member order.
    let props_text = ordered(&props, &["log", "stream", "pod", "containerID"]);
    let mut out = ordered(&rec, &["time", "resourceId", "category", "operationName"]);
    out.pop();
    out.push_str(",\"properties\":");
    out.push_str(&props_text);
    out.push('}');
    out
}

/// OpenShift (formats.md §9): a ViaQ record from the Vector collector. The
/// Event's fields sit at the top level; the collector adds `log_type`,
/// `log_source`, `hostname`, `openshift.cluster_id`, `@timestamp`, copies
/// the audit level into `k8s_audit_level` and overwrites `level` with
/// `"default"` (as in CLO's `hack/logsamples`, S10).
fn viaq(ev: &Map<String, Value>) -> String {
    let mut rec = ev.clone();
    if let Some(l) = ev.get("level") {
        rec.insert("k8s_audit_level".into(), l.clone());
    }
    rec.insert("level".into(), "default".into());
    rec.insert("log_type".into(), "audit".into());
    rec.insert("log_source".into(), "kubeAPI".into());
    rec.insert("hostname".into(), "master-0.kaudit-render.example".into());
    let mut os = Map::new();
    os.insert("cluster_id".into(), "00000000-0000-4000-8000-000000000000".into());
    rec.insert("openshift".into(), Value::Object(os));
    rec.insert("@timestamp".into(), event_time(ev).unwrap_or("2024-01-01T00:00:00Z").to_string().into());
    event_json(&rec)
}

/// An object with `first` keys in that order, then the rest.
fn ordered(m: &Map<String, Value>, first: &[&str]) -> String {
    let mut out = String::from("{");
    let mut n = 0;
    let mut put = |k: &str, v: &Value, out: &mut String| {
        if n > 0 {
            out.push(',');
        }
        n += 1;
        out.push_str(&Value::String(k.to_string()).to_string());
        out.push(':');
        out.push_str(&v.to_string());
    };
    for k in first {
        if let Some(v) = m.get(*k) {
            put(k, v, &mut out);
        }
    }
    for (k, v) in m {
        if !first.contains(&k.as_str()) {
            put(k, v, &mut out);
        }
    }
    out.push('}');
    out
}

/// Tests: a JSON object literal as a map.
#[cfg(test)]
pub(crate) fn test_object(v: &str) -> serde_json::Map<String, serde_json::Value> {
    match serde_json::from_str(v) {
        Ok(serde_json::Value::Object(m)) => m,
        other => panic!("not a JSON object: {other:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(v: &str) -> Value {
        serde_json::from_str(v).unwrap()
    }

    #[test]
    fn ids_round_trip() {
        for t in Target::ALL {
            assert_eq!(Target::from_id(t.id()), Some(t));
        }
    }

    #[test]
    fn eks_drops_request_received_and_events() {
        let rr = ev(r#"{"kind":"Event","stage":"RequestReceived","verb":"create","objectRef":{"resource":"pods"}}"#);
        assert!(render(&rr, Target::Eks).is_none());
        let e = ev(r#"{"kind":"Event","stage":"ResponseComplete","verb":"create","objectRef":{"resource":"events"}}"#);
        assert!(render(&e, Target::Eks).is_none());
        assert!(render(&e, Target::Vanilla).is_some());
    }

    #[test]
    fn eks_secrets_are_metadata() {
        let e = ev(r#"{"kind":"Event","level":"RequestResponse","stage":"ResponseComplete","verb":"create",
            "objectRef":{"resource":"secrets","namespace":"a"},"requestObject":{"kind":"Secret"}}"#);
        let l = lossy(&e, Target::Eks).unwrap();
        assert_eq!(l["level"], "Metadata");
        assert!(l.get("requestObject").is_none());
    }

    #[test]
    fn eks_cuts_oversize_messages() {
        let big = "x".repeat(300_000);
        let e = ev(&format!(
            r#"{{"kind":"Event","level":"RequestResponse","stage":"ResponseComplete","verb":"create",
            "objectRef":{{"resource":"pods"}},"requestObject":{{"data":"{big}"}}}}"#
        ));
        let row: Value = serde_json::from_str(&render(&e, Target::Eks).unwrap()).unwrap();
        let m = row["message"].as_str().unwrap();
        assert!(m.len() <= CLOUDWATCH_MAX_MESSAGE);
        assert!(m.ends_with("[Truncated...]"));
    }

    #[test]
    fn aks_admin_drops_reads() {
        let e = ev(r#"{"kind":"Event","stage":"ResponseComplete","verb":"get","objectRef":{"resource":"secrets"}}"#);
        assert!(render(&e, Target::AksAdmin).is_none());
        let rec: Value = serde_json::from_str(&render(&e, Target::Aks).unwrap()).unwrap();
        assert_eq!(rec["category"], "kube-audit");
        assert!(rec["properties"]["log"].as_str().unwrap().ends_with('\n'));
    }

    #[test]
    fn openshift_default_profile_is_metadata() {
        let e = ev(r#"{"kind":"Event","level":"RequestResponse","stage":"ResponseComplete","verb":"create",
            "objectRef":{"resource":"pods"},"requestObject":{"kind":"Pod"}}"#);
        let rec: Value = serde_json::from_str(&render(&e, Target::Openshift).unwrap()).unwrap();
        assert_eq!(rec["k8s_audit_level"], "Metadata");
        assert_eq!(rec["level"], "default");
        assert!(rec.get("requestObject").is_none());
    }
}
