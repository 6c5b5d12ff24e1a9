//! The cluster controller: one client per member, health probes, version, capacity.
//!
//! Design:
//! - A dispatcher follows the watch cache's change events (Clusters and Secrets) and keeps
//!   one task per Cluster ([`worker::Worker`]). A change of a Cluster's `apiEndpoint` or
//!   `secretRef`, or of the Secret it refers to, makes its task probe at once; status-only
//!   changes (including the controller's own writes) are ignored. When the event stream
//!   lags, the dispatcher relists Clusters.
//! - Each task probes `GET /readyz` every `probe_interval` (requests time out after half
//!   the interval, at most 10 s), on a grid offset by a hash of the Cluster's name, so
//!   probes stay spread over the interval (also after a restart, or after many Clusters
//!   were woken at once); new Clusters are probed within a second. At most
//!   [`MAX_CONCURRENT_PROBES`] probes run at once. Each member's `kube::Client` is kept
//!   (one HTTP/2 connection, or pooled HTTP/1.1 ones, reused across probes) and rebuilt
//!   only when the Secret's resourceVersion or the endpoint changes; the Secret is read
//!   again only when a change event for it arrived.
//! - Every [`worker::REFRESH_EVERY`] probes (and after a new client or a failure) the
//!   task refreshes `kubernetesVersion`, `nodeSummary`, `resourceSummary` (allocatable
//!   sums of cpu/memory/pods of the nodes; allocated sums of the requests of unfinished
//!   pods and their count), and every [`worker::DISCOVERY_EVERY`] refreshes
//!   `apiEnablements` (aggregated discovery: two requests; legacy discovery otherwise).
//!   These are authenticated requests, so rejected credentials are noticed even when
//!   `/readyz` is public.
//! - Region and zone: when the Cluster's spec has none, the most common
//!   `topology.kubernetes.io/region|zone` labels of its nodes are written into the spec
//!   (only into empty fields; values given at join are never changed).
//! - Ready is Unknown (`ClusterPending`) until the first probe result, True
//!   (`ClusterReady`) after a successful probe, and False after `failure_threshold`
//!   consecutive failures, with reason `ClusterNotReachable`, `ClusterNotReady`,
//!   `InvalidCredentials` or `InvalidKubeconfig` and a message without credentials.
//!   Each change to True or False is recorded as an Event (namespace `default`).
//! - Status writes: only when something besides `lastProbeTime` changed (failures past
//!   the threshold count as no change), and otherwise every [`worker::HEARTBEAT_PROBES`]
//!   probes (at a per-Cluster phase, so heartbeats are spread out): 1,000 healthy members
//!   at the default 10 s interval cost about 8 writes per second. `lastProbeTime` is
//!   therefore the time of the last written probe, at most `HEARTBEAT_PROBES` intervals old.

mod events;
mod facts;
pub mod status;
pub mod worker;

use crate::join::CLUSTERS;
use apiserver::cache::{CacheEvent, EventType};
use apiserver::local::{Gvr, ObjectStore};
use serde_json::Value;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::sync::{Semaphore, broadcast, watch};
use worker::Signals;

pub(crate) const SECRETS: Gvr<'static> = Gvr::new("", "v1", "secrets");
/// Probes (with their refreshes) running at the same time, across all members.
pub const MAX_CONCURRENT_PROBES: usize = 64;

/// How the cluster controller probes members.
#[derive(Clone, Debug)]
pub struct ClusterControllerOptions {
    /// Time between probes of one member.
    pub probe_interval: Duration,
    /// Consecutive failed probes before a member turns NotReady.
    pub failure_threshold: u32,
}

impl Default for ClusterControllerOptions {
    fn default() -> Self {
        Self {
            probe_interval: Duration::from_secs(10),
            failure_threshold: 3,
        }
    }
}

/// Runs the controller until the process ends.
pub async fn run(store: Arc<dyn ObjectStore>, opts: ClusterControllerOptions) {
    let mut events = store.subscribe();
    let mut dispatcher = Dispatcher::new(store, opts);
    dispatcher.resync();
    loop {
        match events.recv().await {
            Ok(ev) => dispatcher.handle(&ev),
            Err(broadcast::error::RecvError::Lagged(n)) => {
                tracing::warn!(
                    missed = n,
                    "cluster controller fell behind the change events; relisting"
                );
                dispatcher.resync();
            }
            Err(broadcast::error::RecvError::Closed) => return,
        }
    }
}

/// What a Cluster's client depends on: its endpoint and Secret reference.
fn connection(obj: &Value) -> (Option<Value>, Option<Value>) {
    (
        obj.pointer("/spec/apiEndpoint").cloned(),
        obj.pointer("/spec/secretRef").cloned(),
    )
}

