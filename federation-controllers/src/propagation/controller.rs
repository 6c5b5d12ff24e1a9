//! The propagation controller.
//!
//! Data flows one way: federation watch cache → render per cluster → one server-side apply
//! per changed (object, cluster) → member informers → drift correction and status back.

use super::policy::{ClusterFacts, ObjectKey, pick_policy, policy_selects, select_clusters};
use super::render::{ORIGIN_LABEL, SOURCE_ANNOTATION, apply_overrides, strip};
use super::status::aggregate;
use apiserver::local::{Gvr, ObjectStore, ResourceDesc};
use base64::Engine;
use futures::StreamExt;
use kube::api::{Api, ApiResource, DeleteParams, DynamicObject, Patch, PatchParams};
use parking_lot::Mutex;
use serde_json::{Value, json};
use std::collections::{HashMap, HashSet};
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// Finalizer that holds a federated object until its member copies are removed.
pub const CLEANUP_FINALIZER: &str = "propagation.ubernetes.io/cleanup";
const FIELD_MANAGER: &str = "ubernetes";
/// Objects reconciled at once: their store writes share group commits and their member
/// requests share HTTP/2 connections.
const RECONCILE_CONCURRENCY: usize = 64;
const RETRY_MIN: Duration = Duration::from_millis(500);
const RETRY_MAX: Duration = Duration::from_secs(30);
const POLICY_GROUP: &str = "policy.ubernetes.io";
const CLUSTER_GROUP: &str = "cluster.ubernetes.io";
const RESERVED_NAMESPACES: &[&str] = &["ubernetes-system", "kube-system", "kube-public", "kube-node-lease"];

/// Settings of the propagation controller.
#[derive(Clone, Debug)]
pub struct PropagationOptions {
    /// Name of this federation (value of the origin label on member copies).
    pub federation: String,
    /// Full resync period (safety net; changes are handled as they happen).
    pub resync: Duration,
    /// Timeout of one request to a member.
    pub member_timeout: Duration,
}

impl Default for PropagationOptions {
    fn default() -> Self {
        Self {
            federation: "ubernetes".into(),
            resync: Duration::from_secs(60),
            member_timeout: Duration::from_secs(10),
        }
    }
}

/// A federated object: its resource and key.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct ObjRef {
    res: usize,
    namespace: String,
    name: String,
}

/// A change of a member copy, from a member informer.
struct MemberEvent {
    cluster: String,
    source: String,
    copy: Option<Value>,
}

struct Member {
    client: kube::Client,
    secret_rv: String,
    watched: HashSet<String>,
}

/// What was last applied to a member for one object.
struct Applied {
    hash: u64,
    rendered: Value,
    generation: i64,
}

struct Controller {
    store: Arc<dyn ObjectStore>,
    opts: PropagationOptions,
    resources: Vec<ResourceDesc>,
    // Short critical sections only (never held across an await), so reconciles of
    // different objects run concurrently.
    members: Mutex<HashMap<String, Member>>,
    applied: Mutex<HashMap<(String, String), Applied>>,
    copies: Mutex<HashMap<(String, String), Value>>,
    /// Copies that exist because workloads depend on them: (cluster, dependency) → owners.
    dep_owners: Mutex<HashMap<(String, String), HashSet<String>>>,
    /// Objects whose last reconcile failed somewhere; retried with backoff.
    failed: Mutex<HashSet<ObjRef>>,
    member_tx: mpsc::UnboundedSender<MemberEvent>,
}

/// Runs the controller until the process ends.
pub async fn run(store: Arc<dyn ObjectStore>, opts: PropagationOptions) {
    let (member_tx, mut member_rx) = mpsc::unbounded_channel();
    let mut c = Controller {
        resources: store.resources(),
        store,
        opts,
        members: Mutex::new(HashMap::new()),
        applied: Mutex::new(HashMap::new()),
        copies: Mutex::new(HashMap::new()),
        dep_owners: Mutex::new(HashMap::new()),
        failed: Mutex::new(HashSet::new()),
        member_tx,
    };
    let mut events = c.store.subscribe();
    let mut tick = tokio::time::interval(c.opts.resync);
    let mut dirty: HashSet<ObjRef> = HashSet::new();
    let mut full = true;
    let mut backoff = RETRY_MIN;
    let retry = tokio::time::sleep(Duration::from_secs(3600));
    tokio::pin!(retry);
    loop {
        tokio::select! {
            _ = &mut retry => {
                let failed: Vec<ObjRef> = c.failed.lock().drain().collect();
                dirty.extend(failed);
                retry.as_mut().reset(tokio::time::Instant::now() + Duration::from_secs(3600));
            }
            ev = events.recv() => match ev {
                Ok(ev) => c.classify(&ev.resource, &ev.object.namespace, &ev.object.name, &mut dirty, &mut full),
                Err(_) => full = true,
            },
            Some(m) = member_rx.recv() => c.on_member_event(m, &mut dirty),
            _ = tick.tick() => full = true,
        }
        while let Ok(ev) = events.try_recv() {
            c.classify(
                &ev.resource,
                &ev.object.namespace,
                &ev.object.name,
                &mut dirty,
                &mut full,
            );
        }
        while let Ok(m) = member_rx.try_recv() {
            c.on_member_event(m, &mut dirty);
        }
        if full {
            full = false;
            c.resources = c.store.resources();
            c.refresh_members().await;
            dirty.extend(c.all_objects());
        }
        let batch: Vec<ObjRef> = std::mem::take(&mut dirty).into_iter().collect();
        let ctl = &c;
        futures::stream::iter(batch)
            .for_each_concurrent(RECONCILE_CONCURRENCY, |o| async move { ctl.reconcile(&o).await })
            .await;
        // Failures (a member down, a CRD not yet established there) are retried with backoff.
        if c.failed.lock().is_empty() {
            backoff = RETRY_MIN;
        } else {
            retry.as_mut().reset(tokio::time::Instant::now() + backoff);
            backoff = (backoff * 2).min(RETRY_MAX);
        }
    }
}

