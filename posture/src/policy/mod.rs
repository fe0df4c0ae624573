//! audit.k8s.io/v1 `Policy`: parse, validate, simulate, lint.
//!
//! * [`parse`] — YAML (saphyr) or JSON text → [`Policy`], errors naming the place.
//! * [`validate`] — the checks kube-apiserver runs before it starts
//!   (`validation.go` + `reader.go`).
//! * [`simulate`] — the level and omitted stages the apiserver picks for a
//!   request (`checker.go`).
//! * [`probes`] — request attribute tuples (the built-in probe set and the
//!   `probes.json` format).
//! * [`lint`] — the `AP-*` checks over a simulated policy.
//! * [`volume`] — estimated events per verb class for a request mix.
//! * [`deps`] — which detection rules go blind under a policy (AP-D01).
//! * [`profiles`] — the effective policies of managed clusters (GKE, EKS, AKS).
//! * [`resources`] — which API group serves which built-in resource.

pub mod deps;
pub mod lint;
pub mod parse;
pub mod probes;
pub mod profiles;
pub mod resources;
pub mod simulate;
pub mod validate;
pub mod volume;

pub use parse::{parse, ParseError};
pub use probes::Probe;
pub use simulate::Decision;

/// An audit level, ordered: `None < Metadata < Request < RequestResponse`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    None,
    Metadata,
    Request,
    RequestResponse,
}

impl Level {
    pub const ALL: [Level; 4] = [Level::None, Level::Metadata, Level::Request, Level::RequestResponse];

    pub fn as_str(self) -> &'static str {
        match self {
            Level::None => "None",
            Level::Metadata => "Metadata",
            Level::Request => "Request",
            Level::RequestResponse => "RequestResponse",
        }
    }

    pub fn parse(s: &str) -> Option<Level> {
        Level::ALL.into_iter().find(|l| l.as_str() == s)
    }
}

/// An audit stage (the valid `omitStages` values of `validation.go`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Stage {
    RequestReceived,
    ResponseStarted,
    ResponseComplete,
    Panic,
}

impl Stage {
    pub const ALL: [Stage; 4] = [Stage::RequestReceived, Stage::ResponseStarted, Stage::ResponseComplete, Stage::Panic];

    pub fn as_str(self) -> &'static str {
        match self {
            Stage::RequestReceived => "RequestReceived",
            Stage::ResponseStarted => "ResponseStarted",
            Stage::ResponseComplete => "ResponseComplete",
            Stage::Panic => "Panic",
        }
    }

    pub fn parse(s: &str) -> Option<Stage> {
        Stage::ALL.into_iter().find(|l| l.as_str() == s)
    }
}

/// A `GroupResources` entry of a rule.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GroupResources {
    /// `""` is the core group.
    pub group: String,
    pub resources: Vec<String>,
    pub resource_names: Vec<String>,
}

/// A `PolicyRule`. Level and stages are kept as written (validation reports
/// bad values; the simulator runs only on valid policies).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PolicyRule {
    /// As written; `""` when absent.
    pub level: String,
    pub users: Vec<String>,
    pub user_groups: Vec<String>,
    pub verbs: Vec<String>,
    pub resources: Vec<GroupResources>,
    pub namespaces: Vec<String>,
    pub non_resource_urls: Vec<String>,
    pub omit_stages: Vec<String>,
    pub omit_managed_fields: Option<bool>,
    /// 1-based line of the rule in the source (0 if unknown).
    pub line: usize,
}

impl PolicyRule {
    /// The level, if it is one of the four.
    pub fn level(&self) -> Option<Level> {
        Level::parse(&self.level)
    }

    /// Whether the rule sets no matcher at all (matches every request).
    pub fn is_unconditional(&self) -> bool {
        self.users.is_empty()
            && self.user_groups.is_empty()
            && self.verbs.is_empty()
            && self.resources.is_empty()
            && self.namespaces.is_empty()
            && self.non_resource_urls.is_empty()
    }
}

/// A `Policy` document.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Policy {
    /// As written; `""` when absent.
    pub api_version: String,
    pub kind: String,
    pub rules: Vec<PolicyRule>,
    pub omit_stages: Vec<String>,
    pub omit_managed_fields: Option<bool>,
    /// Keys that are not fields of the Policy or PolicyRule types
    /// (`rules[3].resource`, …): kube-apiserver's decoder ignores them.
    pub unknown_fields: Vec<String>,
}
