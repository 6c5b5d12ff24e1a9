//! Pods, as the controllers would create them and the kubelets run them: a workload granted
//! `g` of its `n` pods has `g` Running pods bound to nodes and `n - g` Pending ones;
//! finished Job pods are Succeeded. Pods created directly (no controller) are bound and run
//! when the capacity allows. Pod names are derived from the workload, so a pass is
//! idempotent: it plans creations, status changes and deletions from what it reads.

use crate::MemberError;
use crate::capacity::{Env, Kind, controller_of, pod_phase};
use crate::nodes::MANAGER;
use crate::pod_status::{Phase, pod_status};
use crate::util::{self, meta_str, spec_replicas, u32_at};
use apiserver::local::{Gvr, ObjectStore};
use futures::StreamExt;
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, HashMap, HashSet};

/// core/v1 pods.
pub const PODS: Gvr<'static> = Gvr::new("", "v1", "pods");

/// Pod writes issued per pass (the rest follow in the next passes).
const BUDGET: usize = 256;
/// Pod writes in flight at once.
const PARALLEL: usize = 16;
/// Most pods kept for one workload (beyond, replicas have no Pod object).
const MAX_PODS_PER_WORKLOAD: u32 = 1000;

/// One pod a workload should have.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WantedPod {
    /// Pod name.
    pub name: String,
    /// Its phase.
    pub phase: Phase,
    /// The node it must run on (DaemonSet pods).
    pub node: Option<String>,
}

/// `<base>-<5 characters derived from seed>`, with the base cut as kube's name generator does.
fn generated(base: &str, seed: &str) -> String {
    let prefix: String = format!("{base}-").chars().take(58).collect();
    format!("{prefix}{}", util::safe_string(util::fnv1a(seed.as_bytes()), 5))
}

fn phase_of(i: u32, granted: u32) -> Phase {
    if i < granted { Phase::Running } else { Phase::Pending }
}

/// `n` pods named from `base`: the first `granted` Running.
fn replicated(base: &str, uid: &str, n: u32, granted: u32) -> Vec<WantedPod> {
    let pod = |i| WantedPod {
        name: generated(base, &format!("{uid}/{base}/{i}")),
        phase: phase_of(i, granted),
        node: None,
    };
    (0..n.min(MAX_PODS_PER_WORKLOAD)).map(pod).collect()
}

/// A Job's pods from its status: `succeeded` Succeeded, `active` Pending.
fn job_pods(name: &str, uid: &str, job: &Value) -> Vec<WantedPod> {
    let succeeded = u32_at(job, "/status/succeeded").unwrap_or(0).min(MAX_PODS_PER_WORKLOAD);
    let active = u32_at(job, "/status/active")
        .unwrap_or(0)
        .min(MAX_PODS_PER_WORKLOAD - succeeded);
    let phase = |i| {
        if i < succeeded {
            Phase::Succeeded
        } else {
            Phase::Pending
        }
    };
    let pod = |i| WantedPod {
        name: generated(name, &format!("{uid}/{i}")),
        phase: phase(i),
        node: None,
    };
    (0..succeeded + active).map(pod).collect()
}

/// The pods a workload (with its up-to-date status) should have, given its grant.
pub fn wanted(kind: Kind, obj: &Value, granted: u32, env: &Env) -> Vec<WantedPod> {
    let (name, uid) = (meta_str(obj, "name"), meta_str(obj, "uid"));
    match kind {
        Kind::Deployment => replicated(
            &format!("{name}-{}", util::template_hash(obj)),
            uid,
            spec_replicas(obj),
            granted,
        ),
        Kind::ReplicaSet => replicated(name, uid, spec_replicas(obj), granted),
        Kind::StatefulSet => (0..spec_replicas(obj).min(MAX_PODS_PER_WORKLOAD))
            .map(|i| WantedPod {
                name: format!("{name}-{i}"),
                phase: phase_of(i, granted),
                node: None,
            })
            .collect(),
        Kind::DaemonSet => (env.nodes_for(obj).iter().enumerate())
            .map(|(i, n)| WantedPod {
                name: generated(name, &format!("{uid}/{}", n.name)),
                phase: phase_of(u32::try_from(i).unwrap_or(u32::MAX), granted),
                node: Some(n.name.clone()),
            })
            .collect(),
        Kind::Job => job_pods(name, uid, obj),
        Kind::Pod => Vec::new(),
    }
}