fn secret_key(obj: &Value) -> Option<(String, String)> {
    worker::secret_ref(obj).ok()
}

/// A running worker.
struct Handle {
    connection: (Option<Value>, Option<Value>),
    secret: Option<(String, String)>,
    signals: Arc<Signals>,
    cluster: watch::Sender<Arc<Value>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Handle {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Keeps one worker per Cluster and routes changes to them.
struct Dispatcher {
    store: Arc<dyn ObjectStore>,
    opts: ClusterControllerOptions,
    cluster_prefix: String,
    secret_prefix: String,
    workers: HashMap<String, Handle>,
    by_secret: HashMap<(String, String), HashSet<String>>,
    limiter: Arc<Semaphore>,
}

impl Dispatcher {
    fn new(store: Arc<dyn ObjectStore>, opts: ClusterControllerOptions) -> Self {
        Self {
            cluster_prefix: store.prefix(CLUSTERS),
            secret_prefix: store.prefix(SECRETS),
            store,
            opts,
            workers: HashMap::new(),
            by_secret: HashMap::new(),
            limiter: Arc::new(Semaphore::new(MAX_CONCURRENT_PROBES)),
        }
    }

    /// Starts workers for every Cluster and stops those of Clusters that are gone. Secret
    /// changes may have been missed, so every worker reads its Secret again.
    fn resync(&mut self) {
        let clusters = self.store.list(CLUSTERS, None);
        let names: HashSet<String> = clusters.iter().filter_map(name_of).collect();
        let gone: Vec<String> = self.workers.keys().filter(|n| !names.contains(*n)).cloned().collect();
        for n in gone {
            self.remove(&n);
        }
        for h in self.workers.values() {
            h.signals.secret_changed.store(true, Ordering::Release);
        }
        for obj in clusters {
            self.upsert(obj);
        }
    }

    fn handle(&mut self, ev: &CacheEvent) {
        if *ev.resource == *self.cluster_prefix {
            match ev.kind {
                EventType::Deleted => self.remove(&ev.object.name),
                _ => self.upsert(ev.object.value()),
            }
        } else if *ev.resource == *self.secret_prefix {
            let key = (ev.object.namespace.clone(), ev.object.name.clone());
            for name in self.by_secret.get(&key).into_iter().flatten() {
                if let Some(h) = self.workers.get(name) {
                    h.signals.secret_changed.store(true, Ordering::Release);
                    h.signals.wake.notify_one();
                }
            }
        }
    }

    /// Hands the latest state of a Cluster to its worker, starting one if needed; wakes
    /// the worker when the endpoint or Secret reference changed.
    fn upsert(&mut self, obj: Value) {
        let Some(name) = name_of(&obj) else { return };
        let conn = connection(&obj);
        let secret = secret_key(&obj);
        match self.workers.get_mut(&name) {
            Some(h) if h.task.is_finished() => {
                self.remove(&name);
                self.spawn(name, obj);
            }
            Some(h) => {
                h.cluster.send_replace(Arc::new(obj));
                if h.connection != conn {
                    h.connection = conn;
                    h.signals.wake.notify_one();
                    self.reindex(&name, secret);
                }
            }
            None => self.spawn(name, obj),
        }
    }

    fn spawn(&mut self, name: String, obj: Value) {
        let signals = Arc::new(Signals::default());
        let connection = connection(&obj);
        let secret = secret_key(&obj);
        let (tx, rx) = watch::channel(Arc::new(obj));
        let w = worker::Worker::new(
            name.clone(),
            self.store.clone(),
            self.opts.clone(),
            (signals.clone(), rx),
            self.limiter.clone(),
        );
        let task = tokio::spawn(w.run());
        let handle = Handle {
            connection,
            secret: None,
            signals,
            cluster: tx,
            task,
        };
        self.workers.insert(name.clone(), handle);
        self.reindex(&name, secret);
    }

    fn reindex(&mut self, name: &str, secret: Option<(String, String)>) {
        let Some(h) = self.workers.get_mut(name) else { return };
        if let Some(old) = h.secret.take()
            && let Some(set) = self.by_secret.get_mut(&old)
        {
            set.remove(name);
            if set.is_empty() {
                self.by_secret.remove(&old);
            }
        }
        if let Some(s) = &secret {
            self.by_secret.entry(s.clone()).or_default().insert(name.to_string());
        }
        h.secret = secret;
    }

    fn remove(&mut self, name: &str) {
        self.reindex(name, None);
        self.workers.remove(name);
    }
}

fn name_of(obj: &Value) -> Option<String> {
    obj.pointer("/metadata/name")
        .and_then(Value::as_str)
        .map(str::to_string)
}