fn propagatable(r: &ResourceDesc) -> bool {
    !(r.group == POLICY_GROUP
        || r.group == CLUSTER_GROUP
        || (r.group.is_empty() && matches!(r.plural.as_str(), "namespaces" | "events"))
        || r.group == "coordination.k8s.io"
        || r.group == "events.k8s.io")
}

fn object_key(r: &ResourceDesc, ns: &str, name: &str) -> String {
    format!("{}/{}/{ns}/{name}", r.group, r.plural)
}

fn content_hash(v: &Value) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    v.to_string().hash(&mut h);
    h.finish()
}

/// What policy selectors compare for one object of resource `r`.
fn object_key_of<'a>(
    r: &'a ResourceDesc,
    api_version: &'a str,
    namespace: &'a str,
    name: &'a str,
    labels: Option<&'a serde_json::Map<String, Value>>,
) -> ObjectKey<'a> {
    ObjectKey {
        api_version,
        kind: &r.kind,
        namespace,
        name,
        labels,
    }
}

fn api_resource(r: &ResourceDesc) -> ApiResource {
    ApiResource {
        group: r.group.clone(),
        version: r.version.clone(),
        api_version: r.api_version(),
        kind: r.kind.clone(),
        plural: r.plural.clone(),
    }
}

fn dyn_api(client: &kube::Client, r: &ResourceDesc, ns: &str) -> Api<DynamicObject> {
    let ar = api_resource(r);
    if r.namespaced {
        Api::namespaced_with(client.clone(), ns, &ar)
    } else {
        Api::all_with(client.clone(), &ar)
    }
}