/// The label that tells which template a workload's pod was made from.
fn fingerprint(kind: Kind, obj: &Value) -> Option<(&'static str, String)> {
    let hash = util::template_hash(obj);
    match kind {
        Kind::Deployment | Kind::ReplicaSet => Some(("pod-template-hash", hash)),
        Kind::StatefulSet => Some(("controller-revision-hash", format!("{}-{hash}", meta_str(obj, "name")))),
        Kind::DaemonSet => Some(("controller-revision-hash", hash)),
        Kind::Job => Some(("batch.kubernetes.io/controller-uid", meta_str(obj, "uid").to_string())),
        Kind::Pod => None,
    }
}

/// Labels a controller adds to its pods besides the template's.
fn extra_labels(kind: Kind, owner: &Value, pod_name: &str) -> Map<String, Value> {
    let mut l = Map::new();
    if let Some((k, v)) = fingerprint(kind, owner) {
        l.insert(k.into(), json!(v));
    }
    let name = meta_str(owner, "name");
    match kind {
        Kind::StatefulSet => {
            l.insert("statefulset.kubernetes.io/pod-name".into(), json!(pod_name));
            let index = pod_name.rsplit('-').next().unwrap_or_default();
            l.insert("apps.kubernetes.io/pod-index".into(), json!(index));
        }
        Kind::Job => {
            let uid = meta_str(owner, "uid");
            for (k, v) in [
                ("batch.kubernetes.io/job-name", name),
                ("job-name", name),
                ("controller-uid", uid),
            ] {
                l.insert(k.into(), json!(v));
            }
        }
        _ => {}
    }
    l
}

/// The Pod object (without status) of a wanted pod of `owner`.
pub fn pod_object(kind: Kind, owner: &Value, w: &WantedPod, node: Option<&str>) -> Value {
    let template = owner.pointer("/spec/template").cloned().unwrap_or_else(|| json!({}));
    let mut labels = template
        .pointer("/metadata/labels")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    labels.extend(extra_labels(kind, owner, &w.name));
    let owner_ref = json!({
        "apiVersion": kind.api_version(), "kind": kind.name(), "name": meta_str(owner, "name"),
        "uid": meta_str(owner, "uid"), "controller": true, "blockOwnerDeletion": true,
    });
    let mut metadata = json!({"name": w.name, "namespace": meta_str(owner, "namespace"), "labels": labels, "ownerReferences": [owner_ref]});
    if let Some(a) = template.pointer("/metadata/annotations") {
        metadata["annotations"] = a.clone();
    }
    let mut spec = template.get("spec").cloned().unwrap_or_else(|| json!({}));
    if let Some(s) = spec.as_object_mut() {
        if let Some(n) = node {
            s.insert("nodeName".into(), json!(n));
        }
        if kind == Kind::StatefulSet {
            s.insert("hostname".into(), json!(w.name));
            if let Some(svc) = owner
                .pointer("/spec/serviceName")
                .filter(|v| v.as_str().is_some_and(|s| !s.is_empty()))
            {
                s.insert("subdomain".into(), svc.clone());
            }
        }
    }
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": spec})
}

/// A write to a pod.
#[derive(Clone, Debug, PartialEq)]
pub enum Op {
    /// Create the pod, then give it a status.
    Create {
        /// The pod.
        pod: Value,
        /// Its phase.
        phase: Phase,
    },
    /// Bind (when it has no node yet) and set the status of an existing pod.
    Update {
        /// Namespace.
        namespace: String,
        /// Name.
        name: String,
        /// Its phase.
        phase: Phase,
        /// Node to bind it to.
        node: Option<String>,
    },
    /// Delete a pod (wrong template, scaled away, or evicted).
    Delete {
        /// Namespace.
        namespace: String,
        /// Name.
        name: String,
    },
}

/// Plans one pass of pod writes over every workload, placing new pods on the least loaded node.
pub struct Planner<'a> {
    env: &'a Env,
    load: BTreeMap<String, u32>,
    owned: HashMap<String, Vec<&'a Value>>,
    ops: Vec<Op>,
}

/// The node a pod is bound to.
fn node_of(pod: &Value) -> Option<&str> {
    pod.pointer("/spec/nodeName")
        .and_then(Value::as_str)
        .filter(|n| !n.is_empty())
}

