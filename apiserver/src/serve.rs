//! Running a complete API server: data directory, PKI, store, cache, controllers, HTTPS.

use crate::http::auth::AuthLayer;
use crate::server::{ApiServer, Settings};
use crate::storage::Store;
use crate::storage::embedded::EmbeddedStore;
use crate::tls::Pki;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use std::collections::HashMap;
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
    tokio::spawn(crate::event_ttl::run(server.clone()));
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
    let token = server.settings.admin_token.clone();
    tokio::spawn(accept_loop(
        listener,
        tls,
        Backends::One(server.clone()),
        token,
        server.settings.max_inflight,
    ));
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

/// Which server answers a request: one, or one per `/clusters/<name>` path prefix.
#[derive(Clone)]
enum Backends {
    One(Arc<ApiServer>),
    Prefixed(Arc<HashMap<String, Arc<ApiServer>>>),
}

impl Backends {
    async fn handle(&self, req: http::Request<hyper::body::Incoming>) -> http::Response<crate::http::response::Body> {
        match self {
            Backends::One(server) => crate::http::handle(server.clone(), req).await,
            Backends::Prefixed(servers) => {
                let Some((server, req)) = route_prefixed(servers, req) else {
                    return crate::http::response::page_not_found();
                };
                crate::http::handle(server, req).await
            }
        }
    }
}

/// Strips `/clusters/<name>` from the path and picks that member's server.
fn route_prefixed(
    servers: &HashMap<String, Arc<ApiServer>>,
    mut req: http::Request<hyper::body::Incoming>,
) -> Option<(Arc<ApiServer>, http::Request<hyper::body::Incoming>)> {
    let path = req.uri().path();
    let rest = path.strip_prefix("/clusters/")?;
    let (name, tail) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let server = servers.get(name)?.clone();
    let pq = match req.uri().query() {
        Some(q) => format!("{tail}?{q}"),
        None => tail.to_string(),
    };
    let uri = http::Uri::builder().path_and_query(pq).build().ok()?;
    *req.uri_mut() = uri;
    Some((server, req))
}

async fn accept_loop(
    listener: TcpListener,
    tls: tokio_rustls::TlsAcceptor,
    backends: Backends,
    token: String,
    max_inflight: usize,
) {
    // One limit shared by every connection, like kube-apiserver's --max-requests-inflight.
    let limit = crate::http::limit::InflightLimitLayer::new(max_inflight);
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
        let backends = backends.clone();
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
                    let backends = backends.clone();
                    async move { Ok::<_, std::convert::Infallible>(backends.handle(req).await) }
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

/// Many member clusters served by one process, each at `https://<addr>/clusters/<name>`
/// with its own in-memory store, revision counter and objects.
pub struct VirtualMembers {
    /// (name, server, kubeconfig path) per member.
    pub members: Vec<(String, Arc<ApiServer>, PathBuf)>,
    /// The shared listening address.
    pub addr: SocketAddr,
}

/// Starts `names.len()` virtual member clusters on one listener.
pub async fn start_virtual(cfg: ServeConfig, names: Vec<String>) -> Result<VirtualMembers, ServeError> {
    std::fs::create_dir_all(cfg.data_dir.join("virtual"))?;
    let pki = Pki::load_or_create(&cfg.data_dir, &[cfg.bind_address.to_string()])?;
    let listener = TcpListener::bind(SocketAddr::new(cfg.bind_address, cfg.secure_port)).await?;
    let addr = listener.local_addr()?;
    let mut map = HashMap::new();
    let mut members = Vec::new();
    for name in names {
        let settings = Settings {
            admin_token: pki.admin_token.clone(),
            advertise_address: addr.to_string(),
            mode: crate::registry::ServerMode::Member,
            watch_buffer: 256,
            ..Settings::default()
        };
        let store: Arc<dyn Store> = crate::storage::memory::MemoryStore::new(10_000);
        let server = ApiServer::new(store, settings).await?;
        crate::namespaces::ensure_system_namespaces(&server).await;
        // Serve the member kinds (pods, nodes): `ApiServer::new` starts with the built-ins only.
        crate::crd::sync_registry(&server);
        tokio::spawn(crate::namespaces::NamespaceController::new(server.clone()).run());
        tokio::spawn(crate::gc::GarbageCollector::new(server.clone()).run());
        let kubeconfig = cfg.data_dir.join("virtual").join(format!("{name}.kubeconfig"));
        let url = format!("https://{addr}/clusters/{name}");
        pki.write_admin_kubeconfig(&kubeconfig, &url, &name)?;
        map.insert(name.clone(), server.clone());
        members.push((name, server, kubeconfig));
    }
    let tls = tokio_rustls::TlsAcceptor::from(pki.server_config()?);
    let max_inflight = Settings::default().max_inflight * 4;
    tokio::spawn(accept_loop(
        listener,
        tls,
        Backends::Prefixed(Arc::new(map)),
        pki.admin_token.clone(),
        max_inflight,
    ));
    Ok(VirtualMembers { members, addr })
}
