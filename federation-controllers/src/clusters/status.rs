//! Cluster status: the Ready condition's transitions and deciding when a status is worth
//! writing. Pure functions, so the rules are unit tested.

use crate::member_api::MemberError;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// Reason of Ready=True.
pub const REASON_READY: &str = "ClusterReady";
/// Reason of Ready=Unknown before the first probe result.
pub const REASON_PENDING: &str = "ClusterPending";
/// Message of Ready=True.
pub const MESSAGE_READY: &str = "cluster is healthy and ready to accept workloads";

/// `status.conditions[]`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Condition {
    /// Condition type (`Ready`).
    #[serde(rename = "type")]
    pub type_: String,
    /// `True`, `False` or `Unknown`.
    pub status: String,
    /// Machine-readable reason.
    #[serde(default)]
    pub reason: String,
    /// Human-readable message.
    #[serde(default)]
    pub message: String,
    /// When `status` last changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_transition_time: Option<String>,
}

/// One served group-version and its resources.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiEnablement {
    /// `group/version`, or `v1` for core.
    pub group_version: String,
    /// Resources (without subresources).
    #[serde(default)]
    pub resources: Vec<ApiResourceRef>,
}

/// A resource of an [`ApiEnablement`].
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ApiResourceRef {
    /// Plural name.
    pub name: String,
    /// Kind.
    #[serde(default)]
    pub kind: String,
}

/// `status.nodeSummary`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeSummary {
    /// Nodes.
    pub total_num: u64,
    /// Nodes whose Ready condition is True.
    pub ready_num: u64,
}

/// `status.resourceSummary`: quantities by resource name (`cpu`, `memory`, `pods`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResourceSummary {
    /// Sum of the nodes' allocatable.
    #[serde(default)]
    pub allocatable: BTreeMap<String, String>,
    /// Sum of the requests of pods that are not finished, and their count.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub allocated: BTreeMap<String, String>,
}

/// `status` of a Cluster. Fields this controller does not know are kept.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClusterStatus {
    /// Conditions (this controller owns `Ready`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    /// `gitVersion` of the member.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kubernetes_version: Option<String>,
    /// When the member was last probed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_probe_time: Option<String>,
    /// Failed probes since the last success.
    #[serde(default)]
    pub consecutive_failures: u32,
    /// What the member serves.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub api_enablements: Vec<ApiEnablement>,
    /// Nodes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_summary: Option<NodeSummary>,
    /// Capacity and use.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_summary: Option<ResourceSummary>,
    /// Anything else found in the status.
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

impl ClusterStatus {
    /// The status of a Cluster object (default when absent or unreadable).
    pub fn of(obj: &Value) -> Self {
        obj.get("status")
            .and_then(|s| Self::deserialize(s).ok())
            .unwrap_or_default()
    }

    /// The Ready condition.
    pub fn ready(&self) -> Option<&Condition> {
        self.conditions.iter().find(|c| c.type_ == "Ready")
    }

    /// As JSON.
    pub fn to_value(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }

    fn set_ready(&mut self, c: Condition) {
        match self.conditions.iter_mut().find(|c| c.type_ == "Ready") {
            Some(old) => *old = c,
            None => self.conditions.insert(0, c),
        }
    }
}

/// What the member reported during a refresh; `None` fields were not refreshed.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Facts {
    /// `/version` gitVersion.
    pub version: Option<String>,
    /// Discovery.
    pub enablements: Option<Vec<ApiEnablement>>,
    /// Node counts.
    pub nodes: Option<NodeSummary>,
    /// Capacity and use.
    pub resources: Option<ResourceSummary>,
    /// Region label of the nodes.
    pub region: Option<String>,
    /// Zone label of the nodes.
    pub zone: Option<String>,
}

/// The result of one probe.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    /// `/readyz` answered `ok`.
    Ready,
    /// Something failed.
    Failed(MemberError),
}

/// A change of the Ready condition's status that deserves an Event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transition {
    /// Status before (`None` when there was no condition).
    pub from: Option<String>,
    /// `True` or `False`.
    pub to: String,
    /// Reason of the new condition.
    pub reason: String,
    /// Message of the new condition.
    pub message: String,
}

/// Ready=Unknown, before any probe result.
pub fn pending_condition(now: &str) -> Condition {
    Condition {
        type_: "Ready".into(),
        status: "Unknown".into(),
        reason: REASON_PENDING.into(),
        message: "waiting for the first health probe".into(),
        last_transition_time: Some(now.into()),
    }
}