impl<'a> Planner<'a> {
    /// A planner over the cluster's nodes and every pod.
    pub fn new(env: &'a Env, pods: &'a [Value]) -> Self {
        let mut load: BTreeMap<String, u32> = env.nodes.iter().map(|n| (n.name.clone(), 0)).collect();
        let mut owned: HashMap<String, Vec<&Value>> = HashMap::new();
        for pod in pods {
            if let (Some(node), "Running") = (node_of(pod), pod_phase(pod)) {
                *load.entry(node.to_string()).or_default() += 1;
            }
            if let Some(uid) = controller_of(pod).and_then(|r| r.get("uid")).and_then(Value::as_str) {
                owned.entry(uid.to_string()).or_default().push(pod);
            }
        }
        Self {
            env,
            load,
            owned,
            ops: Vec::new(),
        }
    }

    /// The planned writes.
    pub fn into_ops(self) -> Vec<Op> {
        self.ops
    }

    /// The node for a pod entering `phase`: its pinned or current node, else the least loaded.
    fn place(&mut self, phase: Phase, pinned: Option<&str>, current: Option<&str>) -> Option<String> {
        if phase == Phase::Pending {
            return None;
        }
        let least = || {
            self.load
                .iter()
                .min_by_key(|(name, n)| (**n, (*name).clone()))
                .map(|(name, _)| name.clone())
        };
        let node = pinned.or(current).map(str::to_string).or_else(least)?;
        if phase == Phase::Running {
            *self.load.entry(node.clone()).or_default() += 1;
        }
        Some(node)
    }

    /// Plans the pods of one object: a workload's pods, or a directly created pod itself.
    pub fn plan(&mut self, kind: Kind, obj: &Value, granted: u32) {
        if kind == Kind::Pod {
            self.standalone(obj, granted);
        } else {
            self.workload(kind, obj, granted);
        }
    }

    fn standalone(&mut self, pod: &Value, granted: u32) {
        let phase = if granted > 0 { Phase::Running } else { Phase::Pending };
        let current = pod.pointer("/status/phase").and_then(Value::as_str);
        // A running pod is never made pending again (nothing evicts it).
        if current == Some(phase.as_str()) || current == Some("Running") {
            return;
        }
        let node = self.place(phase, None, node_of(pod));
        let (namespace, name) = (
            meta_str(pod, "namespace").to_string(),
            meta_str(pod, "name").to_string(),
        );
        self.ops.push(Op::Update {
            namespace,
            name,
            phase,
            node,
        });
    }

    fn workload(&mut self, kind: Kind, obj: &Value, granted: u32) {
        let wanted = wanted(kind, obj, granted, self.env);
        let fp = fingerprint(kind, obj);
        let namespace = meta_str(obj, "namespace").to_string();
        let existing = self.owned.remove(meta_str(obj, "uid")).unwrap_or_default();
        let by_name: HashMap<&str, &WantedPod> = wanted.iter().map(|w| (w.name.as_str(), w)).collect();
        let mut kept: HashMap<&str, &Value> = HashMap::new();
        let mut busy: HashSet<&str> = HashSet::new();
        for pod in existing {
            let name = meta_str(pod, "name");
            match by_name.get(name) {
                Some(w) if keeps(pod, w, fp.as_ref()) => {
                    kept.insert(name, pod);
                }
                _ => {
                    busy.insert(name);
                    self.ops.push(Op::Delete {
                        namespace: namespace.clone(),
                        name: name.to_string(),
                    });
                }
            }
        }
        for w in wanted.iter().filter(|w| !busy.contains(w.name.as_str())) {
            self.wanted_pod(kind, obj, w, kept.get(w.name.as_str()).copied(), &namespace);
        }
    }

    fn wanted_pod(&mut self, kind: Kind, owner: &Value, w: &WantedPod, pod: Option<&Value>, namespace: &str) {
        match pod {
            None => {
                let node = self.place(w.phase, w.node.as_deref(), None);
                self.ops.push(Op::Create {
                    pod: pod_object(kind, owner, w, node.as_deref()),
                    phase: w.phase,
                });
            }
            Some(p) if p.pointer("/status/phase").and_then(Value::as_str) != Some(w.phase.as_str()) => {
                let node = self.place(w.phase, w.node.as_deref(), node_of(p));
                let (namespace, name) = (namespace.to_string(), w.name.clone());
                self.ops.push(Op::Update {
                    namespace,
                    name,
                    phase: w.phase,
                    node,
                });
            }
            Some(_) => {}
        }
    }
}

