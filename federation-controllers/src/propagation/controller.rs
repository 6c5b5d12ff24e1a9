//! The propagation controller.
//!
//! Data flows one way: federation watch cache → render per cluster → one server-side apply
//! per changed (object, cluster) → member informers → drift correction and status back.
//!
//! The event loop only classifies changes and feeds a [`WorkQueue`]; up to
//! `RECONCILE_CONCURRENCY` objects reconcile at once, each fanning out to its clusters
//! concurrently. Policies, clusters and autoscaler targets are read from a [`Snapshot`] that
//! is replaced only when one of them changes: a Cluster's heartbeat does not resync anything.

use super::members::{self, FIELD_MANAGER, Member, MemberEvent, MemberInbox, RawCopy};
use super::policy::{ObjectKey, select_clusters};
use super::queue::WorkQueue;
use super::render::{ORIGIN_LABEL, SOURCE_ANNOTATION, apply_overrides, strip};
use super::snapshot::{ClusterEntry, Snapshot};
use super::status::aggregate;
use apiserver::cache::CacheEvent;
use apiserver::local::{Gvr, Modify, ObjectStore, ResourceDesc};
use futures::StreamExt;
use parking_lot::{Mutex, RwLock};
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;
use tokio::time::Instant;

/// Finalizer that holds a federated object until its member copies are removed.
pub const CLEANUP_FINALIZER: &str = "propagation.ubernetes.io/cleanup";
/// Objects reconciled at once: their store writes share group commits and their member
/// requests share HTTP/2 connections.
const RECONCILE_CONCURRENCY: usize = 64;
/// Clusters one object is applied to at once.
const FANOUT: usize = 64;
/// Member requests in flight overall.
const TOTAL_REQUESTS: usize = 512;
const RETRY_MIN: Duration = Duration::from_millis(500);
const RETRY_MAX: Duration = Duration::from_secs(30);
/// A changed member copy is looked at this long after the change, so the status updates of
/// many members in a burst make one status write in the federation, not one each.
const MEMBER_EVENT_DELAY: Duration = Duration::from_millis(200);
/// Events handled per loop turn before the queue gets a chance to run.
const EVENT_BATCH: usize = 4096;
const POLICY_GROUP: &str = "policy.ubernetes.io";
const CLUSTER_GROUP: &str = "cluster.ubernetes.io";
const CREDENTIALS_NAMESPACE: &str = "ubernetes-system";
const RESERVED_NAMESPACES: &[&str] = &["ubernetes-system", "kube-system", "kube-public", "kube-node-lease"];
const CLUSTERS: Gvr<'static> = Gvr::new(CLUSTER_GROUP, "v1alpha1", "clusters");
const PLACEMENTS: Gvr<'static> = Gvr::new(POLICY_GROUP, "v1alpha1", "placements");
const SECRETS: Gvr<'static> = Gvr::new("", "v1", "secrets");
const HPAS: Gvr<'static> = Gvr::new("autoscaling", "v2", "horizontalpodautoscalers");

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
            resync: Duration::from_secs(300),
            member_timeout: Duration::from_secs(10),
        }
    }
}

/// A federated object: its resource and key.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct ObjRef {
    group: String,
    plural: String,
    namespace: String,
    name: String,
}

/// What was last applied to a member for one object.
struct Applied {
    hash: u64,
    generation: i64,
}

/// What the federation keeps of a member copy once it has been compared with the rendering:
/// whether it drifted, and the few fields status aggregation reads (kept serialized; a full
/// copy per (object, cluster) would dominate the federation's memory).
struct CopyDigest {
    rv: Option<u64>,
    /// Hash of the rendering it was compared with, and whether it held every field of it.
    checked: (u64, bool),
    ready: bool,
    /// `{"kind", "metadata": {"generation"}, "status"}` of the copy, as JSON.
    summary: Box<str>,
}

impl CopyDigest {
    fn of(copy: &Value, hash: u64, rendered: &Value) -> Self {
        let summary = json!({
            "kind": copy.get("kind"),
            "metadata": {"generation": copy.pointer("/metadata/generation")},
            "status": copy.get("status"),
        });
        CopyDigest {
            rv: resource_version(copy),
            checked: (hash, contains(copy, rendered)),
            ready: is_ready(copy),
            summary: summary.to_string().into_boxed_str(),
        }
    }

    fn summary(&self) -> Value {
        serde_json::from_str(&self.summary).unwrap_or(Value::Null)
    }
}

/// The federation's knowledge of one object in one member.
#[derive(Default)]
struct ClusterCopy {
    applied: Option<Applied>,
    /// The member's copy as last delivered (apply response or informer), until compared.
    raw: Option<RawCopy>,
    /// The member's copy, compared.
    digest: Option<CopyDigest>,
}

impl ClusterCopy {
    fn rv(&self) -> Option<u64> {
        self.raw
            .as_ref()
            .and_then(|r| r.rv)
            .or_else(|| self.digest.as_ref().and_then(|d| d.rv))
    }

    fn is_newer(&self, rv: Option<u64>) -> bool {
        !matches!((rv, self.rv()), (Some(n), Some(k)) if n < k)
    }

    /// Takes a newer copy (an apply response can arrive after the informer delivered a later
    /// change, and the other way round).
    fn offer(&mut self, copy: RawCopy) {
        if self.is_newer(copy.rv) {
            self.raw = Some(copy);
        }
    }

    /// Compares a newly delivered copy with the current rendering.
    fn digest(&mut self, hash: u64, rendered: &Value) {
        if let Some(raw) = self.raw.take() {
            self.digest = Some(CopyDigest::of(&raw.value(), hash, rendered));
        }
    }

    /// Takes the copy an apply returned, compared with what was applied.
    fn settle(&mut self, copy: &Value, hash: u64, rendered: &Value) {
        if self.is_newer(resource_version(copy)) {
            self.raw = None;
            self.digest = Some(CopyDigest::of(copy, hash, rendered));
        } else {
            self.digest(hash, rendered);
        }
    }

    fn exists(&self) -> bool {
        self.raw.is_some() || self.digest.is_some()
    }
}

/// The federation's knowledge of one object across members.
#[derive(Default)]
struct ObjectState {
    /// Clusters recorded in the object's Placement were merged in (after a restart).
    seeded: bool,
    /// Clusters that hold (or may hold) a copy made by the federation.
    clusters: BTreeMap<String, ClusterCopy>,
    /// Cluster → reason of its last failure (reported once as an Event).
    failures: BTreeMap<String, String>,
}