/// The Ready condition after a probe. `failures` counts consecutive failures including
/// this probe; the condition turns False only once it reaches `threshold`. Below it a
/// True condition stays True and an Unknown one says why the probe failed.
pub fn ready_condition(
    prev: Option<&Condition>,
    outcome: &Outcome,
    failures: u32,
    threshold: u32,
    now: &str,
) -> Condition {
    let (status, reason, message) = match outcome {
        Outcome::Ready => ("True", REASON_READY.to_string(), MESSAGE_READY.to_string()),
        Outcome::Failed(e) if failures >= threshold => ("False", e.reason().to_string(), e.to_string()),
        Outcome::Failed(e) => match prev {
            Some(p) if p.status != "Unknown" => return p.clone(),
            _ => (
                "Unknown",
                REASON_PENDING.to_string(),
                format!("probe failed ({failures} of {threshold}): {e}"),
            ),
        },
    };
    let last_transition_time = match prev {
        Some(p) if p.status == status => p.last_transition_time.clone().or_else(|| Some(now.into())),
        _ => Some(now.into()),
    };
    Condition {
        type_: "Ready".into(),
        status: status.into(),
        reason,
        message,
        last_transition_time,
    }
}

/// The status after a probe, and the Ready transition it contains (to True or False).
pub fn next_status(
    old: &ClusterStatus,
    outcome: &Outcome,
    failures: u32,
    threshold: u32,
    facts: &Facts,
    now: &str,
) -> (ClusterStatus, Option<Transition>) {
    let mut new = old.clone();
    let prev = old.ready();
    let ready = ready_condition(prev, outcome, failures, threshold, now);
    let transition = (prev.map(|p| p.status.as_str()) != Some(ready.status.as_str()) && ready.status != "Unknown")
        .then(|| Transition {
            from: prev.map(|p| p.status.clone()),
            to: ready.status.clone(),
            reason: ready.reason.clone(),
            message: ready.message.clone(),
        });
    new.set_ready(ready);
    new.consecutive_failures = failures;
    new.last_probe_time = Some(now.into());
    apply_facts(&mut new, facts);
    (new, transition)
}

fn apply_facts(s: &mut ClusterStatus, f: &Facts) {
    if let Some(v) = &f.version {
        s.kubernetes_version = Some(v.clone());
    }
    if let Some(e) = &f.enablements {
        s.api_enablements = e.clone();
    }
    if let Some(n) = &f.nodes {
        s.node_summary = Some(n.clone());
    }
    if let Some(r) = &f.resources {
        s.resource_summary = Some(r.clone());
    }
}

