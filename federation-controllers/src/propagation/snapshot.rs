//! What every reconcile reads besides the object itself — member clusters, propagation and
//! override policies, autoscaler targets — kept as one immutable snapshot that the
//! controller replaces when one of them changes (instead of listing them per object).

use super::policy::{ClusterFacts, ObjectKey, pick_policy, policy_selects};
use serde_json::Value;
use std::collections::{BTreeMap, HashSet};

/// One joined cluster as the propagation controller sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClusterEntry {
    /// What placement compares.
    pub facts: ClusterFacts,
    /// `spec.secretRef` (namespace, name): where its credentials live.
    pub secret: (String, String),
}

impl ClusterEntry {
    /// Reads a Cluster object; None when it is being deleted or malformed.
    pub fn from_cluster(c: &Value) -> Option<Self> {
        if c.pointer("/metadata/deletionTimestamp").is_some() {
            return None;
        }
        let s = |p: &str| c.pointer(p).and_then(|v| v.as_str()).unwrap_or("").to_string();
        Some(Self {
            facts: ClusterFacts::from_cluster(c)?,
            secret: (s("/spec/secretRef/namespace"), s("/spec/secretRef/name")),
        })
    }
}

/// Inputs of placement and rendering, shared by all reconciles.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Snapshot {
    /// Joined clusters by name.
    pub clusters: BTreeMap<String, ClusterEntry>,
    /// PropagationPolicies and ClusterPropagationPolicies.
    pub propagation: Vec<Value>,
    /// OverridePolicies and ClusterOverridePolicies, cluster-wide first, then by name.
    pub overrides: Vec<Value>,
    /// (namespace, kind, name) of every HorizontalPodAutoscaler target.
    pub hpa_targets: HashSet<(String, String, String)>,
}

fn in_scope(p: &Value, namespace: &str) -> bool {
    match p.pointer("/metadata/namespace").and_then(|n| n.as_str()) {
        Some(ns) if !ns.is_empty() => ns == namespace,
        _ => true,
    }
}

impl Snapshot {
    /// Facts of every joined cluster, by name.
    pub fn cluster_facts(&self) -> Vec<ClusterFacts> {
        self.clusters.values().map(|c| c.facts.clone()).collect()
    }

    /// The propagation policy that governs an object.
    pub fn policy_for(&self, obj: &ObjectKey<'_>) -> Option<&Value> {
        pick_policy(self.propagation.iter().filter(|p| in_scope(p, obj.namespace)), obj)
    }

    /// Override policies that select an object, in the order their rules apply.
    pub fn overrides_for(&self, obj: &ObjectKey<'_>) -> Vec<Value> {
        self.overrides
            .iter()
            .filter(|p| in_scope(p, obj.namespace) && policy_selects(p, obj))
            .cloned()
            .collect()
    }

    /// Sorts override policies: cluster-wide first, then namespaced, each by name (later
    /// rules win).
    pub fn sort_overrides(ps: &mut [Value]) {
        ps.sort_by_key(|p| {
            (
                p.pointer("/metadata/namespace").is_some(),
                p.pointer("/metadata/name")
                    .and_then(|n| n.as_str())
                    .unwrap_or("")
                    .to_string(),
            )
        });
    }

    /// Reads HorizontalPodAutoscalers into target keys.
    pub fn hpa_targets_of(hpas: &[Value]) -> HashSet<(String, String, String)> {
        hpas.iter()
            .filter_map(|h| {
                let s = |p: &str| h.pointer(p).and_then(|v| v.as_str()).map(str::to_string);
                Some((
                    s("/metadata/namespace")?,
                    s("/spec/scaleTargetRef/kind")?,
                    s("/spec/scaleTargetRef/name")?,
                ))
            })
            .collect()
    }

    /// Whether a HorizontalPodAutoscaler in the federation scales this object.
    pub fn scaled_by_hpa(&self, namespace: &str, kind: &str, name: &str) -> bool {
        self.hpa_targets
            .contains(&(namespace.to_string(), kind.to_string(), name.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn key<'a>(ns: &'a str) -> ObjectKey<'a> {
        ObjectKey {
            api_version: "v1",
            kind: "ConfigMap",
            namespace: ns,
            name: "x",
            labels: None,
        }
    }

    #[test]
    fn namespaced_policies_apply_only_in_their_namespace() {
        let sel = json!([{"apiVersion": "v1", "kind": "ConfigMap"}]);
        let s = Snapshot {
            propagation: vec![
                json!({"kind": "PropagationPolicy", "metadata": {"name": "p", "namespace": "a"}, "spec": {"resourceSelectors": sel, "priority": 5}}),
                json!({"kind": "ClusterPropagationPolicy", "metadata": {"name": "c"}, "spec": {"resourceSelectors": sel}}),
            ],
            ..Default::default()
        };
        let name = |o: Option<&Value>| o.and_then(|p| p.pointer("/metadata/name")).cloned();
        assert_eq!(name(s.policy_for(&key("a"))), Some(json!("p")));
        assert_eq!(name(s.policy_for(&key("b"))), Some(json!("c")));
    }

    #[test]
    fn cluster_entries_skip_deleting_clusters() {
        let c =
            json!({"metadata": {"name": "m1"}, "spec": {"secretRef": {"namespace": "ubernetes-system", "name": "s"}}});
        let e = ClusterEntry::from_cluster(&c);
        assert_eq!(
            e.map(|e| e.secret),
            Some(("ubernetes-system".to_string(), "s".to_string()))
        );
        let mut gone = c.clone();
        gone["metadata"]["deletionTimestamp"] = json!("2026-01-01T00:00:00Z");
        assert!(ClusterEntry::from_cluster(&gone).is_none());
    }

    #[test]
    fn hpa_targets_are_read() {
        let hpas = vec![
            json!({"metadata": {"namespace": "n", "name": "h"}, "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "web"}}}),
            json!({"metadata": {"name": "broken"}}),
        ];
        let s = Snapshot {
            hpa_targets: Snapshot::hpa_targets_of(&hpas),
            ..Default::default()
        };
        assert!(s.scaled_by_hpa("n", "Deployment", "web"));
        assert!(!s.scaled_by_hpa("n", "Deployment", "api"));
    }
}
