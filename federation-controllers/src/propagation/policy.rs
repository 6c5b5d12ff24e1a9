//! Which policy selects an object, and which clusters its placement picks. Pure functions.

use serde_json::Value;

/// What a resource selector compares against.
#[derive(Clone, Debug)]
pub struct ObjectKey<'a> {
    /// `apiVersion` of the object.
    pub api_version: &'a str,
    /// Kind.
    pub kind: &'a str,
    /// Namespace ("" for cluster-scoped).
    pub namespace: &'a str,
    /// Name.
    pub name: &'a str,
    /// Labels.
    pub labels: Option<&'a serde_json::Map<String, Value>>,
}

/// `matchLabels` / `matchExpressions` of a metav1.LabelSelector against labels.
pub fn label_selector_matches(selector: &Value, labels: Option<&serde_json::Map<String, Value>>) -> bool {
    let get = |k: &str| labels.and_then(|l| l.get(k)).and_then(|v| v.as_str());
    if let Some(ml) = selector.get("matchLabels").and_then(|m| m.as_object())
        && !ml.iter().all(|(k, v)| get(k) == v.as_str())
    {
        return false;
    }
    all_expressions(selector, |key, operator, values| match operator {
        "In" => get(key).is_some_and(|v| values.contains(&v)),
        "NotIn" => get(key).is_none_or(|v| !values.contains(&v)),
        "Exists" => get(key).is_some(),
        "DoesNotExist" => get(key).is_none(),
        _ => false,
    })
}

/// Whether every `matchExpressions[]` entry of a selector holds, given (key, operator,
/// values) of each.
fn all_expressions(selector: &Value, holds: impl Fn(&str, &str, &[&str]) -> bool) -> bool {
    let exprs = selector
        .get("matchExpressions")
        .and_then(|m| m.as_array())
        .map(Vec::as_slice)
        .unwrap_or_default();
    exprs.iter().all(|e| {
        let key = e.get("key").and_then(|k| k.as_str()).unwrap_or("");
        let values: Vec<&str> = e
            .get("values")
            .and_then(|v| v.as_array())
            .map(|a| a.iter().filter_map(|x| x.as_str()).collect())
            .unwrap_or_default();
        holds(key, e.get("operator").and_then(|o| o.as_str()).unwrap_or(""), &values)
    })
}

/// Whether one `resourceSelectors[]` entry selects the object. A namespaced policy only
/// selects objects in its own namespace.
pub fn selector_matches(sel: &Value, obj: &ObjectKey<'_>, policy_namespace: Option<&str>) -> bool {
    if let Some(ns) = policy_namespace
        && obj.namespace != ns
    {
        return false;
    }
    let field = |f: &str| sel.get(f).and_then(|v| v.as_str()).filter(|s| !s.is_empty());
    if field("apiVersion") != Some(obj.api_version) || field("kind") != Some(obj.kind) {
        return false;
    }
    if field("namespace").is_some_and(|ns| ns != obj.namespace) || field("name").is_some_and(|n| n != obj.name) {
        return false;
    }
    sel.get("labelSelector")
        .is_none_or(|ls| label_selector_matches(ls, obj.labels))
}

/// Whether a policy (Propagation or Override) selects the object.
pub fn policy_selects(policy: &Value, obj: &ObjectKey<'_>) -> bool {
    let ns = policy.pointer("/metadata/namespace").and_then(|n| n.as_str());
    policy
        .pointer("/spec/resourceSelectors")
        .and_then(|s| s.as_array())
        .is_some_and(|sels| sels.iter().any(|s| selector_matches(s, obj, ns)))
}