impl Controller {
    fn gvr(r: &ResourceDesc) -> Gvr<'_> {
        Gvr::new(&r.group, &r.version, &r.plural)
    }

    fn res_index(&self, group: &str, plural: &str) -> Option<usize> {
        self.resources
            .iter()
            .position(|r| r.group == group && r.plural == plural)
    }

    fn classify(&self, prefix: &str, ns: &str, name: &str, dirty: &mut HashSet<ObjRef>, full: &mut bool) {
        let Some(rest) = prefix.strip_prefix("/registry/") else {
            return;
        };
        let mut parts = rest.trim_end_matches('/').splitn(2, '/');
        let (Some(g), Some(plural)) = (parts.next(), parts.next()) else {
            return;
        };
        let group = if g == "core" { "" } else { g };
        if (group == POLICY_GROUP && plural != "placements")
            || group == CLUSTER_GROUP
            || (group.is_empty() && plural == "secrets" && ns == "ubernetes-system")
            || (group == "apiextensions.k8s.io")
            || (group == "autoscaling" && plural == "horizontalpodautoscalers")
        {
            *full = true;
            return;
        }
        if let Some(i) = self.res_index(group, plural)
            && propagatable(&self.resources[i])
            && !RESERVED_NAMESPACES.contains(&ns)
        {
            dirty.insert(ObjRef {
                res: i,
                namespace: ns.to_string(),
                name: name.to_string(),
            });
        }
    }

    fn all_objects(&self) -> Vec<ObjRef> {
        let mut out = Vec::new();
        for (i, r) in self.resources.iter().enumerate().filter(|(_, r)| propagatable(r)) {
            for o in self.store.list(Self::gvr(r), None) {
                let ns = o
                    .pointer("/metadata/namespace")
                    .and_then(|n| n.as_str())
                    .unwrap_or("")
                    .to_string();
                if RESERVED_NAMESPACES.contains(&ns.as_str()) {
                    continue;
                }
                let name = o
                    .pointer("/metadata/name")
                    .and_then(|n| n.as_str())
                    .unwrap_or("")
                    .to_string();
                out.push(ObjRef {
                    res: i,
                    namespace: ns,
                    name,
                });
            }
        }
        out
    }

    fn clusters(&self) -> Vec<ClusterFacts> {
        self.store
            .list(Gvr::new(CLUSTER_GROUP, "v1alpha1", "clusters"), None)
            .iter()
            .filter(|c| c.pointer("/metadata/deletionTimestamp").is_none())
            .filter_map(ClusterFacts::from_cluster)
            .collect()
    }

    /// (Re)builds one client per member from its credentials Secret.
    async fn refresh_members(&self) {
        let clusters = self.store.list(Gvr::new(CLUSTER_GROUP, "v1alpha1", "clusters"), None);
        let mut seen = HashSet::new();
        for c in clusters {
            let name = c
                .pointer("/metadata/name")
                .and_then(|n| n.as_str())
                .unwrap_or("")
                .to_string();
            let ns = c
                .pointer("/spec/secretRef/namespace")
                .and_then(|n| n.as_str())
                .unwrap_or("");
            let sname = c.pointer("/spec/secretRef/name").and_then(|n| n.as_str()).unwrap_or("");
            let Some(secret) = self.store.get(Gvr::new("", "v1", "secrets"), Some(ns), sname) else {
                continue;
            };
            let rv = secret
                .pointer("/metadata/resourceVersion")
                .and_then(|r| r.as_str())
                .unwrap_or("")
                .to_string();
            seen.insert(name.clone());
            if self.members.lock().get(&name).is_some_and(|m| m.secret_rv == rv) {
                continue;
            }
            match client_from_secret(&secret, self.opts.member_timeout).await {
                Ok(client) => {
                    self.members.lock().insert(
                        name,
                        Member {
                            client,
                            secret_rv: rv,
                            watched: HashSet::new(),
                        },
                    );
                }
                Err(e) => tracing::warn!(cluster = %name, error = %e, "no client for member"),
            }
        }
        self.members.lock().retain(|n, _| seen.contains(n));
    }

    fn on_member_event(&self, m: MemberEvent, dirty: &mut HashSet<ObjRef>) {
        let key = (m.cluster.clone(), m.source.clone());
        match m.copy {
            Some(c) => {
                self.copies.lock().insert(key, c);
            }
            None => {
                self.copies.lock().remove(&key);
                // A copy deleted by someone else is recreated.
                self.applied.lock().remove(&(m.cluster.clone(), m.source.clone()));
            }
        }
        if let Some(o) = self.parse_source(&m.source) {
            dirty.insert(o);
        }
    }

    fn parse_source(&self, source: &str) -> Option<ObjRef> {
        let mut parts = source.splitn(4, '/');
        let (g, p, ns, n) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
        let res = self.res_index(g, p)?;
        Some(ObjRef {
            res,
            namespace: ns.to_string(),
            name: n.to_string(),
        })
    }

    async fn reconcile(&self, o: &ObjRef) {
        let r = self.resources[o.res].clone();
        let ns = (!o.namespace.is_empty()).then_some(o.namespace.as_str());
        let key = object_key(&r, &o.namespace, &o.name);
        let Some(obj) = self.store.get(Self::gvr(&r), ns, &o.name) else {
            self.forget(&key);
            return;
        };
        let deleting = obj.pointer("/metadata/deletionTimestamp").is_some();
        let policies = self.policies(&o.namespace);
        let labels = obj.pointer("/metadata/labels").and_then(|l| l.as_object()).cloned();
        let api_version = r.api_version();
        let okey = object_key_of(&r, &api_version, &o.namespace, &o.name, labels.as_ref());
        let policy = pick_policy(&policies, &okey).cloned();
        let clusters = self.clusters();
        let selected: Vec<String> = match (&policy, deleting) {
            (Some(p), false) => select_clusters(p, &clusters),
            _ => Vec::new(),
        };
        let had: Vec<String> = self
            .applied
            .lock()
            .keys()
            .filter(|(_, k)| *k == key)
            .map(|(c, _)| c.clone())
            .collect();
        let dep_held = |c: &String| {
            self.dep_owners
                .lock()
                .get(&(c.clone(), key.clone()))
                .is_some_and(|o| !o.is_empty())
        };
        let follows_deps = policy
            .as_ref()
            .is_some_and(|p| p.pointer("/spec/propagateDeps").and_then(|d| d.as_bool()) == Some(true));
        self.sync_deps(
            &key,
            &obj,
            &o.namespace,
            if follows_deps { &selected } else { &[] },
            &clusters,
        )
        .await;
        for c in had.iter().filter(|c| !selected.contains(c) && !dep_held(c)) {
            self.remove_copy(c, &r, &o.namespace, &o.name, &key).await;
        }
        if deleting {
            if self.applied.lock().keys().all(|(_, k)| *k != key) {
                self.release_finalizer(&r, ns, &o.name).await;
                self.delete_placement(&r, &o.namespace, &o.name).await;
            }
            return;
        }
        let Some(policy) = policy else {
            self.delete_placement(&r, &o.namespace, &o.name).await;
            return;
        };
        if obj
            .pointer("/metadata/finalizers")
            .and_then(|f| f.as_array())
            .is_none_or(|a| !a.iter().any(|f| f == CLEANUP_FINALIZER))
        {
            self.add_finalizer(&r, ns, &o.name).await;
        }
        let overrides = self.override_policies(&o.namespace, &okey);
        let generation = obj
            .pointer("/metadata/generation")
            .and_then(|g| g.as_i64())
            .unwrap_or(0);
        let mut states = Vec::new();
        for c in &selected {
            let facts = clusters.iter().find(|f| &f.name == c);
            let labels = facts.map(|f| f.labels.clone()).unwrap_or_default();
            let report_only = policy.pointer("/spec/driftPolicy").and_then(|d| d.as_str()) == Some("Report");
            let state = self
                .propagate_to(c, &r, &obj, &key, &overrides, &labels, generation, report_only)
                .await;
            states.push(state);
        }
        if states.iter().any(|s| s["state"] == "Failed" || s["state"] == "Pending") {
            self.failed.lock().insert(o.clone());
        }
        self.write_placement(&r, &obj, &policy, &selected, &states).await;
        self.write_status(&r, ns, &o.name, &obj, &key, &selected, generation)
            .await;
    }

    fn policies(&self, namespace: &str) -> Vec<Value> {
        let mut ps = self
            .store
            .list(Gvr::new(POLICY_GROUP, "v1alpha1", "clusterpropagationpolicies"), None);
        if !namespace.is_empty() {
            ps.extend(self.store.list(
                Gvr::new(POLICY_GROUP, "v1alpha1", "propagationpolicies"),
                Some(namespace),
            ));
        }
        ps
    }

    fn override_policies(&self, namespace: &str, okey: &ObjectKey<'_>) -> Vec<Value> {
        let mut ps = self
            .store
            .list(Gvr::new(POLICY_GROUP, "v1alpha1", "clusteroverridepolicies"), None);
        if !namespace.is_empty() {
            ps.extend(
                self.store
                    .list(Gvr::new(POLICY_GROUP, "v1alpha1", "overridepolicies"), Some(namespace)),
            );
        }
        ps.retain(|p| policy_selects(p, okey));
        // Cluster-wide first, then namespaced, each by name: later rules win.
        ps.sort_by_key(|p| {
            (
                p.pointer("/metadata/namespace").is_some(),
                p.pointer("/metadata/name")
                    .and_then(|n| n.as_str())
                    .unwrap_or("")
                    .to_string(),
            )
        });
        ps
    }

    /// Renders and applies one object to one cluster when what it would send changed.
    /// Returns the placement state for that cluster.
    #[allow(clippy::too_many_arguments)]
    async fn propagate_to(
        &self,
        cluster: &str,
        r: &ResourceDesc,
        obj: &Value,
        key: &str,
        overrides: &[Value],
        cluster_labels: &serde_json::Map<String, Value>,
        generation: i64,
        report_only: bool,
    ) -> Value {
        let mut rendered = strip(obj, &self.opts.federation);
        rendered["metadata"]["annotations"][SOURCE_ANNOTATION] = json!(key);
        if self.scaled_by_hpa(obj) {
            // Replicas belong to the members' autoscalers: never send them, so what the
            // member HPA sets is kept (server-side apply leaves unsent fields alone).
            if let Some(spec) = rendered.get_mut("spec").and_then(|s| s.as_object_mut()) {
                spec.remove("replicas");
            }
        }
        let refs: Vec<&Value> = overrides.iter().collect();
        if let Err(e) = apply_overrides(&mut rendered, &refs, cluster, cluster_labels) {
            return json!({"name": cluster, "state": "Failed", "reason": "OverrideFailed", "message": e});
        }
        let hash = content_hash(&rendered);
        let akey = (cluster.to_string(), key.to_string());
        let unchanged = self.applied.lock().get(&akey).is_some_and(|a| a.hash == hash);
        // A member copy that no longer holds what we applied has drifted: apply again
        // (server-side apply restores only the fields we own), unless the policy only reports.
        let in_sync = self
            .copies
            .lock()
            .get(&akey)
            .is_none_or(|copy| contains(copy, &rendered));
        if unchanged && (in_sync || report_only) {
            return self.copy_state(cluster, key);
        }
        let Some(client) = self.members.lock().get(cluster).map(|m| m.client.clone()) else {
            return json!({"name": cluster, "state": "Pending", "reason": "ClusterUnavailable", "message": "no client for this member yet"});
        };
        let ns = obj
            .pointer("/metadata/namespace")
            .and_then(|n| n.as_str())
            .unwrap_or("")
            .to_string();
        if r.namespaced && !ns.is_empty() {
            let ns_res = ResourceDesc {
                group: String::new(),
                version: "v1".into(),
                plural: "namespaces".into(),
                kind: "Namespace".into(),
                namespaced: false,
            };
            let ns_obj = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}});
            let _ = ssa(&client, &ns_res, "", &ns, &ns_obj, self.opts.member_timeout).await;
        }
        let name = obj.pointer("/metadata/name").and_then(|n| n.as_str()).unwrap_or("");
        match ssa(&client, r, &ns, name, &rendered, self.opts.member_timeout).await {
            Ok(copy) => {
                self.copies.lock().insert(akey.clone(), copy);
                self.applied.lock().insert(
                    akey,
                    Applied {
                        hash,
                        rendered,
                        generation,
                    },
                );
                self.ensure_watch(cluster, r);
                self.copy_state(cluster, key)
            }
            Err(e) => json!({"name": cluster, "state": "Failed", "reason": "ApplyFailed", "message": e}),
        }
    }

    /// Whether a HorizontalPodAutoscaler in the federation scales this object.
    fn scaled_by_hpa(&self, obj: &Value) -> bool {
        let ns = obj
            .pointer("/metadata/namespace")
            .and_then(|n| n.as_str())
            .unwrap_or("");
        let (Some(kind), Some(name)) = (obj.get("kind"), obj.pointer("/metadata/name")) else {
            return false;
        };
        if ns.is_empty() {
            return false;
        }
        self.store
            .list(Gvr::new("autoscaling", "v2", "horizontalpodautoscalers"), Some(ns))
            .iter()
            .any(|h| {
                h.pointer("/spec/scaleTargetRef/kind") == Some(kind)
                    && h.pointer("/spec/scaleTargetRef/name") == Some(name)
            })
    }

    fn copy_state(&self, cluster: &str, key: &str) -> Value {
        let akey = (cluster.to_string(), key.to_string());
        let applied = self.applied.lock();
        let copies = self.copies.lock();
        let generation = applied.get(&akey).map(|a| a.generation).unwrap_or(0);
        let drifted = match (copies.get(&akey), applied.get(&akey)) {
            (Some(copy), Some(a)) => !contains(copy, &a.rendered),
            _ => false,
        };
        let ready = copies.get(&akey).is_some_and(is_ready);
        let state = if drifted {
            "Drifted"
        } else if ready {
            "Ready"
        } else {
            "Applied"
        };
        json!({"name": cluster, "state": state, "appliedGeneration": generation})
    }

    /// Starts an informer on a member for a resource, once.
    fn ensure_watch(&self, cluster: &str, r: &ResourceDesc) {
        let mut members = self.members.lock();
        let Some(member) = members.get_mut(cluster) else { return };
        let wkey = format!("{}/{}", r.group, r.plural);
        if !member.watched.insert(wkey) {
            return;
        }
        let ar = api_resource(r);
        let api: Api<DynamicObject> = Api::all_with(member.client.clone(), &ar);
        let tx = self.member_tx.clone();
        let cluster = cluster.to_string();
        let cfg = kube::runtime::watcher::Config::default().labels(ORIGIN_LABEL);
        tokio::spawn(async move {
            let mut stream = kube::runtime::watcher(api, cfg).boxed();
            while let Some(ev) = stream.next().await {
                use kube::runtime::watcher::Event;
                let (obj, deleted) = match ev {
                    Ok(Event::Apply(o) | Event::InitApply(o)) => (o, false),
                    Ok(Event::Delete(o)) => (o, true),
                    Ok(_) => continue,
                    Err(e) => {
                        tracing::debug!(%cluster, error = %e, "member watch error");
                        continue;
                    }
                };
                let Some(source) = obj
                    .metadata
                    .annotations
                    .as_ref()
                    .and_then(|a| a.get(SOURCE_ANNOTATION))
                    .cloned()
                else {
                    continue;
                };
                let copy = if deleted { None } else { serde_json::to_value(&obj).ok() };
                if tx
                    .send(MemberEvent {
                        cluster: cluster.clone(),
                        source,
                        copy,
                    })
                    .is_err()
                {
                    return;
                }
            }
        });
    }

    async fn remove_copy(&self, cluster: &str, r: &ResourceDesc, ns: &str, name: &str, key: &str) {
        let akey = (cluster.to_string(), key.to_string());
        let client = self.members.lock().get(cluster).map(|m| m.client.clone());
        if let Some(client) = client {
            let api = dyn_api(&client, r, ns);
            match tokio::time::timeout(self.opts.member_timeout, api.delete(name, &DeleteParams::background())).await {
                Ok(Ok(_)) | Ok(Err(kube::Error::Api(_))) => {}
                Ok(Err(e)) => {
                    tracing::warn!(%cluster, error = %e, "could not remove member copy");
                    return;
                }
                Err(_) => return,
            }
        }
        self.applied.lock().remove(&akey);
        self.copies.lock().remove(&akey);
    }

    fn forget(&self, key: &str) {
        self.applied.lock().retain(|(_, k), _| k != key);
        self.copies.lock().retain(|(_, k), _| k != key);
    }

    async fn add_finalizer(&self, r: &ResourceDesc, ns: Option<&str>, name: &str) {
        let _ = self
            .store
            .modify(
                Self::gvr(r),
                ns,
                name,
                Box::new(|old| {
                    let mut new = old.clone();
                    let list = new["metadata"]
                        .as_object_mut()?
                        .entry("finalizers")
                        .or_insert_with(|| json!([]));
                    let a = list.as_array_mut()?;
                    if a.iter().any(|f| f == CLEANUP_FINALIZER) {
                        return None;
                    }
                    a.push(json!(CLEANUP_FINALIZER));
                    Some(new)
                }),
            )
            .await;
    }

    async fn release_finalizer(&self, r: &ResourceDesc, ns: Option<&str>, name: &str) {
        let _ = self
            .store
            .modify(
                Self::gvr(r),
                ns,
                name,
                Box::new(|old| {
                    let mut new = old.clone();
                    let a = new.pointer_mut("/metadata/finalizers")?.as_array_mut()?;
                    let before = a.len();
                    a.retain(|f| f != CLEANUP_FINALIZER);
                    (a.len() != before).then_some(new)
                }),
            )
            .await;
    }

    /// ConfigMaps, Secrets, ServiceAccounts and PVCs a workload's pod template references
    /// follow it to the same clusters; a dependency copy goes away when no workload there
    /// needs it any more (and no policy selects it there itself).
    async fn sync_deps(&self, owner: &str, obj: &Value, ns: &str, selected: &[String], clusters: &[ClusterFacts]) {
        let mut wanted: HashSet<(String, String)> = HashSet::new();
        for (plural, name) in dependencies(obj) {
            let Some(i) = self.res_index("", plural) else { continue };
            let r = self.resources[i].clone();
            let Some(dep) = self.store.get(Self::gvr(&r), Some(ns), &name) else {
                continue;
            };
            let key = object_key(&r, ns, &name);
            let generation = dep
                .pointer("/metadata/generation")
                .and_then(|g| g.as_i64())
                .unwrap_or(0);
            for c in selected {
                wanted.insert((c.clone(), key.clone()));
                self.dep_owners
                    .lock()
                    .entry((c.clone(), key.clone()))
                    .or_default()
                    .insert(owner.to_string());
                let labels = clusters
                    .iter()
                    .find(|f| &f.name == c)
                    .map(|f| f.labels.clone())
                    .unwrap_or_default();
                self.propagate_to(c, &r, &dep, &key, &[], &labels, generation, false)
                    .await;
            }
        }
        let released: Vec<(String, String)> = {
            let mut map = self.dep_owners.lock();
            let mut out = Vec::new();
            for (k, owners) in map.iter_mut() {
                if !wanted.contains(k) && owners.remove(owner) && owners.is_empty() {
                    out.push(k.clone());
                }
            }
            map.retain(|_, o| !o.is_empty());
            out
        };
        for (cluster, key) in released {
            if let Some(dep) = self.parse_source(&key) {
                // Its own reconcile removes it unless a policy keeps it in that cluster.
                let r = self.resources[dep.res].clone();
                let ns = (!dep.namespace.is_empty()).then_some(dep.namespace.as_str());
                let selected_itself = self.store.get(Self::gvr(&r), ns, &dep.name).is_some_and(|d| {
                    let labels = d.pointer("/metadata/labels").and_then(|l| l.as_object()).cloned();
                    let api_version = r.api_version();
                    let k = object_key_of(&r, &api_version, &dep.namespace, &dep.name, labels.as_ref());
                    pick_policy(&self.policies(&dep.namespace), &k)
                        .is_some_and(|p| select_clusters(p, clusters).contains(&cluster))
                });
                if !selected_itself {
                    self.remove_copy(&cluster, &r, &dep.namespace, &dep.name, &key).await;
                }
            }
        }
    }

    async fn write_placement(
        &self,
        r: &ResourceDesc,
        obj: &Value,
        policy: &Value,
        selected: &[String],
        states: &[Value],
    ) {
        let ns = match obj.pointer("/metadata/namespace").and_then(|n| n.as_str()) {
            Some(n) if !n.is_empty() => n.to_string(),
            _ => "ubernetes-system".to_string(),
        };
        let name = placement_name(r, obj);
        let ready = states.iter().filter(|s| s["state"] == "Ready").count();
        let summary = format!("{ready}/{} ready: {}", selected.len(), selected.join(","));
        let spec = json!({
            "resource": {"apiVersion": obj["apiVersion"], "kind": obj["kind"], "namespace": obj.pointer("/metadata/namespace").cloned().unwrap_or(json!("")),
                         "name": obj.pointer("/metadata/name").cloned().unwrap_or(json!("")), "uid": obj.pointer("/metadata/uid").cloned().unwrap_or(json!(""))},
            "policy": {"kind": policy["kind"], "namespace": policy.pointer("/metadata/namespace").cloned().unwrap_or(json!("")), "name": policy.pointer("/metadata/name").cloned().unwrap_or(json!(""))},
            "clusters": selected.iter().map(|c| json!({"name": c})).collect::<Vec<_>>(),
        });
        let status = json!({"summary": summary, "renderedGeneration": obj.pointer("/metadata/generation").cloned().unwrap_or(json!(0)), "clusters": states});
        let gvr = Gvr::new(POLICY_GROUP, "v1alpha1", "placements");
        if self.store.get(gvr, Some(&ns), &name).is_none() {
            let placement = json!({"apiVersion": "policy.ubernetes.io/v1alpha1", "kind": "Placement",
                "metadata": {"name": name, "namespace": ns}, "spec": spec, "status": status});
            self.ensure_namespace(&ns).await;
            let _ = self.store.create(gvr, placement, FIELD_MANAGER).await;
        }
        let _ = self
            .store
            .modify(
                gvr,
                Some(&ns),
                &name,
                Box::new(move |old| {
                    let mut new = old.clone();
                    new["spec"] = spec.clone();
                    let mut st = status.clone();
                    // Keep transition-free fields stable so unchanged placements cause no writes.
                    if old.pointer("/status") == Some(&st) {
                        return None;
                    }
                    if let Some(o) = st.as_object_mut() {
                        o.retain(|_, v| !v.is_null());
                    }
                    new["status"] = st;
                    (new != *old).then_some(new)
                }),
            )
            .await;
    }

    async fn ensure_namespace(&self, ns: &str) {
        let gvr = Gvr::new("", "v1", "namespaces");
        if self.store.get(gvr, None, ns).is_none() {
            let _ = self
                .store
                .create(gvr, json!({"metadata": {"name": ns}}), FIELD_MANAGER)
                .await;
        }
    }

    async fn delete_placement(&self, r: &ResourceDesc, ns: &str, name: &str) {
        let pns = if ns.is_empty() { "ubernetes-system" } else { ns };
        let pname = format!("{}-{name}", r.kind.to_ascii_lowercase());
        let gvr = Gvr::new(POLICY_GROUP, "v1alpha1", "placements");
        if self.store.get(gvr, Some(pns), &pname).is_some() {
            let _ = self.store.delete(gvr, Some(pns), &pname).await;
        }
    }

    #[allow(clippy::too_many_arguments)]
    async fn write_status(
        &self,
        r: &ResourceDesc,
        ns: Option<&str>,
        name: &str,
        obj: &Value,
        key: &str,
        selected: &[String],
        generation: i64,
    ) {
        let copies: Vec<Option<Value>> = {
            let map = self.copies.lock();
            selected
                .iter()
                .map(|c| map.get(&(c.clone(), key.to_string())).cloned())
                .collect()
        };
        let current = {
            let map = self.applied.lock();
            selected.iter().all(|c| {
                map.get(&(c.clone(), key.to_string()))
                    .is_some_and(|a| a.generation == generation)
            })
        };
        let now = jiff::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%SZ").to_string();
        let Some(mut status) = aggregate(&r.kind, obj, &copies, current, &now) else {
            return;
        };
        // Keep condition times stable while nothing changes, so status writes settle.
        if let (Some(old), Some(new)) = (
            obj.pointer("/status/conditions").and_then(|c| c.as_array()),
            status.get_mut("conditions").and_then(|c| c.as_array_mut()),
        ) {
            for n in new.iter_mut() {
                if let Some(o) = old
                    .iter()
                    .find(|o| o["type"] == n["type"] && o["status"] == n["status"] && o["reason"] == n["reason"])
                {
                    for t in ["lastUpdateTime", "lastTransitionTime", "lastProbeTime"] {
                        if let Some(v) = o.get(t) {
                            n[t] = v.clone();
                        }
                    }
                }
            }
        }
        if obj.get("status") == Some(&status) {
            return;
        }
        let _ = self
            .store
            .modify(
                Self::gvr(r),
                ns,
                name,
                Box::new(move |old| {
                    let mut new = old.clone();
                    new["status"] = status.clone();
                    (new != *old).then_some(new)
                }),
            )
            .await;
    }
}

