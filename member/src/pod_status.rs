//! The status a kubelet reports for a Pod that runs, waits for a node, or has finished.

use crate::util::{self, fnv1a};
use serde_json::{Value, json};

/// Where a simulated pod is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// Not scheduled: no node has room.
    Pending,
    /// Running and ready on its node.
    Running,
    /// Finished successfully (Job pods).
    Succeeded,
}

impl Phase {
    /// `status.phase`.
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Pending => "Pending",
            Phase::Running => "Running",
            Phase::Succeeded => "Succeeded",
        }
    }
}

/// A pod condition (pods carry `lastProbeTime: null`).
fn cond(ty: &str, status: &str, reason: Option<&str>, message: Option<&str>, now: &str) -> Value {
    let mut c = json!({"type": ty, "status": status, "lastProbeTime": null, "lastTransitionTime": now});
    if let (Some(r), Some(o)) = (reason, c.as_object_mut()) {
        o.insert("reason".into(), json!(r));
        o.insert("message".into(), json!(message.unwrap_or_default()));
    }
    c
}

/// QoS class: BestEffort without any requests or limits, else Burstable (close enough).
fn qos_class(pod: &Value) -> &'static str {
    let containers = pod.pointer("/spec/containers").and_then(Value::as_array);
    let sized = |c: &Value| {
        c.get("resources").and_then(Value::as_object).is_some_and(|r| {
            ["requests", "limits"]
                .iter()
                .any(|k| r.get(*k).and_then(Value::as_object).is_some_and(|m| !m.is_empty()))
        })
    };
    if containers.is_some_and(|cs| cs.iter().any(sized)) {
        "Burstable"
    } else {
        "BestEffort"
    }
}

/// The pod IP: 10.244.<node index>.<2..=253>, derived from the pod's name.
fn pod_ip(node: &str, pod_name: &str) -> String {
    let index = node.rsplit('-').next().and_then(|n| n.parse::<u32>().ok()).unwrap_or(0) % 256;
    format!("10.244.{index}.{}", fnv1a(pod_name.as_bytes()) % 252 + 2)
}

/// One entry of `containerStatuses` for a container spec.
fn container_status(pod_name: &str, c: &Value, phase: Phase, since: &str, now: &str) -> Value {
    let name = c.get("name").and_then(Value::as_str).unwrap_or_default();
    let image = c.get("image").and_then(Value::as_str).unwrap_or_default();
    let id = format!("containerd://{:016x}", fnv1a(format!("{pod_name}/{name}").as_bytes()));
    let running = phase == Phase::Running;
    let state = match phase {
        Phase::Running => json!({"running": {"startedAt": since}}),
        _ => {
            json!({"terminated": {"exitCode": 0, "reason": "Completed", "startedAt": since, "finishedAt": now, "containerID": id}})
        }
    };
    json!({
        "name": name, "image": image, "imageID": image, "containerID": id,
        "ready": running, "started": running, "restartCount": 0, "state": state, "lastState": {},
    })
}

/// `containerStatuses` of a pod's containers.
fn container_statuses(pod: &Value, phase: Phase, since: &str, now: &str) -> Vec<Value> {
    let name = util::meta_str(pod, "name");
    let containers = pod
        .pointer("/spec/containers")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    containers
        .iter()
        .map(|c| container_status(name, c, phase, since, now))
        .collect()
}

/// Why nothing could schedule a pod (as kube-scheduler words it).
fn unschedulable_message(nodes: usize) -> String {
    format!(
        "0/{nodes} nodes are available: {nodes} Too many pods. preemption: 0/{nodes} nodes are available: \
         {nodes} No preemption victims found for incoming pod."
    )
}

/// The status of a pod in `phase` on `node` (`nodes`: how many nodes the cluster has).
/// `startTime` is kept from the pod's previous status.
pub fn pod_status(pod: &Value, phase: Phase, node: Option<&str>, nodes: usize, now: &str) -> Value {
    let qos = qos_class(pod);
    let (Some(node), false) = (node, phase == Phase::Pending) else {
        let scheduled = cond(
            "PodScheduled",
            "False",
            Some("Unschedulable"),
            Some(&unschedulable_message(nodes)),
            now,
        );
        return json!({"phase": "Pending", "conditions": [scheduled], "qosClass": qos});
    };
    let since = pod
        .pointer("/status/startTime")
        .and_then(Value::as_str)
        .unwrap_or(now)
        .to_string();
    let ip = pod_ip(node, util::meta_str(pod, "name"));
    let conditions = if phase == Phase::Running {
        [
            "PodReadyToStartContainers",
            "Initialized",
            "Ready",
            "ContainersReady",
            "PodScheduled",
        ]
        .map(|ty| cond(ty, "True", None, None, &since))
        .to_vec()
    } else {
        vec![
            cond("PodReadyToStartContainers", "False", None, None, now),
            cond("Initialized", "True", Some("PodCompleted"), None, &since),
            cond("Ready", "False", Some("PodCompleted"), None, now),
            cond("ContainersReady", "False", Some("PodCompleted"), None, now),
            cond("PodScheduled", "True", None, None, &since),
        ]
    };
    json!({
        "phase": phase.as_str(),
        "conditions": conditions,
        "hostIP": "127.0.0.1",
        "hostIPs": [{"ip": "127.0.0.1"}],
        "podIP": ip,
        "podIPs": [{"ip": ip}],
        "startTime": since,
        "containerStatuses": container_statuses(pod, phase, &since, now),
        "qosClass": qos,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod() -> Value {
        json!({"metadata": {"name": "web-1"}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}})
    }

    #[test]
    fn running_pods_are_ready_on_their_node() {
        let s = pod_status(&pod(), Phase::Running, Some("m1-node-2"), 3, "t");
        assert_eq!(s["phase"], "Running");
        assert!(s["podIP"].as_str().is_some_and(|ip| ip.starts_with("10.244.2.")));
        assert_eq!(s["containerStatuses"][0]["ready"], true);
        let ready = util::find_condition(s.get("conditions"), "Ready")
            .cloned()
            .unwrap_or_default();
        assert_eq!(ready["status"], "True");
    }

    #[test]
    fn pending_pods_say_why() {
        let s = pod_status(&pod(), Phase::Pending, None, 3, "t");
        assert_eq!(s["phase"], "Pending");
        assert_eq!(s["conditions"][0]["reason"], "Unschedulable");
        assert!(s.get("podIP").is_none());
        // Without a node nothing runs.
        assert_eq!(pod_status(&pod(), Phase::Running, None, 3, "t")["phase"], "Pending");
    }

    #[test]
    fn succeeded_pods_terminated_with_zero() {
        let s = pod_status(&pod(), Phase::Succeeded, Some("m1-node-0"), 3, "t");
        assert_eq!(s["phase"], "Succeeded");
        assert_eq!(s["containerStatuses"][0]["state"]["terminated"]["exitCode"], 0);
    }
}
