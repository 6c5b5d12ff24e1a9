//! Aggregating member copies' status into the federated object's status. Pure functions.

use serde_json::{Value, json};

fn int(v: &Value, p: &str) -> i64 {
    v.pointer(p).and_then(|x| x.as_i64()).unwrap_or(0)
}

fn condition_true(obj: &Value, ty: &str) -> bool {
    obj.pointer("/status/conditions")
        .and_then(|c| c.as_array())
        .is_some_and(|cs| cs.iter().any(|c| c["type"] == ty && c["status"] == "True"))
}

/// Whether a member copy has caught up with what was applied to it.
fn observed(copy: &Value) -> bool {
    let generation = int(copy, "/metadata/generation");
    generation == 0 || int(copy, "/status/observedGeneration") >= generation
}

/// The federated object's status from its member copies (`copies` are the member objects
/// of every selected cluster; missing clusters count as not ready). `rendered_current` says
/// whether every member got the federated object's current generation. None: the kind
/// has no aggregated status.
pub fn aggregate(
    kind: &str,
    fed: &Value,
    copies: &[Option<Value>],
    rendered_current: bool,
    now: &str,
) -> Option<Value> {
    let present: Vec<&Value> = copies.iter().flatten().collect();
    let all_present = present.len() == copies.len() && !copies.is_empty();
    let sum = |p: &str| present.iter().map(|c| int(c, p)).sum::<i64>();
    let generation = int(fed, "/metadata/generation");
    let caught_up = all_present && rendered_current && present.iter().all(|c| observed(c));
    let prev_observed = int(fed, "/status/observedGeneration");
    let observed_generation = if caught_up {
        generation
    } else {
        prev_observed.min(generation.saturating_sub(1))
    };
    match kind {
        "Deployment" => {
            let available = all_present && present.iter().all(|c| condition_true(c, "Available"));
            let mut s = json!({
                "observedGeneration": observed_generation,
                "replicas": sum("/status/replicas"),
                "updatedReplicas": sum("/status/updatedReplicas"),
                "readyReplicas": sum("/status/readyReplicas"),
                "availableReplicas": sum("/status/availableReplicas"),
                "conditions": [
                    {"type": "Available", "status": if available { "True" } else { "False" },
                     "reason": if available { "MinimumReplicasAvailable" } else { "MinimumReplicasUnavailable" },
                     "message": format!("{} of {} member clusters have minimum availability", present.iter().filter(|c| condition_true(c, "Available")).count(), copies.len()),
                     "lastUpdateTime": now, "lastTransitionTime": now},
                    {"type": "Progressing", "status": "True",
                     "reason": if caught_up { "NewReplicaSetAvailable" } else { "ReplicaSetUpdated" },
                     "message": "aggregated from member clusters", "lastUpdateTime": now, "lastTransitionTime": now},
                ],
            });
            let unavailable = sum("/status/unavailableReplicas");
            if unavailable > 0 {
                s["unavailableReplicas"] = json!(unavailable);
            }
            Some(s)
        }
        "StatefulSet" | "ReplicaSet" => Some(json!({
            "observedGeneration": observed_generation,
            "replicas": sum("/status/replicas"),
            "readyReplicas": sum("/status/readyReplicas"),
            "availableReplicas": sum("/status/availableReplicas"),
            "updatedReplicas": sum("/status/updatedReplicas"),
            "currentReplicas": sum("/status/currentReplicas"),
        })),
        "DaemonSet" => Some(json!({
            "observedGeneration": observed_generation,
            "desiredNumberScheduled": sum("/status/desiredNumberScheduled"),
            "currentNumberScheduled": sum("/status/currentNumberScheduled"),
            "numberReady": sum("/status/numberReady"),
            "numberAvailable": sum("/status/numberAvailable"),
            "updatedNumberScheduled": sum("/status/updatedNumberScheduled"),
            "numberMisscheduled": 0,
        })),
        "Job" => {
            let complete = all_present && present.iter().all(|c| condition_true(c, "Complete"));
            let mut s = json!({"succeeded": sum("/status/succeeded"), "failed": sum("/status/failed"), "active": sum("/status/active")});
            if complete {
                s["conditions"] =
                    json!([{"type": "Complete", "status": "True", "lastProbeTime": now, "lastTransitionTime": now}]);
            }
            Some(s)
        }
        "Service" => {
            let ingress: Vec<Value> = present
                .iter()
                .filter_map(|c| c.pointer("/status/loadBalancer/ingress").and_then(|i| i.as_array()))
                .flatten()
                .cloned()
                .collect();
            Some(json!({"loadBalancer": if ingress.is_empty() { json!({}) } else { json!({"ingress": ingress}) }}))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(replicas: i64, available: bool) -> Option<Value> {
        Some(
            json!({"metadata": {"generation": 1}, "status": {"observedGeneration": 1, "replicas": replicas,
            "updatedReplicas": replicas, "readyReplicas": replicas, "availableReplicas": replicas,
            "conditions": [{"type": "Available", "status": if available { "True" } else { "False" }}]}}),
        )
    }

    #[test]
    fn deployments_sum_over_clusters() {
        let fed = json!({"metadata": {"generation": 4}, "spec": {"replicas": 2}});
        let s = aggregate("Deployment", &fed, &[member(2, true), member(2, true)], true, "t").expect("status");
        assert_eq!(s["readyReplicas"], 4);
        assert_eq!(s["observedGeneration"], 4);
        assert_eq!(s["conditions"][0]["status"], "True");
        let s = aggregate("Deployment", &fed, &[member(2, true), None], true, "t").expect("status");
        assert_eq!(s["conditions"][0]["status"], "False");
        assert!(
            s["observedGeneration"].as_i64().unwrap_or(0) < 4,
            "a missing member keeps the rollout pending"
        );
    }

    #[test]
    fn services_list_every_clusters_ingress() {
        let a = Some(json!({"status": {"loadBalancer": {"ingress": [{"ip": "127.1.0.1"}]}}}));
        let b = Some(json!({"status": {"loadBalancer": {"ingress": [{"ip": "127.2.0.1"}]}}}));
        let s = aggregate("Service", &json!({}), &[a, b], true, "t").expect("status");
        assert_eq!(s["loadBalancer"]["ingress"].as_array().map(|a| a.len()), Some(2));
    }
}