fn placement_name(r: &ResourceDesc, obj: &Value) -> String {
    format!(
        "{}-{}",
        r.kind.to_ascii_lowercase(),
        obj.pointer("/metadata/name").and_then(|n| n.as_str()).unwrap_or("")
    )
}

/// Whether every field of `want` has the same value in `have` (fields the federation does
/// not set are the member's to own, e.g. replicas under a member HPA when not rendered).
pub fn contains(have: &Value, want: &Value) -> bool {
    match (have, want) {
        (Value::Object(h), Value::Object(w)) => w.iter().all(|(k, wv)| h.get(k).is_some_and(|hv| contains(hv, wv))),
        (Value::Array(h), Value::Array(w)) => h.len() == w.len() && h.iter().zip(w).all(|(a, b)| contains(a, b)),
        _ => have == want,
    }
}

fn is_ready(copy: &Value) -> bool {
    let cond = |t: &str| {
        copy.pointer("/status/conditions")
            .and_then(|c| c.as_array())
            .is_some_and(|cs| cs.iter().any(|c| c["type"] == t && c["status"] == "True"))
    };
    match copy.get("kind").and_then(|k| k.as_str()) {
        Some("Deployment") => cond("Available"),
        Some("Job") => cond("Complete"),
        _ => true,
    }
}