/// The policy that governs an object: highest `priority`; a namespaced policy beats a
/// cluster-wide one of equal priority; then by name, so the choice is stable.
pub fn pick_policy<'a>(policies: impl IntoIterator<Item = &'a Value>, obj: &ObjectKey<'_>) -> Option<&'a Value> {
    policies.into_iter().filter(|p| policy_selects(p, obj)).max_by(|a, b| {
        let prio = |p: &Value| p.pointer("/spec/priority").and_then(|v| v.as_i64()).unwrap_or(0);
        let namespaced = |p: &Value| p.pointer("/metadata/namespace").is_some();
        let name = |p: &Value| {
            p.pointer("/metadata/name")
                .and_then(|v| v.as_str())
                .unwrap_or("")
                .to_string()
        };
        prio(a)
            .cmp(&prio(b))
            .then(namespaced(a).cmp(&namespaced(b)))
            .then(name(b).cmp(&name(a)))
    })
}

/// What placement needs to know about a member cluster.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClusterFacts {
    /// Cluster name.
    pub name: String,
    /// Labels of the Cluster object.
    pub labels: serde_json::Map<String, Value>,
    /// `spec.region`.
    pub region: String,
    /// `spec.zone`.
    pub zone: String,
    /// `spec.provider`.
    pub provider: String,
    /// Ready condition is True.
    pub ready: bool,
}

impl ClusterFacts {
    /// Reads a Cluster object.
    pub fn from_cluster(c: &Value) -> Option<Self> {
        let s = |p: &str| c.pointer(p).and_then(|v| v.as_str()).unwrap_or("").to_string();
        let name = s("/metadata/name");
        if name.is_empty() {
            return None;
        }
        let ready = c
            .pointer("/status/conditions")
            .and_then(|cs| cs.as_array())
            .is_some_and(|cs| cs.iter().any(|x| x["type"] == "Ready" && x["status"] == "True"));
        let region = match s("/spec/region") {
            r if r.is_empty() => s("/status/region"),
            r => r,
        };
        let zone = match s("/spec/zone") {
            z if z.is_empty() => s("/status/zone"),
            z => z,
        };
        Some(Self {
            name,
            labels: c
                .pointer("/metadata/labels")
                .and_then(|l| l.as_object())
                .cloned()
                .unwrap_or_default(),
            region,
            zone,
            provider: s("/spec/provider"),
            ready,
        })
    }

    fn field(&self, key: &str) -> Option<&str> {
        match key {
            "region" => Some(&self.region),
            "zone" => Some(&self.zone),
            "provider" => Some(&self.provider),
            _ => None,
        }
    }
}

/// `fieldSelector.matchExpressions` on region / zone / provider.
fn field_selector_matches(fs: &Value, c: &ClusterFacts) -> bool {
    all_expressions(fs, |key, operator, values| {
        let v = c.field(key).unwrap_or("");
        match operator {
            "In" => values.contains(&v),
            "NotIn" => !values.contains(&v),
            _ => false,
        }
    })
}

