//! The canonical event: an `audit.k8s.io/v1` `Event` plus kaudit's context.
//!
//! [`AuditEvent`] is a borrowed view: strings point into the record (or into
//! the one buffer a nested-string hop had to decode), request and response
//! bodies stay raw JSON text. Nothing in here is ever filled with a guessed
//! value; what a source cannot say is listed in [`AuditEvent::missing`].

use serde::Deserialize;

use crate::json::{Raw, Str};

/// The `audit.k8s.io/v1` `Event` keys in the order the apiserver writes them.
pub const EVENT_KEYS: &[&str] = &[
    "kind",
    "apiVersion",
    "level",
    "auditID",
    "stage",
    "requestURI",
    "verb",
    "user",
    "impersonatedUser",
    "sourceIPs",
    "userAgent",
    "objectRef",
    "responseStatus",
    "requestObject",
    "responseObject",
    "requestReceivedTimestamp",
    "stageTimestamp",
    "annotations",
];

/// `authentication/v1` `UserInfo`.
#[derive(Debug, Default, Clone, Deserialize, PartialEq)]
pub struct UserInfo<'a> {
    #[serde(borrow, default)]
    pub username: Option<Str<'a>>,
    #[serde(borrow, default)]
    pub uid: Option<Str<'a>>,
    #[serde(borrow, default)]
    pub groups: Option<Vec<Str<'a>>>,
    /// `map[string][]string`, kept raw.
    #[serde(borrow, default)]
    pub extra: Option<Raw<'a>>,
}

/// `audit.k8s.io/v1` `ObjectReference`.
#[derive(Debug, Default, Clone, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ObjectRef<'a> {
    #[serde(borrow, default)]
    pub resource: Option<Str<'a>>,
    #[serde(borrow, default)]
    pub namespace: Option<Str<'a>>,
    #[serde(borrow, default)]
    pub name: Option<Str<'a>>,
    #[serde(borrow, default)]
    pub uid: Option<Str<'a>>,
    #[serde(borrow, default)]
    pub api_group: Option<Str<'a>>,
    #[serde(borrow, default)]
    pub api_version: Option<Str<'a>>,
    #[serde(borrow, default)]
    pub resource_version: Option<Str<'a>>,
    #[serde(borrow, default)]
    pub subresource: Option<Str<'a>>,
}

/// `metav1.Status` as found in `responseStatus`.
#[derive(Debug, Default, Clone, Deserialize, PartialEq)]
pub struct ResponseStatus<'a> {
    #[serde(borrow, default)]
    pub metadata: Option<Raw<'a>>,
    #[serde(borrow, default)]
    pub status: Option<Str<'a>>,
    #[serde(borrow, default)]
    pub message: Option<Str<'a>>,
    #[serde(borrow, default)]
    pub reason: Option<Str<'a>>,
    #[serde(borrow, default)]
    pub details: Option<Raw<'a>>,
    #[serde(default)]
    pub code: Option<i64>,
}

/// Which record shape an event came from. The ids are stable: they appear in
/// output, stats and rule coverage.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Source {
    /// A log-backend line: one `Event` per line.
    K8s,
    /// A webhook batch: `EventList`.
    K8sEventList,
    /// A CloudWatch Logs message or `FilterLogEvents` row.
    EksCloudwatch,
    /// A CloudWatch subscription-filter payload (Lambda, Kinesis, Firehose).
    EksSubscription,
    /// An Azure diagnostic-settings record (`kube-audit`, `kube-audit-admin`).
    AksDiagnostic,
    /// A Log Analytics `AKSAudit` / `AKSAuditAdmin` row.
    AksLogAnalytics,
    /// A legacy `AzureDiagnostics` row (`log_s`).
    AksAzureDiagnostics,
    /// A GKE Cloud Audit Logs `LogEntry`.
    GkeLogEntry,
    /// A Pub/Sub push envelope around a GKE `LogEntry`.
    GkePubsub,
    /// An OpenShift cluster-logging-operator ViaQ record.
    OpenshiftViaq,
    /// An OpenShift OTLP `resourceLogs` export.
    OpenshiftOtlp,
    /// A Fluent Bit `{"log": …}` or Vector `{"message": …}` wrapper around a
    /// vanilla line.
    K8sShipper,
}

