//! Local member clusters: what stands in for kubelet and kube-controller-manager on a
//! member (workload status, nodes, LoadBalancer addresses that really serve traffic).
//!
//! As KWOK does, nothing runs containers: [`nodes`] registers simulated Nodes,
//! [`workloads`] writes the status a controller manager and kubelets would produce
//! (bounded by the cluster's pod capacity, see [`capacity`] and [`status`]) and keeps
//! the workloads' Pods in line ([`pods`], [`pod_status`]), and
//! [`loadbalancer`] gives LoadBalancer Services a loopback address on which a small
//! [`responder`] answers, naming the cluster and the Service.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod capacity;
pub mod error;
pub mod loadbalancer;
pub mod nodes;
pub mod pod_status;
pub mod pods;
pub mod responder;
pub mod status;
mod util;
pub mod workloads;

pub use error::MemberError;

use apiserver::local::ObjectStore;
use std::sync::Arc;
use std::time::Duration;

/// Identity and size of one local member cluster.
#[derive(Clone, Debug)]
pub struct MemberOptions {
    /// Cluster name (reported by the LoadBalancer responder).
    pub name: String,
    /// Region label of its nodes (`topology.kubernetes.io/region`).
    pub region: String,
    /// Zone label of its nodes (`topology.kubernetes.io/zone`).
    pub zone: String,
    /// Pods the cluster can run in total; replicas beyond it stay unavailable.
    pub capacity_pods: u32,
    /// Number of simulated nodes.
    pub nodes: u32,
}

/// Time between full resyncs of the controllers (a safety net behind change events).
pub const RESYNC: Duration = Duration::from_secs(5);

/// A controller whose last pass left nothing to do reconciles only on every
/// `FULL_RESYNC_TICKS`-th [`RESYNC`] tick (once a minute) besides change events: idle
/// members stay cheap, and failed writes are retried at the next tick.
pub(crate) const FULL_RESYNC_TICKS: u32 = 12;

/// Runs the simulator for one member until the process ends.
pub async fn run(store: Arc<dyn ObjectStore>, opts: MemberOptions) {
    tokio::spawn(register_nodes(store.clone(), opts.clone()));
    tokio::spawn(loadbalancer::LoadBalancers::new(store.clone(), &opts.name).run());
    workloads::Workloads::new(store, &opts).run().await
}

/// Longest wait between attempts to register the nodes.
const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// Registers the simulated nodes, retrying (with backoff) until the API accepts them.
async fn register_nodes(store: Arc<dyn ObjectStore>, opts: MemberOptions) {
    let mut delay = Duration::from_millis(200);
    for attempt in 0u32.. {
        match nodes::ensure_nodes(store.as_ref(), &opts).await {
            Ok(()) => return,
            Err(e) if e.is_unserved() => {
                tracing::warn!(cluster = %opts.name, "this API serves no nodes; running without Node objects");
                return;
            }
            Err(e) if attempt == 0 => tracing::warn!(cluster = %opts.name, error = %e, "registering nodes; retrying"),
            Err(e) => tracing::debug!(cluster = %opts.name, error = %e, "registering nodes; retrying"),
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(MAX_BACKOFF);
    }
}

/// A [`RESYNC`] ticker whose phase is derived from `seed`: many members in one process
/// (`ubernetes member --virtual N`) then do not resync all at the same instant.
pub(crate) fn resync_ticker(seed: &str) -> tokio::time::Interval {
    let period = RESYNC.as_millis().max(1) as u64;
    let offset = Duration::from_millis(util::fnv1a(seed.as_bytes()) % period);
    let mut t = tokio::time::interval_at(tokio::time::Instant::now() + offset, RESYNC);
    t.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    t
}