/// Whether `new` differs from `old` in anything but the probe time, counting failures
/// beyond `threshold` as equal: a member that stays down does not cause a write per probe.
pub fn materially_different(old: &ClusterStatus, new: &ClusterStatus, threshold: u32) -> bool {
    let norm = |s: &ClusterStatus| {
        let mut s = s.clone();
        s.last_probe_time = None;
        s.consecutive_failures = s.consecutive_failures.min(threshold);
        s
    };
    norm(old) != norm(new)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused() -> Outcome {
        Outcome::Failed(MemberError::Unreachable {
            url: "https://h:1".into(),
            why: "connection refused".into(),
        })
    }

    fn status_after(outcomes: &[Outcome], threshold: u32) -> (ClusterStatus, Vec<Transition>) {
        let mut s = ClusterStatus::default();
        s.set_ready(pending_condition("t0"));
        let mut failures = 0;
        let mut transitions = Vec::new();
        for (i, o) in outcomes.iter().enumerate() {
            failures = if *o == Outcome::Ready { 0 } else { failures + 1 };
            let (n, t) = next_status(&s, o, failures, threshold, &Facts::default(), &format!("t{}", i + 1));
            transitions.extend(t);
            s = n;
        }
        (s, transitions)
    }

    #[test]
    fn first_success_is_ready_with_a_transition() {
        let (s, t) = status_after(&[Outcome::Ready], 3);
        let r = s.ready().expect("ready");
        assert_eq!(
            (r.status.as_str(), r.reason.as_str(), r.message.as_str()),
            ("True", REASON_READY, MESSAGE_READY)
        );
        assert_eq!(r.last_transition_time.as_deref(), Some("t1"));
        assert_eq!(
            t,
            vec![Transition {
                from: Some("Unknown".into()),
                to: "True".into(),
                reason: REASON_READY.into(),
                message: MESSAGE_READY.into()
            }]
        );
    }

    #[test]
    fn failures_below_threshold_keep_ready() {
        let (s, t) = status_after(&[Outcome::Ready, refused(), refused()], 3);
        let r = s.ready().expect("ready");
        assert_eq!(r.status, "True");
        assert_eq!(r.last_transition_time.as_deref(), Some("t1"));
        assert_eq!(s.consecutive_failures, 2);
        assert_eq!(t.len(), 1);
    }

    #[test]
    fn threshold_turns_not_ready_then_recovers() {
        let (s, t) = status_after(&[Outcome::Ready, refused(), refused(), refused()], 3);
        let r = s.ready().expect("ready");
        assert_eq!((r.status.as_str(), r.reason.as_str()), ("False", "ClusterNotReachable"));
        assert_eq!(r.message, "cannot reach https://h:1: connection refused");
        assert_eq!(r.last_transition_time.as_deref(), Some("t4"));
        assert_eq!(t.len(), 2);
        assert_eq!(t[1].from.as_deref(), Some("True"));
        let (s, t) = status_after(
            &[
                Outcome::Ready,
                refused(),
                refused(),
                refused(),
                refused(),
                Outcome::Ready,
            ],
            3,
        );
        assert_eq!(s.ready().expect("ready").status, "True");
        assert_eq!(s.consecutive_failures, 0);
        assert_eq!(t.len(), 3);
    }

    #[test]
    fn unknown_until_threshold_says_why() {
        let (s, t) = status_after(&[refused()], 2);
        let r = s.ready().expect("ready");
        assert_eq!(r.status, "Unknown");
        assert!(
            r.message.contains("probe failed (1 of 2): cannot reach"),
            "{}",
            r.message
        );
        assert!(t.is_empty());
        let (s, t) = status_after(&[refused(), refused()], 2);
        assert_eq!(s.ready().expect("ready").status, "False");
        assert_eq!(t[0].from.as_deref(), Some("Unknown"));
    }

    #[test]
    fn reasons_follow_the_failure() {
        let creds = Outcome::Failed(MemberError::Unauthorized("401 Unauthorized".into()));
        let (s, _) = status_after(&[creds], 1);
        assert_eq!(s.ready().expect("ready").reason, "InvalidCredentials");
        let kc = Outcome::Failed(MemberError::InvalidKubeconfig("x".into()));
        let (s, _) = status_after(&[kc], 1);
        assert_eq!(s.ready().expect("ready").reason, "InvalidKubeconfig");
        let nr = Outcome::Failed(MemberError::NotReady {
            url: "u".into(),
            why: "[-]etcd failed".into(),
        });
        let (s, _) = status_after(&[nr], 1);
        assert_eq!(s.ready().expect("ready").reason, "ClusterNotReady");
    }

    #[test]
    fn probe_time_alone_is_not_material() {
        let (a, _) = status_after(&[Outcome::Ready], 3);
        let (b, _) = next_status(&a, &Outcome::Ready, 0, 3, &Facts::default(), "t9");
        assert!(!materially_different(&a, &b, 3));
        let facts = Facts {
            version: Some("v1.36.0".into()),
            ..Default::default()
        };
        let (c, _) = next_status(&a, &Outcome::Ready, 0, 3, &facts, "t9");
        assert!(materially_different(&a, &c, 3));
    }

    #[test]
    fn failures_past_threshold_are_not_material() {
        let (a, _) = status_after(&[refused(), refused(), refused()], 3);
        let (b, _) = next_status(&a, &refused(), 4, 3, &Facts::default(), "t9");
        assert!(!materially_different(&a, &b, 3));
        let (c, _) = next_status(
            &a,
            &Outcome::Failed(MemberError::Unauthorized("401 Unauthorized".into())),
            4,
            3,
            &Facts::default(),
            "t9",
        );
        assert!(materially_different(&a, &c, 3), "a new reason is written");
    }

    #[test]
    fn unknown_fields_survive() {
        let obj = serde_json::json!({"status": {"custom": 1, "conditions": [{"type": "Other", "status": "True"}]}});
        let s = ClusterStatus::of(&obj);
        let (n, _) = next_status(&s, &Outcome::Ready, 0, 3, &Facts::default(), "t1");
        let v = n.to_value();
        assert_eq!(v["custom"], 1);
        assert_eq!(v["conditions"][0]["type"], "Ready");
        assert_eq!(v["conditions"][1]["type"], "Other");
    }
}