/// (plural, name) of the ConfigMaps, Secrets, ServiceAccounts and PVCs a pod template uses.
pub fn dependencies(obj: &Value) -> Vec<(&'static str, String)> {
    let spec = obj
        .pointer("/spec/template/spec")
        .or_else(|| obj.pointer("/spec/jobTemplate/spec/template/spec"));
    let Some(spec) = spec else { return Vec::new() };
    let mut out = Vec::new();
    let mut push = |plural: &'static str, v: Option<&Value>| {
        if let Some(n) = v.and_then(|n| n.as_str()).filter(|n| !n.is_empty())
            && !out.contains(&(plural, n.to_string()))
        {
            out.push((plural, n.to_string()));
        }
    };
    push("serviceaccounts", spec.get("serviceAccountName"));
    for v in spec.get("volumes").and_then(|v| v.as_array()).into_iter().flatten() {
        push("configmaps", v.pointer("/configMap/name"));
        push("secrets", v.pointer("/secret/secretName"));
        push("persistentvolumeclaims", v.pointer("/persistentVolumeClaim/claimName"));
        for s in v
            .pointer("/projected/sources")
            .and_then(|s| s.as_array())
            .into_iter()
            .flatten()
        {
            push("configmaps", s.pointer("/configMap/name"));
            push("secrets", s.pointer("/secret/name"));
        }
    }
    for list in ["containers", "initContainers"] {
        for c in spec.get(list).and_then(|c| c.as_array()).into_iter().flatten() {
            for e in c.get("envFrom").and_then(|e| e.as_array()).into_iter().flatten() {
                push("configmaps", e.pointer("/configMapRef/name"));
                push("secrets", e.pointer("/secretRef/name"));
            }
            for e in c.get("env").and_then(|e| e.as_array()).into_iter().flatten() {
                push("configmaps", e.pointer("/valueFrom/configMapKeyRef/name"));
                push("secrets", e.pointer("/valueFrom/secretKeyRef/name"));
            }
        }
    }
    for s in spec
        .get("imagePullSecrets")
        .and_then(|s| s.as_array())
        .into_iter()
        .flatten()
    {
        push("secrets", s.get("name"));
    }
    out
}