/// Whether an existing pod can stay as the wanted one: same template, not running where it
/// should wait (evicted), on its pinned node.
fn keeps(pod: &Value, w: &WantedPod, fp: Option<&(&str, String)>) -> bool {
    let labels = pod.pointer("/metadata/labels");
    let same_template = fp.is_none_or(|(k, v)| labels.and_then(|l| l.get(*k)).and_then(Value::as_str) == Some(v));
    let evicted = pod_phase(pod) == "Running" && w.phase == Phase::Pending;
    let misplaced = w.node.as_deref().is_some_and(|n| node_of(pod).is_some_and(|p| p != n));
    same_template && !evicted && !misplaced
}

/// What [`apply`] did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Applied {
    /// The API does not serve pods at all.
    pub unserved: bool,
    /// Writes that failed (retried by a later pass).
    pub failed: usize,
    /// Writes left for a later pass (beyond [`BUDGET`]).
    pub deferred: usize,
}

impl Applied {
    /// Whether everything planned was done.
    pub fn complete(&self) -> bool {
        !self.unserved && self.failed == 0 && self.deferred == 0
    }
}

/// Performs planned writes (at most [`BUDGET`], [`PARALLEL`] at a time).
pub async fn apply(store: &dyn ObjectStore, ops: Vec<Op>, nodes: usize) -> Applied {
    let now = util::now();
    let now = now.as_str();
    let deferred = ops.len().saturating_sub(BUDGET);
    let outcome = std::sync::Mutex::new(Applied {
        deferred,
        ..Applied::default()
    });
    futures::stream::iter(ops.into_iter().take(BUDGET))
        .for_each_concurrent(PARALLEL, |op| {
            let outcome = &outcome;
            async move {
                let Err(e) = perform(store, op, nodes, now).await else {
                    return;
                };
                let mut o = outcome.lock().unwrap_or_else(|p| p.into_inner());
                o.failed += 1;
                if e.is_unserved() {
                    o.unserved = true;
                } else {
                    tracing::warn!(error = %e, "pod write");
                }
            }
        })
        .await;
    outcome.into_inner().unwrap_or_else(|p| p.into_inner())
}

async fn perform(store: &dyn ObjectStore, op: Op, nodes: usize, now: &str) -> Result<(), MemberError> {
    match op {
        Op::Delete { namespace, name } => match store.delete(PODS, Some(&namespace), &name).await {
            Err(e) if e.reason != "NotFound" => Err(MemberError::api(format!("deleting pod {namespace}/{name}"), e)),
            _ => Ok(()),
        },
        Op::Create { pod, phase } => {
            let (namespace, name) = (
                meta_str(&pod, "namespace").to_string(),
                meta_str(&pod, "name").to_string(),
            );
            match store.create(PODS, pod, MANAGER).await {
                Err(e) if e.reason != "AlreadyExists" => {
                    return Err(MemberError::api(format!("creating pod {namespace}/{name}"), e));
                }
                _ => {}
            }
            set_status(store, &namespace, &name, phase, None, nodes, now).await
        }
        Op::Update {
            namespace,
            name,
            phase,
            node,
        } => set_status(store, &namespace, &name, phase, node, nodes, now).await,
    }
}

