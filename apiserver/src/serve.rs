//! Running a complete API server: data directory, PKI, store, cache, controllers, HTTPS.

use crate::http::auth::AuthLayer;
use crate::server::{ApiServer, Settings};
use crate::storage::Store;
use crate::storage::embedded::EmbeddedStore;
use crate::tls::Pki;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tower::ServiceBuilder;

/// How to run a server.
#[derive(Clone, Debug)]
pub struct ServeConfig {
    /// Where the store, PKI and admin kubeconfig live.
    pub data_dir: PathBuf,
    /// Address to listen on.
    pub bind_address: std::net::IpAddr,
    /// Port (0 picks a free one).
    pub secure_port: u16,
    /// Name used in the kubeconfig.
    pub cluster_name: String,
    /// Federation or member API.
    pub mode: crate::registry::ServerMode,
}

/// Errors starting a server.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// Data directory or socket I/O.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// PKI.
    #[error(transparent)]
    Tls(#[from] crate::tls::TlsError),
    /// Storage.
    #[error(transparent)]
    Store(#[from] crate::storage::StoreError),
}

/// A started server.
pub struct Running {
    /// The state (for in-process controllers).
    pub server: Arc<ApiServer>,
    /// The bound address.
    pub addr: SocketAddr,
    /// Path of the admin kubeconfig.
    pub kubeconfig: PathBuf,
}

/// Starts the server and serves until the process ends.
pub async fn start(cfg: ServeConfig) -> Result<Running, ServeError> {
    std::fs::create_dir_all(&cfg.data_dir)?;
    let hosts = vec![cfg.bind_address.to_string()];
    let pki = Pki::load_or_create(&cfg.data_dir, &hosts)?;
    let store: Arc<dyn Store> = EmbeddedStore::open(&cfg.data_dir.join("store.redb"))?;
    let listener = TcpListener::bind(SocketAddr::new(cfg.bind_address, cfg.secure_port)).await?;
    let addr = listener.local_addr()?;
    let settings = Settings {
        admin_token: pki.admin_token.clone(),
        advertise_address: addr.to_string(),
        mode: cfg.mode,
        ..Settings::default()
    };
    let server = ApiServer::new(store.clone(), settings).await?;
    crate::namespaces::ensure_system_namespaces(&server).await;
    crate::crd::sync_registry(&server);
    tokio::spawn(crate::crd::CrdController::new(server.clone()).run());
    tokio::spawn(crate::namespaces::NamespaceController::new(server.clone()).run());
    tokio::spawn(crate::gc::GarbageCollector::new(server.clone()).run());
    tokio::spawn(compactor(store.clone()));
    let kubeconfig = cfg.data_dir.join("admin.kubeconfig");
    let host = if addr.ip().is_unspecified() {
        "127.0.0.1".to_string()
    } else {
        addr.ip().to_string()
    };
    let url = format!(
        "https://{}",
        SocketAddr::new(host.parse().unwrap_or(addr.ip()), addr.port())
    );
    pki.write_admin_kubeconfig(&kubeconfig, &url, &cfg.cluster_name)?;
    let tls = tokio_rustls::TlsAcceptor::from(pki.server_config()?);
    tokio::spawn(accept_loop(listener, tls, server.clone()));
    Ok(Running {
        server,
        addr,
        kubeconfig,
    })
}

/// Keeps the event log bounded: watches can resume from the last `KEEP` revisions.
async fn compactor(store: Arc<dyn Store>) {
    const KEEP: u64 = 100_000;
    let mut tick = tokio::time::interval(Duration::from_secs(60));
    loop {
        tick.tick().await;
        let target = store.current_revision().saturating_sub(KEEP);
        if target > store.compacted_revision()
            && let Err(e) = store.compact(target).await
        {
            tracing::warn!(error = %e, "compaction failed");
        }
    }
}

async fn accept_loop(listener: TcpListener, tls: tokio_rustls::TlsAcceptor, server: Arc<ApiServer>) {
    let token = server.settings.admin_token.clone();
    // One limit shared by every connection, like kube-apiserver's --max-requests-inflight.
    let limit = crate::http::limit::InflightLimitLayer::new(server.settings.max_inflight);
    loop {
        let (tcp, peer) = match listener.accept().await {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = tcp.set_nodelay(true);
        let tls = tls.clone();
        let server = server.clone();
        let token = token.clone();
        let limit = limit.clone();
        tokio::spawn(async move {
            let stream = match tokio::time::timeout(Duration::from_secs(10), tls.accept(tcp)).await {
                Ok(Ok(s)) => s,
                Ok(Err(e)) => {
                    tracing::debug!(%peer, error = %e, "TLS handshake failed");
                    return;
                }
                Err(_) => return,
            };
            let svc = ServiceBuilder::new()
                .layer(limit)
                .layer(AuthLayer::new(&token))
                .service_fn(move |req| {
                    let server = server.clone();
                    async move { Ok::<_, std::convert::Infallible>(crate::http::handle(server, req).await) }
                });
            let svc = hyper_util::service::TowerToHyperService::new(svc);
            let mut builder = auto::Builder::new(TokioExecutor::new());
            builder.http2().max_concurrent_streams(1000);
            if let Err(e) = builder.serve_connection_with_upgrades(TokioIo::new(stream), svc).await {
                tracing::debug!(%peer, error = %e, "connection ended with error");
            }
        });
    }
}