/// The clusters a policy's placement selects, sorted by name. Every constraint given must
/// hold (names, labels, fields); `exclude` removes. No affinity means every cluster.
pub fn select_clusters<'a>(policy: &Value, clusters: impl IntoIterator<Item = &'a ClusterFacts>) -> Vec<String> {
    let aff = policy.pointer("/spec/placement/clusterAffinity");
    let names: Option<Vec<&str>> = aff
        .and_then(|a| a.get("clusterNames"))
        .and_then(|n| n.as_array())
        .map(|a| a.iter().filter_map(|x| x.as_str()).collect());
    let exclude: Vec<&str> = aff
        .and_then(|a| a.get("exclude"))
        .and_then(|n| n.as_array())
        .map(|a| a.iter().filter_map(|x| x.as_str()).collect())
        .unwrap_or_default();
    let mut out: Vec<String> = clusters
        .into_iter()
        .filter(|c| names.as_ref().is_none_or(|n| n.contains(&c.name.as_str())))
        .filter(|c| !exclude.contains(&c.name.as_str()))
        .filter(|c| {
            aff.and_then(|a| a.get("labelSelector"))
                .is_none_or(|ls| label_selector_matches(ls, Some(&c.labels)))
        })
        .filter(|c| {
            aff.and_then(|a| a.get("fieldSelector"))
                .is_none_or(|fs| field_selector_matches(fs, c))
        })
        .map(|c| c.name.clone())
        .collect();
    out.sort();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn cluster(name: &str, region: &str, labels: Value) -> ClusterFacts {
        ClusterFacts {
            name: name.into(),
            labels: labels.as_object().cloned().unwrap_or_default(),
            region: region.into(),
            zone: format!("{region}-a"),
            provider: "local".into(),
            ready: true,
        }
    }

    fn key<'a>(kind: &'a str, name: &'a str, labels: Option<&'a serde_json::Map<String, Value>>) -> ObjectKey<'a> {
        ObjectKey {
            api_version: "apps/v1",
            kind,
            namespace: "default",
            name,
            labels,
        }
    }

    #[test]
    fn selectors_match_kind_name_and_labels() {
        let labels = json!({"app": "web"});
        let l = labels.as_object();
        let p = json!({"metadata": {"name": "p", "namespace": "default"},
            "spec": {"resourceSelectors": [{"apiVersion": "apps/v1", "kind": "Deployment", "labelSelector": {"matchLabels": {"app": "web"}}}]}});
        assert!(policy_selects(&p, &key("Deployment", "x", l)));
        assert!(!policy_selects(&p, &key("StatefulSet", "x", l)));
        assert!(!policy_selects(&p, &key("Deployment", "x", None)));
        let other_ns = ObjectKey {
            namespace: "prod",
            ..key("Deployment", "x", l)
        };
        assert!(
            !policy_selects(&p, &other_ns),
            "namespaced policies stay in their namespace"
        );
        let named = json!({"metadata": {"name": "p"}, "spec": {"resourceSelectors": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": "y"}]}});
        assert!(!policy_selects(&named, &key("Deployment", "x", l)));
        assert!(policy_selects(&named, &key("Deployment", "y", l)));
    }

    #[test]
    fn highest_priority_wins_then_namespaced() {
        let sel = json!([{"apiVersion": "apps/v1", "kind": "Deployment"}]);
        let low = json!({"metadata": {"name": "low", "namespace": "default"}, "spec": {"priority": 1, "resourceSelectors": sel}});
        let high = json!({"metadata": {"name": "high"}, "spec": {"priority": 5, "resourceSelectors": sel}});
        let same = json!({"metadata": {"name": "same", "namespace": "default"}, "spec": {"priority": 5, "resourceSelectors": sel}});
        let ps = vec![low, high.clone()];
        assert_eq!(
            pick_policy(&ps, &key("Deployment", "x", None)).map(|p| &p["metadata"]["name"]),
            Some(&json!("high"))
        );
        let ps = vec![high, same];
        assert_eq!(
            pick_policy(&ps, &key("Deployment", "x", None)).map(|p| &p["metadata"]["name"]),
            Some(&json!("same"))
        );
    }

    #[test]
    fn placement_by_names_labels_fields_and_exclude() {
        let cs = vec![
            cluster("a", "eu", json!({"env": "prod"})),
            cluster("b", "eu", json!({"env": "dev"})),
            cluster("c", "us", json!({"env": "prod"})),
        ];
        let all = json!({"spec": {}});
        assert_eq!(select_clusters(&all, &cs), vec!["a", "b", "c"]);
        let region = json!({"spec": {"placement": {"clusterAffinity": {"fieldSelector": {"matchExpressions": [{"key": "region", "operator": "In", "values": ["eu"]}]}}}}});
        assert_eq!(select_clusters(&region, &cs), vec!["a", "b"]);
        let labels = json!({"spec": {"placement": {"clusterAffinity": {"labelSelector": {"matchLabels": {"env": "prod"}}, "exclude": ["c"]}}}});
        assert_eq!(select_clusters(&labels, &cs), vec!["a"]);
        let names = json!({"spec": {"placement": {"clusterAffinity": {"clusterNames": ["c", "zz"]}}}});
        assert_eq!(select_clusters(&names, &cs), vec!["c"]);
    }
}