/// Changes seen by the event loop, applied before the next reconciles start.
#[derive(Default)]
struct Changes {
    all: bool,
    resources: bool,
    policies: bool,
    hpas: bool,
    clusters: HashSet<String>,
    secrets: HashSet<String>,
}

impl Changes {
    fn any(&self) -> bool {
        self.all
            || self.resources
            || self.policies
            || self.hpas
            || !self.clusters.is_empty()
            || !self.secrets.is_empty()
    }
}

struct Controller {
    store: Arc<dyn ObjectStore>,
    opts: PropagationOptions,
    resources: RwLock<Arc<Vec<ResourceDesc>>>,
    snapshot: RwLock<Arc<Snapshot>>,
    // Short critical sections only (never held across an await), so reconciles of
    // different objects run concurrently.
    members: Mutex<HashMap<String, Member>>,
    objects: Mutex<HashMap<String, ObjectState>>,
    /// Copies that exist because workloads depend on them: (cluster, dependency) → owners.
    dep_owners: Mutex<HashMap<(String, String), HashSet<String>>>,
    requests: Semaphore,
    /// Objects being deleted with `propagationPolicy: Orphan`: their copies stay in members.
    orphaning: Mutex<HashSet<String>>,
    inbox: Arc<MemberInbox>,
}

/// Runs the controller until the process ends.
pub async fn run(store: Arc<dyn ObjectStore>, opts: PropagationOptions) {
    let (inbox, mut member_rx) = MemberInbox::new();
    let resync = opts.resync;
    let ctl = Arc::new(Controller {
        resources: RwLock::new(Arc::new(store.resources())),
        store,
        opts,
        snapshot: RwLock::default(),
        members: Mutex::new(HashMap::new()),
        objects: Mutex::new(HashMap::new()),
        dep_owners: Mutex::new(HashMap::new()),
        requests: Semaphore::new(TOTAL_REQUESTS),
        orphaning: Mutex::new(HashSet::new()),
        inbox,
    });
    let mut events = ctl.store.subscribe();
    let mut tick = tokio::time::interval_at(Instant::now() + resync, resync);
    let mut queue = WorkQueue::default();
    let mut changes = Changes {
        all: true,
        ..Default::default()
    };
    let mut running = tokio::task::JoinSet::new();
    let mut in_flight: HashMap<tokio::task::Id, ObjRef> = HashMap::new();
    let mut attempts: HashMap<ObjRef, u32> = HashMap::new();
    let mut delayed: BTreeMap<(Instant, u64), ObjRef> = BTreeMap::new();
    // Objects waiting out MEMBER_EVENT_DELAY after a member copy changed.
    let mut member_wait: HashSet<ObjRef> = HashSet::new();
    let mut seq = 0u64;
    loop {
        if changes.any() {
            ctl.apply_changes(std::mem::take(&mut changes), &mut queue).await;
        }
        while running.len() < RECONCILE_CONCURRENCY {
            let Some(o) = queue.pop() else { break };
            let c = ctl.clone();
            let task = o.clone();
            let handle = running.spawn(async move { c.reconcile(&task).await });
            in_flight.insert(handle.id(), o);
        }
        let next_retry = delayed.keys().next().map(|(t, _)| *t);
        tokio::select! {
            Some(done) = running.join_next_with_id() => {
                let (id, retry) = match done {
                    Ok((id, retry)) => (id, retry),
                    Err(e) => (e.id(), true),
                };
                if let Some(o) = in_flight.remove(&id) {
                    queue.done(&o);
                    if retry {
                        let n = attempts.entry(o.clone()).or_insert(0);
                        let delay = RETRY_MIN.saturating_mul(1 << (*n).min(8)).min(RETRY_MAX);
                        *n += 1;
                        seq += 1;
                        delayed.insert((Instant::now() + delay, seq), o);
                    } else {
                        attempts.remove(&o);
                    }
                }
            }
            _ = sleep_until(next_retry) => {
                let now = Instant::now();
                while let Some(entry) = delayed.first_entry() {
                    if entry.key().0 > now {
                        break;
                    }
                    let o = entry.remove();
                    member_wait.remove(&o);
                    queue.push(o);
                }
            }
            ev = events.recv() => match ev {
                Ok(ev) => ctl.classify(&ev, &mut changes, &mut queue),
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => changes.all = true,
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
            },
            Some(key) = member_rx.recv() => {
                if let Some(o) = ctl.inbox.take(&key).and_then(|m| ctl.on_member_event(m))
                    && member_wait.insert(o.clone())
                {
                    seq += 1;
                    delayed.insert((Instant::now() + MEMBER_EVENT_DELAY, seq), o);
                }
            }
            _ = tick.tick() => changes.all = true,
        }
        for _ in 0..EVENT_BATCH {
            match events.try_recv() {
                Ok(ev) => ctl.classify(&ev, &mut changes, &mut queue),
                Err(tokio::sync::broadcast::error::TryRecvError::Lagged(_)) => changes.all = true,
                Err(_) => break,
            }
        }
        for _ in 0..EVENT_BATCH {
            let Ok(key) = member_rx.try_recv() else { break };
            if let Some(o) = ctl.inbox.take(&key).and_then(|m| ctl.on_member_event(m))
                && member_wait.insert(o.clone())
            {
                seq += 1;
                delayed.insert((Instant::now() + MEMBER_EVENT_DELAY, seq), o);
            }
        }
    }
}

async fn sleep_until(t: Option<Instant>) {
    match t {
        Some(t) => tokio::time::sleep_until(t).await,
        None => std::future::pending().await,
    }
}

fn namespace_resource() -> ResourceDesc {
    ResourceDesc {
        group: String::new(),
        version: "v1".into(),
        plural: "namespaces".into(),
        kind: "Namespace".into(),
        namespaced: false,
    }
}

/// Whether an object is being deleted with `propagationPolicy: Orphan`.
fn orphan_requested(obj: &Value) -> bool {
    obj.pointer("/metadata/deletionTimestamp").is_some()
        && obj
            .pointer("/metadata/finalizers")
            .and_then(|f| f.as_array())
            .is_some_and(|a| a.iter().any(|f| f == "orphan"))
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

fn str_at<'a>(v: &'a Value, p: &str) -> &'a str {
    v.pointer(p).and_then(|x| x.as_str()).unwrap_or("")
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

