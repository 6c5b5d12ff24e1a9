//! The workload controller: on every change of a workload (or a node), and every
//! [`RESYNC`](crate::RESYNC) as a safety net, shares the cluster's pod capacity among all
//! workloads and writes each one's status where it differs from what is stored.

use crate::capacity::{self, Claim, Env, Kind, NodeInfo, WorkloadKey};
use crate::nodes::NODES;
use crate::pods::{self, PODS};
use crate::{MemberError, MemberOptions, status, util};
use apiserver::cache::CacheEvent;
use apiserver::local::ObjectStore;
use serde_json::Value;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;
use tokio::sync::broadcast::{self, error::RecvError};

/// Time to let a burst of changes arrive before reconciling once for all of them.
const DEBOUNCE: Duration = Duration::from_millis(20);
/// Workload simulators running in this process (`ubernetes member --virtual N` runs N).
static SIMULATORS: AtomicUsize = AtomicUsize::new(0);

/// Simulates the controllers and kubelets behind workload status.
pub struct Workloads {
    store: Arc<dyn ObjectStore>,
    name: String,
    capacity: u32,
    prefixes: HashSet<String>,
    /// Whether the API serves pods (cleared when a pod write finds it does not).
    pods_served: AtomicBool,
}

/// What one reconcile pass saw: every simulated workload, every pod, the nodes, and the
/// share of the capacity each workload gets.
struct Snapshot {
    env: Env,
    objects: Vec<(WorkloadKey, Value)>,
    pods: Vec<Value>,
    grants: HashMap<WorkloadKey, u32>,
}

impl Workloads {
    /// A controller for a member (running at most `opts.capacity_pods` pods).
    pub fn new(store: Arc<dyn ObjectStore>, opts: &MemberOptions) -> Self {
        let mut prefixes: HashSet<String> = Kind::ALL.iter().map(|k| store.prefix(k.gvr())).collect();
        prefixes.insert(store.prefix(NODES));
        Self {
            store,
            name: opts.name.clone(),
            capacity: opts.capacity_pods,
            prefixes,
            pods_served: AtomicBool::new(true),
        }
    }

    /// Runs until the process ends.
    pub async fn run(self) {
        SIMULATORS.fetch_add(1, Ordering::Relaxed);
        let mut events = self.store.subscribe();
        let mut resync = crate::resync_ticker(&self.name);
        let mut ticks = 0u32;
        loop {
            let started = tokio::time::Instant::now();
            let settled = self.reconcile().await;
            // A pass reads every workload, so under a stream of changes passes back to back
            // would grow with the cluster: wait at least twice as long as the pass took, per
            // simulator in this process, which keeps all of them together to about a third of
            // a core however large and however many the members are.
            let share = u32::try_from(SIMULATORS.load(Ordering::Relaxed).max(1)).unwrap_or(u32::MAX);
            let gap = DEBOUNCE.max(started.elapsed().saturating_mul(2).saturating_mul(share));
            self.until_due(&mut events, &mut resync, &mut ticks, settled, gap).await;
        }
    }

    /// Waits until a pass is due: a relevant change (after a short debounce), or a resync
    /// tick (every tick while the last pass left work, every [`FULL_RESYNC_TICKS`](crate::FULL_RESYNC_TICKS)-th otherwise).
    async fn until_due(
        &self,
        events: &mut broadcast::Receiver<Arc<CacheEvent>>,
        resync: &mut tokio::time::Interval,
        ticks: &mut u32,
        settled: bool,
        gap: Duration,
    ) {
        loop {
            tokio::select! {
                _ = resync.tick() => {
                    *ticks = ticks.wrapping_add(1);
                    if !settled || ticks.is_multiple_of(crate::FULL_RESYNC_TICKS) {
                        return;
                    }
                }
                open = self.next_relevant(events) => {
                    if !open {
                        *events = self.store.subscribe();
                    }
                    tokio::time::sleep(gap).await;
                    self.drain(events);
                    return;
                }
            }
        }
    }

