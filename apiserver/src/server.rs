//! The API server's shared state: registry, store, watch cache, settings.

use crate::cache::WatchCache;
use crate::registry::Registry;
use crate::storage::Store;
use parking_lot::RwLock;
use std::sync::Arc;

/// Settings of one API server.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Largest accepted request body (kube-apiserver: 3 MiB).
    pub max_body_bytes: usize,
    /// Bearer token of the admin user.
    pub admin_token: String,
    /// `host:port` advertised in `/api`'s serverAddressByClientCIDRs.
    pub advertise_address: String,
    /// Longest watch when the client gives no `timeoutSeconds`.
    pub max_watch_seconds: u64,
    /// Interval between BOOKMARK events on watches that allow them.
    pub bookmark_interval: std::time::Duration,
    /// Most non-watch requests served at once; more get 429.
    pub max_inflight: usize,
    /// Federation or member API.
    pub mode: crate::registry::ServerMode,
    /// Events buffered per watcher before a slow watcher is dropped (memory per server).
    pub watch_buffer: usize,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            max_body_bytes: 3 * 1024 * 1024,
            admin_token: String::new(),
            advertise_address: "127.0.0.1:6443".into(),
            max_watch_seconds: 1800,
            bookmark_interval: std::time::Duration::from_secs(60),
            max_inflight: 600,
            mode: crate::registry::ServerMode::Federation,
            watch_buffer: 16 * 1024,
        }
    }
}

/// Everything a request handler needs.
pub struct ApiServer {
    /// Served kinds. Swapped whole when CRDs change, so readers never block.
    pub registry: RwLock<Arc<Registry>>,
    /// The durable store.
    pub store: Arc<dyn Store>,
    /// The watch cache fed by the store.
    pub cache: Arc<WatchCache>,
    /// Settings.
    pub settings: Settings,
}

impl ApiServer {
    /// Builds the server state over a store: loads the cache (with the log's tail so
    /// watches resume across restarts) and wires the store's events into it.
    pub async fn new(store: Arc<dyn Store>, settings: Settings) -> Result<Arc<Self>, crate::storage::StoreError> {
        const WINDOW: usize = 100_000;
        let snapshot = store.snapshot("/registry/").await?;
        let after = snapshot
            .revision
            .saturating_sub(WINDOW as u64)
            .max(store.compacted_revision());
        let tail = store.events_since(after).await?;
        let cache = crate::cache::WatchCache::with_buffer(snapshot, tail, WINDOW, settings.watch_buffer);
        store.set_sink(cache.clone());
        Ok(Arc::new(Self {
            registry: RwLock::new(Arc::new(Registry::builtin())),
            store,
            cache,
            settings,
        }))
    }

    /// The current registry.
    pub fn registry(&self) -> Arc<Registry> {
        self.registry.read().clone()
    }
}