impl Source {
    /// Every source, in id order.
    pub const ALL: [Source; 12] = [
        Source::K8s,
        Source::K8sEventList,
        Source::EksCloudwatch,
        Source::EksSubscription,
        Source::AksDiagnostic,
        Source::AksLogAnalytics,
        Source::AksAzureDiagnostics,
        Source::GkeLogEntry,
        Source::GkePubsub,
        Source::OpenshiftViaq,
        Source::OpenshiftOtlp,
        Source::K8sShipper,
    ];

    /// The stable id.
    pub fn id(self) -> &'static str {
        match self {
            Source::K8s => "k8s",
            Source::K8sEventList => "k8s.eventlist",
            Source::EksCloudwatch => "eks.cloudwatch",
            Source::EksSubscription => "eks.subscription",
            Source::AksDiagnostic => "aks.diagnostic",
            Source::AksLogAnalytics => "aks.loganalytics",
            Source::AksAzureDiagnostics => "aks.azurediagnostics",
            Source::GkeLogEntry => "gke.logentry",
            Source::GkePubsub => "gke.pubsub",
            Source::OpenshiftViaq => "openshift.viaq",
            Source::OpenshiftOtlp => "openshift.otlp",
            Source::K8sShipper => "k8s.shipper",
        }
    }

    /// Parse a stable id.
    pub fn from_id(id: &str) -> Option<Source> {
        Source::ALL.into_iter().find(|s| s.id() == id)
    }

    /// The provider a record of this shape comes from, when the shape alone says.
    pub fn provider(self) -> Provider {
        match self {
            Source::EksCloudwatch | Source::EksSubscription => Provider::Eks,
            Source::AksDiagnostic | Source::AksLogAnalytics | Source::AksAzureDiagnostics => Provider::Aks,
            Source::GkeLogEntry | Source::GkePubsub => Provider::Gke,
            Source::OpenshiftViaq | Source::OpenshiftOtlp => Provider::Openshift,
            Source::K8s | Source::K8sEventList | Source::K8sShipper => Provider::Kubernetes,
        }
    }
}

/// The platform a cluster runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub enum Provider {
    #[default]
    Kubernetes,
    Eks,
    Aks,
    Gke,
    Openshift,
}

impl Provider {
    /// The stable id.
    pub fn id(self) -> &'static str {
        match self {
            Provider::Kubernetes => "kubernetes",
            Provider::Eks => "eks",
            Provider::Aks => "aks",
            Provider::Gke => "gke",
            Provider::Openshift => "openshift",
        }
    }
}

/// Where the event happened, as far as the record says.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Cluster<'a> {
    pub provider: Provider,
    /// Cluster name (EKS log group, AKS resource id, GKE `cluster_name`).
    pub name: Option<Str<'a>>,
    /// Region or location (GKE `location`).
    pub region: Option<Str<'a>>,
    /// AWS account, Azure subscription, or GCP project.
    pub account: Option<Str<'a>>,
    /// A provider-specific cluster id (Azure resource id, OpenShift cluster id).
    pub id: Option<Str<'a>>,
}

/// Did the request succeed?
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Outcome {
    Success,
    Failure,
    #[default]
    Unknown,
}

impl Outcome {
    /// The stable id.
    pub fn id(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Failure => "failure",
            Outcome::Unknown => "unknown",
        }
    }

    /// From an HTTP status code: below 400 is success (101 for exec, 302 for an
    /// OAuth redirect), 400 and above is failure.
    pub fn from_http(code: i64) -> Outcome {
        if (100..400).contains(&code) {
            Outcome::Success
        } else if (400..600).contains(&code) {
            Outcome::Failure
        } else {
            Outcome::Unknown
        }
    }
}

/// A canonical field that a source could not provide for one record.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Field {
    Level,
    AuditId,
    Stage,
    RequestUri,
    /// The query string of `requestURI` (exec `command=`, `watch`, `dryRun`).
    RequestUriQuery,
    Verb,
    UserUsername,
    UserUid,
    UserGroups,
    UserExtra,
    ImpersonatedUser,
    ImpersonatedUserGroups,
    SourceIps,
    UserAgent,
    ObjectRefUid,
    ObjectRefResourceVersion,
    ResponseStatusCode,
    RequestObject,
    ResponseObject,
    RequestReceivedTimestamp,
    StageTimestamp,
    Annotations,
    /// Not a field: the reason a rule is blind when its text matchers used
    /// up the rule's match budget on the event (`RuleSet::match_budget`).
    /// Never in a `missing` set; not in [`Field::ALL`]; its path is `budget`.
    MatchBudget,
}

