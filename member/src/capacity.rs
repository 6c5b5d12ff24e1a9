//! The cluster's pod capacity shared by all workloads: how many pods each one wants and,
//! in a deterministic order, how many it gets.

use crate::util::{self, meta_str};
use apiserver::local::Gvr;
use serde_json::{Map, Value};
use std::collections::HashMap;

/// The workload kinds whose status the simulator writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// apps/v1 Deployment.
    Deployment,
    /// apps/v1 StatefulSet.
    StatefulSet,
    /// apps/v1 DaemonSet.
    DaemonSet,
    /// apps/v1 ReplicaSet (only those not owned by a Deployment).
    ReplicaSet,
    /// batch/v1 Job.
    Job,
    /// core/v1 Pod (only those no controller owns: `kubectl run`).
    Pod,
}

impl Kind {
    /// Every kind, in the order they are listed.
    pub const ALL: [Kind; 6] = [
        Kind::Deployment,
        Kind::StatefulSet,
        Kind::DaemonSet,
        Kind::ReplicaSet,
        Kind::Job,
        Kind::Pod,
    ];

    /// The resource of this kind.
    pub fn gvr(self) -> Gvr<'static> {
        match self {
            Kind::Deployment => Gvr::new("apps", "v1", "deployments"),
            Kind::StatefulSet => Gvr::new("apps", "v1", "statefulsets"),
            Kind::DaemonSet => Gvr::new("apps", "v1", "daemonsets"),
            Kind::ReplicaSet => Gvr::new("apps", "v1", "replicasets"),
            Kind::Job => Gvr::new("batch", "v1", "jobs"),
            Kind::Pod => Gvr::new("", "v1", "pods"),
        }
    }

    /// `kind` of objects of this kind.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Deployment => "Deployment",
            Kind::StatefulSet => "StatefulSet",
            Kind::DaemonSet => "DaemonSet",
            Kind::ReplicaSet => "ReplicaSet",
            Kind::Job => "Job",
            Kind::Pod => "Pod",
        }
    }

    /// `apiVersion` of objects of this kind.
    pub fn api_version(self) -> &'static str {
        match self {
            Kind::Job => "batch/v1",
            Kind::Pod => "v1",
            _ => "apps/v1",
        }
    }
}

/// One workload object: kind, namespace, name.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct WorkloadKey {
    /// Kind.
    pub kind: Kind,
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
}

impl WorkloadKey {
    /// The key of an object of `kind`.
    pub fn of(kind: Kind, obj: &Value) -> Self {
        Self {
            kind,
            namespace: meta_str(obj, "namespace").to_string(),
            name: meta_str(obj, "name").to_string(),
        }
    }
}

/// A node as the simulator sees it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct NodeInfo {
    /// Name.
    pub name: String,
    /// Labels.
    pub labels: Map<String, Value>,
}

impl NodeInfo {
    /// The name and labels of a Node object.
    pub fn of(node: &Value) -> Self {
        let labels = node
            .pointer("/metadata/labels")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        Self {
            name: meta_str(node, "name").to_string(),
            labels,
        }
    }
}

/// What a workload's pod count depends on besides its own object.
#[derive(Clone, Debug, Default)]
pub struct Env {
    /// The cluster's nodes, sorted by name.
    pub nodes: Vec<NodeInfo>,
}

impl Env {
    /// Nodes whose labels satisfy a DaemonSet's `nodeSelector`, in name order.
    pub fn nodes_for(&self, ds: &Value) -> Vec<&NodeInfo> {
        let selector = ds
            .pointer("/spec/template/spec/nodeSelector")
            .and_then(Value::as_object);
        let matches = |n: &NodeInfo| selector.is_none_or(|s| s.iter().all(|(k, v)| n.labels.get(k) == Some(v)));
        self.nodes.iter().filter(|n| matches(n)).collect()
    }

    /// How many nodes a DaemonSet runs on.
    pub fn matching_nodes(&self, ds: &Value) -> u32 {
        self.nodes_for(ds).len().try_into().unwrap_or(u32::MAX)
    }
}

/// The controller reference of an object (`ownerReferences[]` with `controller: true`).
pub fn controller_of(obj: &Value) -> Option<&Value> {
    let refs = obj.pointer("/metadata/ownerReferences")?.as_array()?;
    refs.iter()
        .find(|r| r.get("controller").and_then(Value::as_bool) == Some(true))
}