/// Server-side apply of `obj` to a member; returns the member's copy.
async fn ssa(
    client: &kube::Client,
    r: &ResourceDesc,
    ns: &str,
    name: &str,
    obj: &Value,
    timeout: Duration,
) -> Result<Value, String> {
    let api = dyn_api(client, r, ns);
    let params = PatchParams::apply(FIELD_MANAGER).force();
    match tokio::time::timeout(timeout, api.patch(name, &params, &Patch::Apply(obj))).await {
        Ok(Ok(o)) => serde_json::to_value(o).map_err(|e| e.to_string()),
        Ok(Err(kube::Error::Api(s))) => Err(format!("{} ({})", s.message, s.code)),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err("timed out".to_string()),
    }
}

/// A client for a member from its credentials Secret (`data.kubeconfig`).
async fn client_from_secret(secret: &Value, timeout: Duration) -> Result<kube::Client, String> {
    let b64 = secret
        .pointer("/data/kubeconfig")
        .and_then(|v| v.as_str())
        .ok_or("the Secret has no kubeconfig key")?;
    let raw = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .map_err(|_| "the kubeconfig is not base64".to_string())?;
    let text = String::from_utf8(raw).map_err(|_| "the kubeconfig is not UTF-8".to_string())?;
    let kc = kube::config::Kubeconfig::from_yaml(&text).map_err(|_| "the kubeconfig is not valid".to_string())?;
    // Whoever can write this Secret must not be able to make the federation run a command
    // or read its files: plugins and file references are refused.
    let unsafe_auth = kc.auth_infos.iter().filter_map(|a| a.auth_info.as_ref()).any(|i| {
        i.exec.is_some()
            || i.auth_provider.is_some()
            || i.token_file.is_some()
            || i.client_certificate.is_some()
            || i.client_key.is_some()
    });
    if unsafe_auth {
        return Err(
            "the kubeconfig uses an exec/auth-provider plugin or file references, which are refused".to_string(),
        );
    }
    let mut cfg = kube::Config::from_custom_kubeconfig(kc, &Default::default())
        .await
        .map_err(|e| format!("unusable kubeconfig: {e}"))?;
    cfg.read_timeout = Some(timeout.max(Duration::from_secs(300)));
    cfg.connect_timeout = Some(timeout);
    kube::Client::try_from(cfg).map_err(|e| format!("cannot build a client: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contains_is_a_subset_check() {
        let have = json!({"spec": {"replicas": 3, "paused": false}, "metadata": {"labels": {"a": "1", "b": "2"}}});
        assert!(contains(
            &have,
            &json!({"spec": {"replicas": 3}, "metadata": {"labels": {"a": "1"}}})
        ));
        assert!(!contains(&have, &json!({"spec": {"replicas": 4}})));
    }

    #[test]
    fn dependencies_of_a_pod_template() {
        let d = json!({"spec": {"template": {"spec": {
            "serviceAccountName": "sa",
            "volumes": [{"name": "v", "configMap": {"name": "cm"}}, {"name": "s", "secret": {"secretName": "sec"}}],
            "containers": [{"name": "c", "envFrom": [{"configMapRef": {"name": "cm2"}}],
                            "env": [{"name": "X", "valueFrom": {"secretKeyRef": {"name": "sec", "key": "k"}}}]}]}}}});
        let deps = dependencies(&d);
        assert!(deps.contains(&("configmaps", "cm".into())));
        assert!(deps.contains(&("configmaps", "cm2".into())));
        assert!(deps.contains(&("secrets", "sec".into())));
        assert!(deps.contains(&("serviceaccounts", "sa".into())));
        assert_eq!(deps.iter().filter(|d| d.1 == "sec").count(), 1);
    }
}