fn state(cluster: &str, state: &str, reason: &str, message: &str) -> Value {
    json!({"name": cluster, "state": state, "reason": reason, "message": message})
}

fn gvr(r: &ResourceDesc) -> Gvr<'_> {
    Gvr::new(&r.group, &r.version, &r.plural)
}

/// How a policy treats member copies.
#[derive(Clone, Copy)]
struct Mode {
    /// `driftPolicy: Report`: drift is shown, not undone.
    report_only: bool,
    /// `conflictResolution: Overwrite`: objects not created by the federation are taken over.
    overwrite: bool,
}

impl Mode {
    fn of(policy: &Value) -> Self {
        Mode {
            report_only: str_at(policy, "/spec/driftPolicy") == "Report",
            overwrite: str_at(policy, "/spec/conflictResolution") == "Overwrite",
        }
    }
}

impl Controller {
    fn resource(&self, group: &str, plural: &str) -> Option<ResourceDesc> {
        self.resources
            .read()
            .iter()
            .find(|r| r.group == group && r.plural == plural)
            .cloned()
    }

    fn snapshot(&self) -> Arc<Snapshot> {
        self.snapshot.read().clone()
    }

    fn classify(&self, ev: &CacheEvent, changes: &mut Changes, queue: &mut WorkQueue<ObjRef>) {
        let (ns, name) = (ev.object.namespace.as_str(), ev.object.name.as_str());
        let Some(rest) = ev.resource.strip_prefix("/registry/") else {
            return;
        };
        let mut parts = rest.trim_end_matches('/').splitn(2, '/');
        let (Some(g), Some(plural)) = (parts.next(), parts.next()) else {
            return;
        };
        let group = if g == "core" { "" } else { g };
        match (group, plural) {
            (POLICY_GROUP, "placements") => return,
            (POLICY_GROUP, _) => {
                changes.policies = true;
                return;
            }
            (CLUSTER_GROUP, "clusters") => {
                changes.clusters.insert(name.to_string());
                return;
            }
            (CLUSTER_GROUP, _) => return,
            ("", "secrets") if ns == CREDENTIALS_NAMESPACE => {
                changes.secrets.insert(name.to_string());
                return;
            }
            ("apiextensions.k8s.io", _) => changes.resources = true,
            ("autoscaling", "horizontalpodautoscalers") => changes.hpas = true,
            _ => {}
        }
        if RESERVED_NAMESPACES.contains(&ns) {
            return;
        }
        if let Some(r) = self.resource(group, plural).filter(propagatable) {
            // `kubectl delete --cascade=orphan` asks for the member copies to stay. The
            // garbage collector may drop the `orphan` finalizer before this object is
            // reconciled, so the request is remembered from the event itself.
            if ev.object.json.windows(8).any(|w| w == b"\"orphan\"") && orphan_requested(&ev.object.value()) {
                self.orphaning.lock().insert(object_key(&r, ns, name));
            }
            queue.push(ObjRef {
                group: group.to_string(),
                plural: plural.to_string(),
                namespace: ns.to_string(),
                name: name.to_string(),
            });
        }
    }

    /// Brings the snapshot and member connections up to date; queues every object when
    /// what placement or rendering reads changed.
    async fn apply_changes(&self, ch: Changes, queue: &mut WorkQueue<ObjRef>) {
        if ch.all || ch.resources {
            *self.resources.write() = Arc::new(self.store.resources());
        }
        let old = self.snapshot();
        let mut snap = (*old).clone();
        let mut refresh: HashSet<String> = HashSet::new();
        if ch.all {
            snap.clusters = self
                .store
                .list(CLUSTERS, None)
                .iter()
                .filter_map(ClusterEntry::from_cluster)
                .map(|e| (e.facts.name.clone(), e))
                .collect();
            refresh.extend(snap.clusters.keys().cloned());
        }
        for name in &ch.clusters {
            let entry = self
                .store
                .get(CLUSTERS, None, name)
                .and_then(|c| ClusterEntry::from_cluster(&c));
            if snap.clusters.get(name) != entry.as_ref() {
                refresh.insert(name.clone());
            }
            match entry {
                Some(e) => snap.clusters.insert(name.clone(), e),
                None => snap.clusters.remove(name),
            };
        }
        for secret in &ch.secrets {
            refresh.extend(
                snap.clusters
                    .values()
                    .filter(|c| c.secret.0 == CREDENTIALS_NAMESPACE && &c.secret.1 == secret)
                    .map(|c| c.facts.name.clone()),
            );
        }
        if ch.all || ch.policies {
            snap.propagation = self.list_policies("propagationpolicies", "clusterpropagationpolicies");
            snap.overrides = self.list_policies("overridepolicies", "clusteroverridepolicies");
            Snapshot::sort_overrides(&mut snap.overrides);
        }
        if ch.all || ch.hpas {
            snap.hpa_targets = Snapshot::hpa_targets_of(&self.store.list(HPAS, None));
        }
        let changed = snap != *old;
        if changed {
            *self.snapshot.write() = Arc::new(snap);
        }
        let mut reconnected = false;
        for name in refresh {
            reconnected |= self.refresh_member(&name).await;
        }
        if ch.all || ch.resources || changed || reconnected {
            for o in self.all_objects() {
                queue.push(o);
            }
        }
    }

    fn list_policies(&self, namespaced: &str, cluster_wide: &str) -> Vec<Value> {
        let mut ps = self.store.list(Gvr::new(POLICY_GROUP, "v1alpha1", cluster_wide), None);
        ps.extend(self.store.list(Gvr::new(POLICY_GROUP, "v1alpha1", namespaced), None));
        ps
    }

    fn all_objects(&self) -> Vec<ObjRef> {
        let resources = self.resources.read().clone();
        let mut out = Vec::new();
        for r in resources.iter().filter(|r| propagatable(r)) {
            for o in self.store.list(gvr(r), None) {
                let ns = str_at(&o, "/metadata/namespace");
                if RESERVED_NAMESPACES.contains(&ns) {
                    continue;
                }
                out.push(ObjRef {
                    group: r.group.clone(),
                    plural: r.plural.clone(),
                    namespace: ns.to_string(),
                    name: str_at(&o, "/metadata/name").to_string(),
                });
            }
        }
        out
    }