/// The phase of a Pod (`Pending` when unset).
pub fn pod_phase(pod: &Value) -> &str {
    pod.pointer("/status/phase")
        .and_then(Value::as_str)
        .unwrap_or("Pending")
}

/// Whether a ReplicaSet is managed by a Deployment (its pods are counted there).
pub fn owned_by_deployment(obj: &Value) -> bool {
    obj.pointer("/metadata/ownerReferences")
        .and_then(Value::as_array)
        .is_some_and(|refs| {
            refs.iter()
                .any(|r| r.get("kind").and_then(Value::as_str) == Some("Deployment"))
        })
}

/// Whether a Job has finished (Complete or Failed): its pods are gone.
pub fn job_finished(obj: &Value) -> bool {
    ["Complete", "Failed"].iter().any(|ty| {
        util::find_condition(obj.pointer("/status/conditions"), ty)
            .is_some_and(|c| c.get("status").and_then(Value::as_str) == Some("True"))
    })
}

/// Pods a Job runs at once: `parallelism` (default 1), at most `completions` (default 1 when
/// parallelism is unset); none when suspended or finished.
fn job_demand(obj: &Value) -> u32 {
    if job_finished(obj) || obj.pointer("/spec/suspend").and_then(Value::as_bool) == Some(true) {
        return 0;
    }
    let parallelism = util::u32_at(obj, "/spec/parallelism").unwrap_or(1);
    match util::u32_at(obj, "/spec/completions") {
        Some(c) => parallelism.min(c),
        None => parallelism,
    }
}

/// Pods a workload wants running (None: not simulated here, e.g. a Deployment's ReplicaSet).
pub fn demand(kind: Kind, obj: &Value, env: &Env) -> Option<u32> {
    match kind {
        Kind::Deployment | Kind::StatefulSet => Some(util::spec_replicas(obj)),
        Kind::ReplicaSet if owned_by_deployment(obj) => None,
        Kind::ReplicaSet => Some(util::spec_replicas(obj)),
        Kind::DaemonSet => Some(env.matching_nodes(obj)),
        Kind::Job => Some(job_demand(obj)),
        Kind::Pod if controller_of(obj).is_some() => None,
        Kind::Pod => Some(u32::from(!matches!(pod_phase(obj), "Succeeded" | "Failed"))),
    }
}

/// Pods of a workload that its stored status reports ready (they keep running: nothing
/// preempts them).
pub fn held(kind: Kind, obj: &Value) -> u32 {
    let field = match kind {
        Kind::Deployment | Kind::StatefulSet | Kind::ReplicaSet => "/status/readyReplicas",
        Kind::DaemonSet => "/status/numberReady",
        Kind::Job => return 0,
        Kind::Pod => return u32::from(pod_phase(obj) == "Running"),
    };
    util::u32_at(obj, field).unwrap_or(0)
}

/// One workload's claim on the cluster's pods.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Claim {
    /// Which workload.
    pub key: WorkloadKey,
    /// `metadata.creationTimestamp` (RFC 3339, sorts as text).
    pub created: String,
    /// Pods wanted.
    pub pods: u32,
    /// Pods already running (see [`held`]).
    pub held: u32,
}

impl Claim {
    /// The claim of an object, if it is simulated here.
    pub fn of(kind: Kind, obj: &Value, env: &Env) -> Option<Self> {
        let pods = demand(kind, obj, env)?;
        let key = WorkloadKey::of(kind, obj);
        let created = meta_str(obj, "creationTimestamp").to_string();
        Some(Self {
            key,
            created,
            pods,
            held: held(kind, obj),
        })
    }
}