    /// Waits for a change to a workload or a node (true), or for the event stream to close (false).
    async fn next_relevant(&self, events: &mut broadcast::Receiver<Arc<CacheEvent>>) -> bool {
        loop {
            match events.recv().await {
                Ok(ev) if self.prefixes.contains(&*ev.resource) => return true,
                Ok(_) => {}
                Err(RecvError::Lagged(_)) => return true,
                Err(RecvError::Closed) => {
                    tokio::time::sleep(crate::RESYNC).await;
                    return false;
                }
            }
        }
    }

    /// Drops queued events: the next reconcile reads everything afresh.
    fn drain(&self, events: &mut broadcast::Receiver<Arc<CacheEvent>>) {
        while !matches!(
            events.try_recv(),
            Err(broadcast::error::TryRecvError::Empty | broadcast::error::TryRecvError::Closed)
        ) {}
    }

    /// Reads every workload and node and shares the capacity among the workloads.
    fn snapshot(&self) -> Snapshot {
        let nodes = self.store.list(NODES, None);
        let mut nodes: Vec<NodeInfo> = nodes.iter().map(NodeInfo::of).collect();
        nodes.sort_by(|a, b| a.name.cmp(&b.name));
        let env = Env { nodes };
        let mut objects = Vec::new();
        let mut claims = Vec::new();
        let pods = self.store.list(PODS, None);
        for kind in Kind::ALL {
            let listed = if kind == Kind::Pod {
                pods.clone()
            } else {
                self.store.list(kind.gvr(), None)
            };
            for obj in listed {
                if let Some(claim) = Claim::of(kind, &obj, &env) {
                    objects.push((claim.key.clone(), obj));
                    claims.push(claim);
                }
            }
        }
        let grants = capacity::allocate(&claims, self.capacity);
        Snapshot {
            env,
            objects,
            pods,
            grants,
        }
    }

    /// One pass: computes every workload's status, writes those that changed, then brings
    /// the pods in line. Returns whether everything is done (nothing failed or was deferred).
    pub async fn reconcile(&self) -> bool {
        let mut settled = true;
        let snap = self.snapshot();
        let now = util::now();
        let mut planner = pods::Planner::new(&snap.env, &snap.pods);
        for (key, obj) in &snap.objects {
            let granted = snap.grants.get(key).copied().unwrap_or(0);
            let desired = status::compute(key.kind, obj, granted, &snap.env, &now);
            let current = match desired {
                Some(d) if Some(&d) != obj.get("status") => self.write_status(key, granted, &snap.env, &now).await,
                _ => Ok(Some(obj.clone())),
            };
            match current {
                Ok(Some(obj)) => planner.plan(key.kind, &obj, granted),
                Ok(None) => {}
                Err(e) => {
                    settled = false;
                    tracing::warn!(error = %e, "writing workload status");
                }
            }
        }
        settled && self.apply_pods(planner.into_ops(), snap.env.nodes.len()).await
    }

    /// Performs the planned pod writes (unless the API serves no pods); true when all were done.
    async fn apply_pods(&self, ops: Vec<pods::Op>, nodes: usize) -> bool {
        if !self.pods_served.load(Ordering::Relaxed) {
            return true;
        }
        let applied = pods::apply(self.store.as_ref(), ops, nodes).await;
        if applied.unserved {
            tracing::warn!(cluster = %self.name, "this API serves no pods; running without Pod objects");
            self.pods_served.store(false, Ordering::Relaxed);
            return true;
        }
        applied.complete()
    }

    /// Writes the status of one workload, recomputed on the stored object (it may have moved
    /// on); returns the object as stored (None when it is gone).
    async fn write_status(
        &self,
        key: &WorkloadKey,
        granted: u32,
        env: &Env,
        now: &str,
    ) -> Result<Option<Value>, MemberError> {
        let update = move |old: &Value| util::with_status(old, status::compute(key.kind, old, granted, env, now)?);
        let result = self
            .store
            .modify(key.kind.gvr(), Some(&key.namespace), &key.name, Box::new(update))
            .await;
        match result {
            Ok(v) => Ok(Some(v)),
            Err(e) if e.reason == "NotFound" => Ok(None),
            Err(e) => Err(MemberError::api(
                format!("status of {:?} {}/{}", key.kind, key.namespace, key.name),
                e,
            )),
        }
    }
}