/// Binds a pod to `node` (if it has none) and sets its status for `phase`.
async fn set_status(
    store: &dyn ObjectStore,
    namespace: &str,
    name: &str,
    phase: Phase,
    node: Option<String>,
    nodes: usize,
    now: &str,
) -> Result<(), MemberError> {
    let update = move |old: &Value| {
        let mut new = old.clone();
        if let (Some(n), None) = (node.as_deref(), node_of(old)) {
            new.get_mut("spec")?
                .as_object_mut()?
                .insert("nodeName".into(), json!(n));
        }
        let status = pod_status(&new, phase, node_of(&new), nodes, now);
        new.as_object_mut()?.insert("status".into(), status);
        (new != *old).then_some(new)
    };
    match store.modify(PODS, Some(namespace), name, Box::new(update)).await {
        Err(e) if e.reason != "NotFound" => Err(MemberError::api(format!("status of pod {namespace}/{name}"), e)),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capacity::NodeInfo;

    fn env() -> Env {
        let node = |n: &str| NodeInfo::of(&json!({"metadata": {"name": n}}));
        Env {
            nodes: vec![node("m-node-0"), node("m-node-1")],
        }
    }

    fn deploy(replicas: u32) -> Value {
        json!({
            "metadata": {"name": "web", "namespace": "default", "uid": "u1"},
            "spec": {"replicas": replicas, "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}
        })
    }

    fn creates(ops: &[Op]) -> Vec<&Value> {
        ops.iter()
            .filter_map(|o| {
                if let Op::Create { pod, .. } = o {
                    Some(pod)
                } else {
                    None
                }
            })
            .collect()
    }

    #[test]
    fn deployment_pods_running_up_to_the_grant() {
        let env = env();
        let w = wanted(Kind::Deployment, &deploy(3), 2, &env);
        assert_eq!(w.iter().filter(|p| p.phase == Phase::Running).count(), 2);
        assert!(
            w.iter()
                .all(|p| p.name.starts_with("web-") && p.name.len() == "web-".len() + 10 + 1 + 5)
        );
        let mut planner = Planner::new(&env, &[]);
        planner.plan(Kind::Deployment, &deploy(3), 2);
        let ops = planner.into_ops();
        let pods = creates(&ops);
        assert_eq!(pods.len(), 3);
        assert_eq!(pods[0]["metadata"]["labels"]["app"], "web");
        assert_eq!(pods[0]["metadata"]["ownerReferences"][0]["uid"], "u1");
        // Running pods are spread over the nodes; the pending one has none.
        let nodes: Vec<Option<&str>> = pods.iter().map(|p| node_of(p)).collect();
        assert_eq!(nodes, [Some("m-node-0"), Some("m-node-1"), None]);
    }

    #[test]
    fn existing_pods_are_kept_changed_or_deleted() {
        let env = env();
        let d = deploy(2);
        let mut pods: Vec<Value> = wanted(Kind::Deployment, &d, 2, &env)
            .iter()
            .map(|w| {
                let mut p = pod_object(Kind::Deployment, &d, w, Some("m-node-0"));
                p["status"] = json!({"phase": "Running"});
                p
            })
            .collect();
        let mut planner = Planner::new(&env, &pods);
        planner.plan(Kind::Deployment, &d, 2);
        assert!(planner.into_ops().is_empty());
        // Scaled to 1: one pod goes.
        let mut planner = Planner::new(&env, &pods);
        planner.plan(Kind::Deployment, &deploy(1), 1);
        assert!(matches!(planner.into_ops().as_slice(), [Op::Delete { .. }]));
        // New template: both go (their replacements come in the next pass).
        pods[0]["metadata"]["labels"]["pod-template-hash"] = json!("old");
        let mut planner = Planner::new(&env, &pods);
        planner.plan(Kind::Deployment, &d, 2);
        assert!(matches!(planner.into_ops().as_slice(), [Op::Delete { .. }]));
    }

    #[test]
    fn standalone_pods_are_bound_when_granted() {
        let env = env();
        let pod = json!({"metadata": {"name": "p", "namespace": "default"}, "spec": {"containers": []}});
        let mut planner = Planner::new(&env, &[]);
        planner.plan(Kind::Pod, &pod, 1);
        let ops = planner.into_ops();
        assert!(matches!(
            &ops[..],
            [Op::Update {
                phase: Phase::Running,
                node: Some(_),
                ..
            }]
        ));
        let running = json!({"metadata": {"name": "p"}, "status": {"phase": "Running"}});
        let mut planner = Planner::new(&env, &[]);
        planner.plan(Kind::Pod, &running, 0);
        assert!(planner.into_ops().is_empty());
    }

    #[test]
    fn daemonset_and_job_pods() {
        let env = env();
        let ds = json!({"metadata": {"name": "agent", "uid": "u2"}, "spec": {"template": {}}});
        let w = wanted(Kind::DaemonSet, &ds, 1, &env);
        assert_eq!(
            w.iter().map(|p| (p.phase, p.node.as_deref())).collect::<Vec<_>>(),
            [(Phase::Running, Some("m-node-0")), (Phase::Pending, Some("m-node-1"))]
        );
        let job = json!({"metadata": {"name": "pi", "uid": "u3"}, "status": {"succeeded": 2}});
        let w = wanted(Kind::Job, &job, 0, &env);
        assert_eq!(w.len(), 2);
        assert!(w.iter().all(|p| p.phase == Phase::Succeeded));
        let sts = json!({"metadata": {"name": "db"}, "spec": {"replicas": 2, "serviceName": "db"}});
        let w = wanted(Kind::StatefulSet, &sts, 2, &env);
        assert_eq!(w[1].name, "db-1");
        let pod = pod_object(Kind::StatefulSet, &sts, &w[1], None);
        assert_eq!(pod["spec"]["subdomain"], "db");
        assert_eq!(pod["metadata"]["labels"]["apps.kubernetes.io/pod-index"], "1");
    }
}