/// Shares `capacity` among claims, as a scheduler without preemption would: first every
/// claim keeps the pods it already runs (up to what it still wants), then what is left goes
/// to the remaining wants oldest first (then by kind, namespace, name). Claims are visited
/// in that order in both rounds, so a capacity that shrank cuts the newest first.
pub fn allocate(claims: &[Claim], capacity: u32) -> HashMap<WorkloadKey, u32> {
    let mut order: Vec<&Claim> = claims.iter().collect();
    order.sort_by(|a, b| a.created.cmp(&b.created).then_with(|| a.key.cmp(&b.key)));
    let mut left = capacity;
    let mut grants: Vec<u32> = order
        .iter()
        .map(|c| {
            let kept = c.held.min(c.pods).min(left);
            left -= kept;
            kept
        })
        .collect();
    for (c, g) in order.iter().zip(grants.iter_mut()) {
        let more = (c.pods - *g).min(left);
        left -= more;
        *g += more;
    }
    order.into_iter().zip(grants).map(|(c, g)| (c.key.clone(), g)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn claim(name: &str, created: &str, pods: u32) -> Claim {
        let key = WorkloadKey {
            kind: Kind::Deployment,
            namespace: "default".into(),
            name: name.into(),
        };
        Claim {
            key,
            created: created.into(),
            pods,
            held: 0,
        }
    }

    fn granted(grants: &HashMap<WorkloadKey, u32>, name: &str) -> u32 {
        grants
            .iter()
            .find(|(k, _)| k.name == name)
            .map(|(_, n)| *n)
            .unwrap_or(0)
    }

    #[test]
    fn oldest_first_until_capacity() {
        let claims = [
            claim("late", "2024-01-03T00:00:00Z", 5),
            claim("early", "2024-01-01T00:00:00Z", 6),
            claim("mid", "2024-01-02T00:00:00Z", 6),
        ];
        let g = allocate(&claims, 10);
        assert_eq!(
            (granted(&g, "early"), granted(&g, "mid"), granted(&g, "late")),
            (6, 4, 0)
        );
        assert_eq!(g.values().sum::<u32>(), 10);
    }

    #[test]
    fn ties_break_by_name_and_everything_fits() {
        let claims = [claim("b", "t", 2), claim("a", "t", 2)];
        let g = allocate(&claims, 3);
        assert_eq!((granted(&g, "a"), granted(&g, "b")), (2, 1));
        assert_eq!(granted(&allocate(&claims, 100), "b"), 2);
    }

    #[test]
    fn running_pods_are_not_preempted() {
        let old = claim("old", "2024-01-01T00:00:00Z", 8);
        let new = Claim {
            held: 6,
            ..claim("new", "2024-01-02T00:00:00Z", 6)
        };
        let g = allocate(&[old.clone(), new.clone()], 10);
        assert_eq!((granted(&g, "old"), granted(&g, "new")), (4, 6));
        // Capacity shrank below what runs: the newest loses first.
        let old_running = Claim { held: 4, ..old };
        let g = allocate(&[old_running, new], 7);
        assert_eq!((granted(&g, "old"), granted(&g, "new")), (4, 3));
        // Scaled down: held beyond the want is released.
        let shrunk = Claim {
            held: 9,
            ..claim("s", "t", 2)
        };
        assert_eq!(granted(&allocate(&[shrunk], 10), "s"), 2);
    }

    #[test]
    fn demands_per_kind() {
        let env = Env {
            nodes: vec![
                NodeInfo::of(&json!({"metadata": {"name": "a", "labels": {"disk": "ssd"}}})),
                NodeInfo::of(&json!({"metadata": {"name": "b", "labels": {"disk": "hdd"}}})),
            ],
        };
        let ds = json!({"spec": {"template": {"spec": {"nodeSelector": {"disk": "ssd"}}}}});
        assert_eq!(demand(Kind::DaemonSet, &ds, &env), Some(1));
        assert_eq!(demand(Kind::DaemonSet, &json!({}), &env), Some(2));
        assert_eq!(demand(Kind::Deployment, &json!({"spec": {}}), &env), Some(1));
        let owned = json!({"metadata": {"ownerReferences": [{"kind": "Deployment"}]}, "spec": {"replicas": 3}});
        assert_eq!(demand(Kind::ReplicaSet, &owned, &env), None);
        assert_eq!(
            demand(Kind::Job, &json!({"spec": {"parallelism": 4, "completions": 2}}), &env),
            Some(2)
        );
        assert_eq!(demand(Kind::Job, &json!({"spec": {"suspend": true}}), &env), Some(0));
        let done = json!({"spec": {}, "status": {"conditions": [{"type": "Complete", "status": "True"}]}});
        assert_eq!(demand(Kind::Job, &done, &env), Some(0));
        let bare = json!({"metadata": {"name": "p"}});
        assert_eq!((demand(Kind::Pod, &bare, &env), held(Kind::Pod, &bare)), (Some(1), 0));
        let owned = json!({"metadata": {"ownerReferences": [{"kind": "Job", "controller": true}]}});
        assert_eq!(demand(Kind::Pod, &owned, &env), None);
        let finished = json!({"status": {"phase": "Succeeded"}});
        assert_eq!(demand(Kind::Pod, &finished, &env), Some(0));
    }
}