    /// (Re)builds the client of one member from its credentials Secret; drops it when the
    /// cluster left. Returns whether a new client was made.
    async fn refresh_member(&self, name: &str) -> bool {
        let entry = self.snapshot().clusters.get(name).cloned();
        let secret = entry.and_then(|e| self.store.get(SECRETS, Some(&e.secret.0), &e.secret.1));
        let Some(secret) = secret else {
            self.members.lock().remove(name);
            return false;
        };
        let rv = str_at(&secret, "/metadata/resourceVersion").to_string();
        if self.members.lock().get(name).is_some_and(|m| m.secret_rv == rv) {
            return false;
        }
        match members::client_from_secret(&secret, self.opts.member_timeout).await {
            Ok(client) => {
                self.members.lock().insert(name.to_string(), Member::new(client, rv));
                true
            }
            Err(e) => {
                tracing::warn!(cluster = %name, error = %e, "no client for member");
                self.members.lock().remove(name);
                false
            }
        }
    }

    /// Records a member copy's change; returns the object to reconcile.
    fn on_member_event(&self, m: MemberEvent) -> Option<ObjRef> {
        {
            let mut objects = self.objects.lock();
            match m.copy {
                // A copy deleted by someone else (or no longer labelled ours) is forgotten;
                // the reconcile recreates it where the object is still placed.
                None => {
                    if let Some(st) = objects.get_mut(&m.source) {
                        st.clusters.remove(&m.cluster);
                    }
                }
                Some(copy) => objects
                    .entry(m.source.clone())
                    .or_default()
                    .clusters
                    .entry(m.cluster)
                    .or_default()
                    .offer(copy),
            }
        }
        parse_source(&m.source)
    }

    /// Reconciles one object; true when it should be retried (a member failed).
    async fn reconcile(&self, o: &ObjRef) -> bool {
        let Some(r) = self.resource(&o.group, &o.plural) else {
            return false;
        };
        let snap = self.snapshot();
        let ns = (!o.namespace.is_empty()).then_some(o.namespace.as_str());
        let key = object_key(&r, &o.namespace, &o.name);
        let Some(obj) = self.store.get(gvr(&r), ns, &o.name) else {
            self.orphaning.lock().remove(&key);
            return self.remove_everywhere(&r, o, &key).await;
        };
        let deleting = obj.pointer("/metadata/deletionTimestamp").is_some();
        let labels = obj.pointer("/metadata/labels").and_then(|l| l.as_object()).cloned();
        let api_version = r.api_version();
        let okey = object_key_of(&r, &api_version, &o.namespace, &o.name, labels.as_ref());
        let policy = snap.policy_for(&okey).cloned();
        let facts = || snap.clusters.values().map(|e| &e.facts);
        let selected: Vec<String> = match (&policy, deleting) {
            (Some(p), false) => select_clusters(p, facts()),
            _ => Vec::new(),
        };
        let had = self.known_clusters(&r, &obj, &key);
        let follows_deps = policy
            .as_ref()
            .is_some_and(|p| p.pointer("/spec/propagateDeps").and_then(|d| d.as_bool()) == Some(true));
        let deps_to: &[String] = if follows_deps { &selected } else { &[] };
        let mut retry = self.sync_deps(&key, &obj, &o.namespace, deps_to, &snap).await;
        let leaving: Vec<&String> = had
            .iter()
            .filter(|c| !selected.contains(c) && !self.dep_held(c, &key))
            .collect();
        let orphan = deleting && (orphan_requested(&obj) || self.orphaning.lock().contains(&key));
        for c in leaving {
            retry |= !self.remove_copy(c, &r, &o.namespace, &o.name, &key, orphan).await;
        }
        let has_finalizer = obj
            .pointer("/metadata/finalizers")
            .and_then(|f| f.as_array())
            .is_some_and(|a| a.iter().any(|f| f == CLEANUP_FINALIZER));
        let Some(policy) = policy.filter(|_| !deleting) else {
            if self.copies_left(&key) == 0 {
                if has_finalizer {
                    self.release_finalizer(&r, ns, &o.name).await;
                }
                self.delete_placement(&r, &obj).await;
                if !deleting {
                    self.report_unselected(&r, ns, &o.name, &obj).await;
                }
            }
            return retry;
        };
        if !has_finalizer {
            self.add_finalizer(&r, ns, &o.name).await;
        }
        let overrides = snap.overrides_for(&okey);
        let mode = Mode::of(&policy);
        let (rr, objr, keyr, ovr, snapr) = (&r, &obj, &key, &overrides, &snap);
        let states: Vec<Value> = futures::stream::iter(selected.clone())
            .map(|c| async move {
                let labels = snapr.clusters.get(&c).map(|e| &e.facts.labels);
                self.propagate_to(&c, rr, objr, keyr, ovr, labels, mode, snapr).await
            })
            .buffered(FANOUT)
            .collect()
            .await;
        retry |= states.iter().any(|s| s["state"] == "Failed" || s["state"] == "Pending");
        self.report_failures(&r, &obj, &key, &states).await;
        self.write_placement(&r, &obj, &policy, &selected, &states).await;
        self.write_status(&r, ns, &o.name, &obj, &key, &selected).await;
        retry
    }

    /// Clusters that hold (or may hold) a copy: known in memory, or recorded in the
    /// Placement by an earlier run of the federation.
    fn known_clusters(&self, r: &ResourceDesc, obj: &Value, key: &str) -> Vec<String> {
        let seeded = self.objects.lock().get(key).is_some_and(|s| s.seeded);
        let recorded: Vec<String> = if seeded {
            Vec::new()
        } else {
            let (pns, pname) = placement_key(r, obj);
            self.store
                .get(PLACEMENTS, Some(&pns), &pname)
                .and_then(|p| p.pointer("/status/clusters").and_then(|c| c.as_array()).cloned())
                .unwrap_or_default()
                .iter()
                // Only clusters where a copy was made: a Conflict names someone else's object.
                .filter(|c| matches!(str_at(c, "/state"), "Applied" | "Ready" | "Drifted"))
                .map(|c| str_at(c, "/name").to_string())
                .filter(|c| !c.is_empty())
                .collect()
        };
        let mut objects = self.objects.lock();
        let st = objects.entry(key.to_string()).or_default();
        st.seeded = true;
        for c in recorded {
            st.clusters.entry(c).or_default();
        }
        st.clusters.keys().cloned().collect()
    }

    fn copies_left(&self, key: &str) -> usize {
        self.objects.lock().get(key).map_or(0, |s| s.clusters.len())
    }