impl Field {
    /// Every field, in canonical order.
    pub const ALL: [Field; 22] = [
        Field::Level,
        Field::AuditId,
        Field::Stage,
        Field::RequestUri,
        Field::RequestUriQuery,
        Field::Verb,
        Field::UserUsername,
        Field::UserUid,
        Field::UserGroups,
        Field::UserExtra,
        Field::ImpersonatedUser,
        Field::ImpersonatedUserGroups,
        Field::SourceIps,
        Field::UserAgent,
        Field::ObjectRefUid,
        Field::ObjectRefResourceVersion,
        Field::ResponseStatusCode,
        Field::RequestObject,
        Field::ResponseObject,
        Field::RequestReceivedTimestamp,
        Field::StageTimestamp,
        Field::Annotations,
    ];

    /// The canonical JSON path. `requestURI.query` names the query part of
    /// `requestURI` (there is no such key; the path is kaudit's).
    pub fn path(self) -> &'static str {
        match self {
            Field::Level => "level",
            Field::AuditId => "auditID",
            Field::Stage => "stage",
            Field::RequestUri => "requestURI",
            Field::RequestUriQuery => "requestURI.query",
            Field::Verb => "verb",
            Field::UserUsername => "user.username",
            Field::UserUid => "user.uid",
            Field::UserGroups => "user.groups",
            Field::UserExtra => "user.extra",
            Field::ImpersonatedUser => "impersonatedUser",
            Field::ImpersonatedUserGroups => "impersonatedUser.groups",
            Field::SourceIps => "sourceIPs",
            Field::UserAgent => "userAgent",
            Field::ObjectRefUid => "objectRef.uid",
            Field::ObjectRefResourceVersion => "objectRef.resourceVersion",
            Field::ResponseStatusCode => "responseStatus.code",
            Field::RequestObject => "requestObject",
            Field::ResponseObject => "responseObject",
            Field::RequestReceivedTimestamp => "requestReceivedTimestamp",
            Field::StageTimestamp => "stageTimestamp",
            Field::Annotations => "annotations",
            Field::MatchBudget => "budget",
        }
    }

    /// Parse a canonical path (`budget` is not one).
    pub fn from_path(p: &str) -> Option<Field> {
        Field::ALL.into_iter().find(|f| f.path() == p)
    }
}

/// A set of [`Field`]s (a bit set: no allocation).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct FieldSet(u32);

impl FieldSet {
    /// The empty set.
    pub const EMPTY: FieldSet = FieldSet(0);

    /// A set of the given fields.
    pub const fn of(fields: &[Field]) -> FieldSet {
        let mut bits = 0u32;
        let mut i = 0;
        while i < fields.len() {
            bits |= 1 << fields[i] as u8;
            i += 1;
        }
        FieldSet(bits)
    }

    pub fn insert(&mut self, f: Field) {
        self.0 |= 1 << f as u8;
    }

    pub fn contains(self, f: Field) -> bool {
        self.0 & (1 << f as u8) != 0
    }

    pub fn union(self, other: FieldSet) -> FieldSet {
        FieldSet(self.0 | other.0)
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    pub fn len(self) -> usize {
        self.0.count_ones() as usize
    }

    /// The fields in canonical order.
    pub fn iter(self) -> impl Iterator<Item = Field> {
        Field::ALL.into_iter().filter(move |f| self.contains(*f))
    }

    /// The first field (in [`Field::ALL`]'s order) in both sets: what
    /// `self.iter().find(|f| other.contains(*f))` finds, with one `and`
    /// where they share nothing (nearly always: `iter` walks every field).
    pub fn first_common(self, other: FieldSet) -> Option<Field> {
        if self.0 & other.0 == 0 {
            return None;
        }
        FieldSet(self.0 & other.0).iter().next()
    }
}

/// Marks on an event that are neither missing fields nor errors.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct Flags {
    /// The record was cut by its transport (EKS `[Truncated...]`) and only its
    /// complete leading members were decoded.
    pub truncated: bool,
    /// AKS replaced a body with the string `"skipped-too-big-size-object"`.
    pub body_too_big: bool,
    /// The decoder validated the annotations' JSON text as it read it and
    /// found no `\u` escape in it. `false` where not known (other decoders):
    /// a reader must then look for one itself. Detection's index uses it to
    /// rule annotation keys out from the text alone (`rules/index.rs`).
    pub annotations_without_u_escape: bool,
}