    fn dep_held(&self, cluster: &str, key: &str) -> bool {
        self.dep_owners
            .lock()
            .get(&(cluster.to_string(), key.to_string()))
            .is_some_and(|o| !o.is_empty())
    }

    /// The federated object is gone: remove whatever copies of it members still have
    /// (e.g. seen by an informer after a restart).
    async fn remove_everywhere(&self, r: &ResourceDesc, o: &ObjRef, key: &str) -> bool {
        let clusters: Vec<String> = self
            .objects
            .lock()
            .get(key)
            .map(|s| s.clusters.keys().cloned().collect())
            .unwrap_or_default();
        let mut retry = false;
        for c in clusters.iter().filter(|c| !self.dep_held(c, key)) {
            retry |= !self.remove_copy(c, r, &o.namespace, &o.name, key, false).await;
        }
        if !retry {
            let mut objects = self.objects.lock();
            if objects.get(key).is_some_and(|s| s.clusters.is_empty()) {
                objects.remove(key);
            }
        }
        retry
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
        cluster_labels: Option<&serde_json::Map<String, Value>>,
        mode: Mode,
        snap: &Snapshot,
    ) -> Value {
        let mut rendered = strip(obj, &self.opts.federation);
        rendered["metadata"]["annotations"][SOURCE_ANNOTATION] = json!(key);
        let (ns, name) = (str_at(obj, "/metadata/namespace"), str_at(obj, "/metadata/name"));
        if snap.scaled_by_hpa(ns, &r.kind, name) {
            // Replicas belong to the members' autoscalers: never send them, so what the
            // member HPA sets is kept (server-side apply leaves unsent fields alone).
            if let Some(spec) = rendered.get_mut("spec").and_then(|s| s.as_object_mut()) {
                spec.remove("replicas");
            }
        }
        let refs: Vec<&Value> = overrides.iter().collect();
        let empty = serde_json::Map::new();
        if let Err(e) = apply_overrides(&mut rendered, &refs, cluster, cluster_labels.unwrap_or(&empty)) {
            return state(cluster, "Failed", "OverrideFailed", &e);
        }
        let hash = content_hash(&rendered);
        let (unchanged, in_sync, known) = {
            let mut objects = self.objects.lock();
            let cc = objects.get_mut(key).and_then(|s| s.clusters.get_mut(cluster));
            match cc {
                Some(cc) => {
                    cc.digest(hash, &rendered);
                    (
                        cc.applied.as_ref().is_some_and(|a| a.hash == hash),
                        cc.digest.as_ref().is_none_or(|d| d.checked == (hash, true)),
                        cc.applied.is_some() || cc.exists(),
                    )
                }
                None => (false, true, false),
            }
        };
        let member = self
            .members
            .lock()
            .get(cluster)
            .map(|m| (m.client.clone(), m.permits.clone(), m.namespaces.contains(ns)));
        let Some((client, permits, ns_known)) = member else {
            return state(
                cluster,
                "Pending",
                "ClusterUnavailable",
                "no client for this member yet",
            );
        };
        self.ensure_watch(cluster, r);
        // A member copy that no longer holds what we applied has drifted: apply again
        // (server-side apply restores only the fields we own), unless the policy only reports.
        if unchanged && (in_sync || mode.report_only) {
            return self.copy_state(cluster, key);
        }
        let (Ok(_member_permit), Ok(_permit)) = (permits.acquire().await, self.requests.acquire().await) else {
            return state(cluster, "Pending", "ClusterUnavailable", "shutting down");
        };
        let timeout = self.opts.member_timeout;
        // Before the first apply: is there someone else's object of that name (conflict)?
        // Does the namespace exist? Both are asked at once.
        let check = async {
            if known || mode.overwrite {
                return Ok(None);
            }
            members::get(&client, r, ns, name, timeout).await
        };
        let namespace = async {
            if r.namespaced && !ns.is_empty() && !ns_known {
                let ns_obj = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}});
                let created = members::ssa(&client, &namespace_resource(), "", ns, &ns_obj, timeout).await;
                if created.is_ok()
                    && let Some(m) = self.members.lock().get_mut(cluster)
                {
                    m.namespaces.insert(ns.to_string());
                }
            }
        };
        let (existing, ()) = tokio::join!(check, namespace);
        match existing {
            Ok(Some(existing)) if !self.made_by_us(&existing) => {
                let msg = format!(
                    "a {} {name} not created by this federation already exists in cluster {cluster}; set conflictResolution: Overwrite in the policy to take it over",
                    r.kind
                );
                return state(cluster, "Failed", "Conflict", &msg);
            }
            Ok(_) => {}
            Err(e) => return state(cluster, "Failed", "ApplyFailed", &e.to_string()),
        }
        match members::ssa(&client, r, ns, name, &rendered, timeout).await {
            Ok(copy) => {
                let generation = obj
                    .pointer("/metadata/generation")
                    .and_then(|g| g.as_i64())
                    .unwrap_or(0);
                {
                    let mut objects = self.objects.lock();
                    let cc = objects
                        .entry(key.to_string())
                        .or_default()
                        .clusters
                        .entry(cluster.to_string())
                        .or_default();
                    cc.settle(&copy, hash, &rendered);
                    cc.applied = Some(Applied { hash, generation });
                }
                self.copy_state(cluster, key)
            }
            Err(e) => {
                if e.is_not_found()
                    && let Some(m) = self.members.lock().get_mut(cluster)
                {
                    // Perhaps someone deleted the namespace in the member: create it again.
                    m.namespaces.remove(ns);
                }
                state(cluster, "Failed", "ApplyFailed", &e.to_string())
            }
        }
    }

    /// Whether a member object carries this federation's origin label.
    fn made_by_us(&self, obj: &Value) -> bool {
        obj.pointer("/metadata/labels")
            .and_then(|l| l.get(ORIGIN_LABEL))
            .and_then(|v| v.as_str())
            == Some(self.opts.federation.as_str())
    }

    fn copy_state(&self, cluster: &str, key: &str) -> Value {
        let objects = self.objects.lock();
        let cc = objects.get(key).and_then(|s| s.clusters.get(cluster));
        let generation = cc.and_then(|c| c.applied.as_ref()).map_or(0, |a| a.generation);
        let digest = cc.and_then(|c| c.digest.as_ref());
        let drifted = digest.is_some_and(|d| !d.checked.1);
        let state = if drifted {
            "Drifted"
        } else if digest.is_some_and(|d| d.ready) {
            "Ready"
        } else {
            "Applied"
        };
        json!({"name": cluster, "state": state, "appliedGeneration": generation})
    }

    /// Starts an informer on a member for a resource, once per member connection.
    fn ensure_watch(&self, cluster: &str, r: &ResourceDesc) {
        let mut members = self.members.lock();
        let Some(member) = members.get_mut(cluster) else { return };
        if !member.watched.insert(format!("{}/{}", r.group, r.plural)) {
            return;
        }
        members::spawn_informer(
            member.client.clone(),
            r,
            cluster.to_string(),
            format!("{ORIGIN_LABEL}={}", self.opts.federation),
            self.inbox.clone(),
            member.stop.subscribe(),
        );
    }

    /// Removes one member copy (or, when `orphan`, leaves it there unmanaged); false when the
    /// member could not be reached (retry later).
    #[allow(clippy::too_many_arguments)]
    async fn remove_copy(
        &self,
        cluster: &str,
        r: &ResourceDesc,
        ns: &str,
        name: &str,
        key: &str,
        orphan: bool,
    ) -> bool {
        let client = self.members.lock().get(cluster).map(|m| m.client.clone());
        let joined = self.snapshot().clusters.contains_key(cluster);
        match client {
            Some(client) => {
                let timeout = self.opts.member_timeout;
                let done = if orphan {
                    members::release(&client, r, ns, name, timeout).await
                } else {
                    members::delete(&client, r, ns, name, timeout).await
                };
                if let Err(e) = done {
                    tracing::warn!(%cluster, error = %e, "could not remove member copy");
                    return false;
                }
            }
            // Joined but not connected yet: wait for the connection.
            None if joined => return false,
            // The cluster left the federation: its copies stay (unjoin removes them on request).
            None => {}
        }
        let mut objects = self.objects.lock();
        if let Some(s) = objects.get_mut(key) {
            s.clusters.remove(cluster);
        }
        true
    }

    /// Read-modify-write of a federation object that writes only when `change` changed it.
    async fn update(&self, r: Gvr<'_>, ns: Option<&str>, name: &str, mut change: impl FnMut(&mut Value) + Send) {
        let f: Modify<'_> = Box::new(move |old| {
            let mut new = old.clone();
            change(&mut new);
            (new != *old).then_some(new)
        });
        if let Err(e) = self.store.modify(r, ns, name, f).await {
            tracing::debug!(%name, error = %e.message, "federation write failed");
        }
    }

    async fn add_finalizer(&self, r: &ResourceDesc, ns: Option<&str>, name: &str) {
        self.update(gvr(r), ns, name, |new| {
            let list = new["metadata"]
                .as_object_mut()
                .map(|m| m.entry("finalizers").or_insert_with(|| json!([])));
            if let Some(a) = list.and_then(|l| l.as_array_mut())
                && !a.iter().any(|f| f == CLEANUP_FINALIZER)
            {
                a.push(json!(CLEANUP_FINALIZER));
            }
        })
        .await;
    }

    async fn release_finalizer(&self, r: &ResourceDesc, ns: Option<&str>, name: &str) {
        self.update(gvr(r), ns, name, |new| {
            if let Some(a) = new.pointer_mut("/metadata/finalizers").and_then(|f| f.as_array_mut()) {
                a.retain(|f| f != CLEANUP_FINALIZER);
            }
        })
        .await;
    }

    /// ConfigMaps, Secrets, ServiceAccounts and PVCs a workload's pod template references
    /// follow it to the same clusters; a dependency copy goes away when no workload there
    /// needs it any more (and no policy selects it there itself). True when a member failed.
    async fn sync_deps(&self, owner: &str, obj: &Value, ns: &str, selected: &[String], snap: &Snapshot) -> bool {
        let mut wanted: HashSet<(String, String)> = HashSet::new();
        let mut retry = false;
        for (plural, name) in dependencies(obj) {
            let Some(r) = self.resource("", plural) else { continue };
            let Some(dep) = self.store.get(gvr(&r), Some(ns), &name) else {
                continue;
            };
            let key = object_key(&r, ns, &name);
            for c in selected {
                wanted.insert((c.clone(), key.clone()));
                self.dep_owners
                    .lock()
                    .entry((c.clone(), key.clone()))
                    .or_default()
                    .insert(owner.to_string());
            }
            let mode = Mode {
                report_only: false,
                overwrite: false,
            };
            let (rr, depr, keyr) = (&r, &dep, &key);
            let states: Vec<Value> = futures::stream::iter(selected.to_vec())
                .map(|c| async move {
                    let labels = snap.clusters.get(&c).map(|e| &e.facts.labels);
                    self.propagate_to(&c, rr, depr, keyr, &[], labels, mode, snap).await
                })
                .buffered(FANOUT)
                .collect()
                .await;
            retry |= states.iter().any(|s| s["state"] == "Failed" || s["state"] == "Pending");
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
            let Some(dep) = parse_source(&key) else { continue };
            let Some(r) = self.resource(&dep.group, &dep.plural) else {
                continue;
            };
            // Its own reconcile removes it unless a policy keeps it in that cluster.
            let ns = (!dep.namespace.is_empty()).then_some(dep.namespace.as_str());
            let selected_itself = self.store.get(gvr(&r), ns, &dep.name).is_some_and(|d| {
                let labels = d.pointer("/metadata/labels").and_then(|l| l.as_object()).cloned();
                let api_version = r.api_version();
                let k = object_key_of(&r, &api_version, &dep.namespace, &dep.name, labels.as_ref());
                snap.policy_for(&k)
                    .is_some_and(|p| select_clusters(p, snap.clusters.values().map(|e| &e.facts)).contains(&cluster))
            });
            if !selected_itself {
                retry |= !self
                    .remove_copy(&cluster, &r, &dep.namespace, &dep.name, &key, false)
                    .await;
            }
        }
        retry
    }

    /// Records a Warning Event on the federated object when a cluster starts failing (a
    /// failure that repeats is not reported again).
    async fn report_failures(&self, r: &ResourceDesc, obj: &Value, key: &str, states: &[Value]) {
        let fresh: Vec<&Value> = {
            let mut objects = self.objects.lock();
            let st = objects.entry(key.to_string()).or_default();
            let fresh = states
                .iter()
                .filter(|s| s["state"] == "Failed")
                .filter(|s| st.failures.get(str_at(s, "/name")).map(String::as_str) != Some(str_at(s, "/reason")))
                .collect();
            st.failures = states
                .iter()
                .filter(|s| s["state"] == "Failed")
                .map(|s| (str_at(s, "/name").to_string(), str_at(s, "/reason").to_string()))
                .collect();
            fresh
        };
        for s in fresh {
            let message = format!("cluster {}: {}", str_at(s, "/name"), str_at(s, "/message"));
            self.event(r, obj, "Warning", str_at(s, "/reason"), &message).await;
        }
    }

    async fn event(&self, r: &ResourceDesc, obj: &Value, type_: &str, reason: &str, message: &str) {
        let ns = match str_at(obj, "/metadata/namespace") {
            "" => "default",
            ns => ns,
        };
        let now = jiff::Timestamp::now();
        let name = format!("{}.{:x}", str_at(obj, "/metadata/name"), now.as_nanosecond());
        let ts = now.strftime("%Y-%m-%dT%H:%M:%SZ").to_string();
        let ev = json!({
            "apiVersion": "v1", "kind": "Event",
            "metadata": {"name": name, "namespace": ns},
            "involvedObject": {"apiVersion": r.api_version(), "kind": r.kind, "namespace": str_at(obj, "/metadata/namespace"),
                               "name": str_at(obj, "/metadata/name"), "uid": str_at(obj, "/metadata/uid")},
            "reason": reason, "message": message, "type": type_,
            "source": {"component": "ubernetes-propagation-controller"},
            "reportingComponent": "ubernetes-propagation-controller",
            "firstTimestamp": ts, "lastTimestamp": ts, "count": 1,
        });
        if let Err(e) = self.store.create(Gvr::new("", "v1", "events"), ev, FIELD_MANAGER).await {
            tracing::debug!(error = %e.message, "could not record an Event");
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
        let (ns, name) = placement_key(r, obj);
        let ready = states.iter().filter(|s| s["state"] == "Ready").count();
        let summary = format!("{ready}/{} ready: {}", selected.len(), selected.join(","));
        let spec = json!({
            "resource": {"apiVersion": obj["apiVersion"], "kind": obj["kind"], "namespace": str_at(obj, "/metadata/namespace"),
                         "name": str_at(obj, "/metadata/name"), "uid": str_at(obj, "/metadata/uid")},
            "policy": {"kind": policy["kind"], "namespace": str_at(policy, "/metadata/namespace"), "name": str_at(policy, "/metadata/name")},
            "clusters": selected.iter().map(|c| json!({"name": c})).collect::<Vec<_>>(),
        });
        let status = json!({"summary": summary, "renderedGeneration": obj.pointer("/metadata/generation").cloned().unwrap_or(json!(0)), "clusters": states});
        match self.store.get(PLACEMENTS, Some(&ns), &name) {
            None => {
                let placement = json!({"apiVersion": "policy.ubernetes.io/v1alpha1", "kind": "Placement",
                    "metadata": {"name": name, "namespace": ns}, "spec": spec, "status": status});
                self.ensure_namespace(&ns).await;
                let _ = self.store.create(PLACEMENTS, placement, FIELD_MANAGER).await;
            }
            Some(old) if old.get("spec") == Some(&spec) && old.get("status") == Some(&status) => {}
            Some(_) => {
                self.update(PLACEMENTS, Some(&ns), &name, |new| {
                    new["spec"] = spec.clone();
                    new["status"] = status.clone();
                })
                .await;
            }
        }
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

    async fn delete_placement(&self, r: &ResourceDesc, obj: &Value) {
        let (ns, name) = placement_key(r, obj);
        if self.store.get(PLACEMENTS, Some(&ns), &name).is_some() {
            let _ = self.store.delete(PLACEMENTS, Some(&ns), &name).await;
        }
    }

    /// An object no policy selects stays in the federation only; kinds with a status say so
    /// in a `Propagated=False` condition.
    async fn report_unselected(&self, r: &ResourceDesc, ns: Option<&str>, name: &str, obj: &Value) {
        let now = jiff::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%SZ").to_string();
        if aggregate(&r.kind, obj, &[], false, &now).is_none() {
            return;
        }
        let status = with_unselected_condition(obj, &now);
        if obj.get("status") == Some(&status) {
            return;
        }
        self.write_status_value(r, ns, name, status).await;
    }

    async fn write_status_value(&self, r: &ResourceDesc, ns: Option<&str>, name: &str, status: Value) {
        self.update(gvr(r), ns, name, |new| new["status"] = status.clone())
            .await;
    }

    async fn write_status(
        &self,
        r: &ResourceDesc,
        ns: Option<&str>,
        name: &str,
        obj: &Value,
        key: &str,
        selected: &[String],
    ) {
        let generation = obj
            .pointer("/metadata/generation")
            .and_then(|g| g.as_i64())
            .unwrap_or(0);
        let (copies, current) = {
            let objects = self.objects.lock();
            let st = objects.get(key);
            let cc = |c: &String| st.and_then(|s| s.clusters.get(c));
            let copies: Vec<Option<Value>> = selected
                .iter()
                .map(|c| cc(c).and_then(|c| c.digest.as_ref()).map(CopyDigest::summary))
                .collect();
            let current = selected.iter().all(|c| {
                cc(c)
                    .and_then(|c| c.applied.as_ref())
                    .is_some_and(|a| a.generation == generation)
            });
            (copies, current)
        };
        let now = jiff::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%SZ").to_string();
        let Some(mut status) = aggregate(&r.kind, obj, &copies, current, &now) else {
            return;
        };
        keep_condition_times(obj, &mut status);
        if obj.get("status") == Some(&status) {
            return;
        }
        self.write_status_value(r, ns, name, status).await;
    }
}

/// Keeps condition times stable while nothing changes, so status writes settle.
fn keep_condition_times(obj: &Value, status: &mut Value) {
    let (Some(old), Some(new)) = (
        obj.pointer("/status/conditions").and_then(|c| c.as_array()),
        status.get_mut("conditions").and_then(|c| c.as_array_mut()),
    ) else {
        return;
    };
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

/// The object's status with the `Propagated=False` condition set and everything else kept
/// (while no policy selects it, another controller may own the rest of its status).
fn with_unselected_condition(obj: &Value, now: &str) -> Value {
    let condition = unselected_condition(obj, now);
    let mut status = match obj.get("status") {
        Some(Value::Object(m)) => Value::Object(m.clone()),
        _ => json!({}),
    };
    let conditions = status
        .as_object_mut()
        .map(|m| m.entry("conditions").or_insert_with(|| json!([])));
    match conditions.and_then(|c| c.as_array_mut()) {
        Some(list) => {
            list.retain(|c| c["type"] != "Propagated");
            list.push(condition);
        }
        None => status["conditions"] = json!([condition]),
    }
    status
}

/// The condition of an object that no policy selects.
fn unselected_condition(obj: &Value, now: &str) -> Value {
    let since = obj
        .pointer("/status/conditions")
        .and_then(|c| c.as_array())
        .and_then(|cs| {
            cs.iter()
                .find(|c| c["type"] == "Propagated" && c["status"] == "False" && c["reason"] == "NoPolicy")
        })
        .and_then(|c| c.get("lastTransitionTime"))
        .and_then(|t| t.as_str())
        .unwrap_or(now)
        .to_string();
    json!({
        "type": "Propagated", "status": "False", "reason": "NoPolicy",
        "message": "no PropagationPolicy or ClusterPropagationPolicy selects this object; it exists in the federation only",
        "lastTransitionTime": since, "lastUpdateTime": since,
    })
}

fn parse_source(source: &str) -> Option<ObjRef> {
    let mut parts = source.splitn(4, '/');
    let (g, p, ns, n) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    Some(ObjRef {
        group: g.to_string(),
        plural: p.to_string(),
        namespace: ns.to_string(),
        name: n.to_string(),
    })
}

/// Namespace and name of an object's Placement (cluster-scoped objects' go to
/// `ubernetes-system`).
fn placement_key(r: &ResourceDesc, obj: &Value) -> (String, String) {
    let ns = match str_at(obj, "/metadata/namespace") {
        "" => CREDENTIALS_NAMESPACE.to_string(),
        n => n.to_string(),
    };
    (
        ns,
        format!("{}-{}", r.kind.to_ascii_lowercase(), str_at(obj, "/metadata/name")),
    )
}

/// A copy's resourceVersion as a number (every Kubernetes store issues numbers; an opaque
/// one is simply not compared).
fn resource_version(v: &Value) -> Option<u64> {
    str_at(v, "/metadata/resourceVersion").parse().ok()
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

    #[test]
    fn older_copies_do_not_replace_newer_ones() {
        let v = |rv: &str| RawCopy::from_value(&json!({"metadata": {"resourceVersion": rv}}));
        let mut cc = ClusterCopy::default();
        cc.offer(v("10"));
        cc.offer(v("9"));
        assert_eq!(cc.rv(), Some(10));
        cc.digest(1, &json!({}));
        cc.offer(v("8"));
        assert!(cc.raw.is_none(), "older than the digested copy");
        cc.offer(v("11"));
        assert_eq!(cc.rv(), Some(11));
        cc.offer(v("opaque"));
        assert!(
            cc.raw
                .as_ref()
                .is_some_and(|r| r.value()["metadata"]["resourceVersion"] == "opaque")
        );
        // An apply response older than what the informer delivered does not replace it.
        cc.offer(v("20"));
        cc.settle(&json!({"metadata": {"resourceVersion": "19"}}), 1, &json!({}));
        assert_eq!(cc.rv(), Some(20));
        cc.settle(&json!({"metadata": {"resourceVersion": "21"}}), 1, &json!({}));
        assert_eq!((cc.rv(), cc.raw.is_none()), (Some(21), true));
    }

    #[test]
    fn a_digest_remembers_drift_and_status() {
        let rendered = json!({"spec": {"replicas": 2}});
        let copy = json!({"kind": "Deployment", "metadata": {"generation": 3, "resourceVersion": "7", "managedFields": [{}]},
                          "spec": {"replicas": 5}, "status": {"conditions": [{"type": "Available", "status": "True"}]}});
        let d = CopyDigest::of(&copy, 42, &rendered);
        assert_eq!(d.checked, (42, false));
        assert!(d.ready);
        assert_eq!(d.rv, Some(7));
        let summary = d.summary();
        assert_eq!(summary["metadata"]["generation"], 3);
        assert_eq!(summary["status"]["conditions"][0]["type"], "Available");
        assert!(summary.pointer("/metadata/managedFields").is_none());
    }

    #[test]
    fn sources_round_trip() {
        let o = parse_source("apps/deployments/default/web");
        assert_eq!(
            o,
            Some(ObjRef {
                group: "apps".into(),
                plural: "deployments".into(),
                namespace: "default".into(),
                name: "web".into()
            })
        );
        assert_eq!(
            parse_source("/configmaps//cm").map(|o| o.plural),
            Some("configmaps".into())
        );
        assert_eq!(parse_source("garbage"), None);
    }

    #[test]
    fn the_unselected_condition_leaves_the_rest_of_the_status() {
        let obj = json!({"status": {"availableReplicas": 2, "conditions": [
            {"type": "Available", "status": "True"},
            {"type": "Propagated", "status": "True", "reason": "Old"}]}});
        let s = with_unselected_condition(&obj, "2026-11-21T10:00:00Z");
        assert_eq!(s["availableReplicas"], 2);
        let types: Vec<&Value> = s["conditions"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|c| &c["type"])
            .collect();
        assert_eq!(types, [&json!("Available"), &json!("Propagated")]);
        assert_eq!(s["conditions"][1]["reason"], "NoPolicy");
        let fresh = with_unselected_condition(&json!({}), "2026-11-21T10:00:00Z");
        assert_eq!(fresh["conditions"][0]["reason"], "NoPolicy");
        let settled = json!({"status": fresh});
        assert_eq!(
            with_unselected_condition(&settled, "2026-11-21T11:00:00Z"),
            settled["status"]
        );
    }

    #[test]
    fn the_unselected_condition_keeps_its_transition_time() {
        let fresh = unselected_condition(&json!({}), "2026-11-21T10:00:00Z");
        assert_eq!(fresh["lastTransitionTime"], "2026-11-21T10:00:00Z");
        let obj = json!({"status": {"conditions": [fresh]}});
        let later = unselected_condition(&obj, "2026-11-21T11:00:00Z");
        assert_eq!(later["lastTransitionTime"], "2026-11-21T10:00:00Z");
        assert_eq!(later["reason"], "NoPolicy");
    }
}