/// One canonical audit event, borrowed from the record it was decoded from.
#[derive(Debug, Default, Clone)]
pub struct AuditEvent<'a> {
    pub kind: Option<Str<'a>>,
    pub api_version: Option<Str<'a>>,
    pub level: Option<Str<'a>>,
    pub audit_id: Option<Str<'a>>,
    pub stage: Option<Str<'a>>,
    pub request_uri: Option<Str<'a>>,
    pub verb: Option<Str<'a>>,
    pub user: Option<UserInfo<'a>>,
    pub impersonated_user: Option<UserInfo<'a>>,
    pub source_ips: Option<Vec<Str<'a>>>,
    pub user_agent: Option<Str<'a>>,
    pub object_ref: Option<ObjectRef<'a>>,
    pub response_status: Option<ResponseStatus<'a>>,
    pub request_object: Option<Raw<'a>>,
    pub response_object: Option<Raw<'a>>,
    pub request_received_timestamp: Option<Str<'a>>,
    pub stage_timestamp: Option<Str<'a>>,
    /// `map[string]string`, kept raw.
    pub annotations: Option<Raw<'a>>,

    /// The shape the event came from.
    pub source: Option<Source>,
    /// Cluster context.
    pub cluster: Cluster<'a>,
    /// Fields this source could not provide for this record.
    pub missing: FieldSet,
    /// Success or failure of the request.
    pub outcome: Outcome,
    /// Transport marks.
    pub flags: Flags,
    /// When the transport received the record (CloudWatch `timestamp` in ms,
    /// Azure `time`, GKE `receiveTimestamp`, Pub/Sub `publishTime` …), as the
    /// record wrote it: raw JSON text.
    pub received: Option<Raw<'a>>,
    /// When the event's JSON object is exactly the vanilla Event the source
    /// carried, its text. The encoder then copies it verbatim (so every
    /// original field survives, unknown ones too) and appends `kaudit`.
    pub verbatim: Option<std::borrow::Cow<'a, str>>,
}

impl<'a> AuditEvent<'a> {
    /// The source id (`k8s`, `gke.logentry`, …).
    pub fn source_id(&self) -> &'static str {
        self.source.map(Source::id).unwrap_or("unknown")
    }

    /// `user.username`, if present.
    pub fn username(&self) -> Option<&str> {
        self.user.as_ref()?.username.as_deref()
    }

    /// `objectRef.resource`, if present.
    pub fn resource(&self) -> Option<&str> {
        self.object_ref.as_ref()?.resource.as_deref()
    }

    /// `objectRef.subresource`, if present.
    pub fn subresource(&self) -> Option<&str> {
        self.object_ref.as_ref()?.subresource.as_deref()
    }

    /// `objectRef.namespace`, if present.
    pub fn namespace(&self) -> Option<&str> {
        self.object_ref.as_ref()?.namespace.as_deref()
    }

    /// `objectRef.name`, if present.
    pub fn name(&self) -> Option<&str> {
        self.object_ref.as_ref()?.name.as_deref()
    }

    /// `responseStatus.code`, if present.
    pub fn code(&self) -> Option<i64> {
        self.response_status.as_ref()?.code
    }

    /// Set `outcome` from `responseStatus` (code first, then `status`).
    pub(crate) fn derive_outcome(&mut self) {
        if let Some(rs) = &self.response_status {
            if let Some(code) = rs.code {
                self.outcome = Outcome::from_http(code);
                return;
            }
            match rs.status.as_deref() {
                Some("Success") => self.outcome = Outcome::Success,
                Some("Failure") => self.outcome = Outcome::Failure,
                _ => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn source_discriminants_index_all() {
        for (i, s) in Source::ALL.iter().enumerate() {
            assert_eq!(*s as usize, i);
            assert_eq!(Source::from_id(s.id()), Some(*s));
        }
        for f in Field::ALL {
            assert_eq!(Field::from_path(f.path()), Some(f));
        }
    }

    #[test]
    fn first_common_is_the_first_shared_field_in_order() {
        let all: Vec<Field> = Field::ALL.to_vec();
        // Every pair of small sets drawn from the fields, against the walk.
        for (i, &a) in all.iter().enumerate() {
            for &b in all.iter().skip(i) {
                let x = FieldSet::of(&[a, b]);
                for &c in &all {
                    for y in [FieldSet::of(&[c]), FieldSet::of(&[c, a]), FieldSet::of(&[b, c]), FieldSet::EMPTY] {
                        assert_eq!(x.first_common(y), x.iter().find(|f| y.contains(*f)), "{a:?} {b:?} {c:?}");
                    }
                }
            }
        }
    }
}
