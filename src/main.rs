//! `ubernetes`: the federation control plane's one binary. Subcommands wire the crates
//! together; no logic of their own.

mod bench;
mod bench_propagation;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use anyhow::Context;
use apiserver::local::{LocalClient, ObjectStore};
use apiserver::registry::ServerMode;
use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

#[derive(Parser)]
#[command(
    name = "ubernetes",
    version,
    about = "A Kubernetes-compatible federation control plane"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the federation's Kubernetes-compatible API (HTTPS) and run its controllers.
    Serve(ServeArgs),
    /// Run a local member cluster: the same API server (with pods and nodes) plus a workload simulator.
    Member(MemberArgs),
    /// Join a member cluster to the federation (found through --kubeconfig or $KUBECONFIG).
    Join(JoinArgs),
    /// Remove a member cluster from the federation.
    Unjoin(UnjoinArgs),
    /// Start the whole system on embedded defaults: the federation plus local member clusters, joined.
    Up(UpArgs),
    /// Measure the API server's throughput, latency and memory.
    Bench(bench::BenchArgs),
}

#[derive(clap::Args)]
struct ServeArgs {
    /// Directory holding the store, the PKI and admin.kubeconfig.
    #[arg(long, default_value = ".data/ubernetes")]
    data_dir: PathBuf,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    bind_address: std::net::IpAddr,
    /// HTTPS port (0 picks a free port; the kubeconfig records it).
    #[arg(long, default_value_t = 6443)]
    secure_port: u16,
    /// Cluster name written into the kubeconfig.
    #[arg(long, default_value = "ubernetes")]
    name: String,
    /// Seconds between health probes of each member cluster.
    #[arg(long, default_value_t = 10)]
    cluster_probe_interval: u64,
    /// Consecutive failed probes before a member turns NotReady.
    #[arg(long, default_value_t = 3)]
    cluster_failure_threshold: u32,
}

#[derive(clap::Args)]
struct MemberArgs {
    /// Directory holding the store, the PKI and admin.kubeconfig.
    #[arg(long, default_value = ".data/member")]
    data_dir: PathBuf,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    bind_address: std::net::IpAddr,
    /// HTTPS port (0 picks a free port).
    #[arg(long, default_value_t = 0)]
    secure_port: u16,
    /// Cluster name.
    #[arg(long, default_value = "member")]
    name: String,
    /// Region of the simulated nodes.
    #[arg(long, default_value = "region-1")]
    region: String,
    /// Zone of the simulated nodes.
    #[arg(long, default_value = "zone-a")]
    zone: String,
    /// Pods the cluster can run; replicas beyond stay unavailable.
    #[arg(long, default_value_t = 110)]
    capacity_pods: u32,
    /// Simulated nodes.
    #[arg(long, default_value_t = 3)]
    nodes: u32,
    /// Serve this many independent member clusters from one process, each at
    /// `https://ADDR/clusters/<name>-NNNN` with its own in-memory store (for scale work).
    #[arg(long = "virtual", value_name = "N")]
    virtual_members: Option<u32>,
}

#[derive(clap::Args)]
struct JoinArgs {
    /// Name of the Cluster in the federation.
    name: String,
    /// Kubeconfig of the member cluster.
    #[arg(long)]
    cluster_kubeconfig: PathBuf,
    /// Context in that kubeconfig (default: its current context).
    #[arg(long)]
    cluster_context: Option<String>,
    /// Region of the member.
    #[arg(long)]
    region: Option<String>,
    /// Zone of the member.
    #[arg(long)]
    zone: Option<String>,
    /// Provider of the member.
    #[arg(long)]
    provider: Option<String>,
    /// Kubeconfig of the federation (default: $KUBECONFIG, then ~/.kube/config).
    #[arg(long)]
    kubeconfig: Option<PathBuf>,
}

#[derive(clap::Args)]
struct UnjoinArgs {
    /// Name of the Cluster.
    name: String,
    /// Also delete from the member every object the federation put there.
    #[arg(long)]
    remove_propagated: bool,
    /// Kubeconfig of the federation (default: $KUBECONFIG, then ~/.kube/config).
    #[arg(long)]
    kubeconfig: Option<PathBuf>,
}

#[derive(clap::Args)]
struct UpArgs {
    /// Directory holding every server's data (one subdirectory each).
    #[arg(long, default_value = ".data")]
    data_dir: PathBuf,
    /// Port of the federation API server; members use the following ports.
    #[arg(long, default_value_t = 6443)]
    port: u16,
    /// Number of local member clusters.
    #[arg(long, default_value_t = 3)]
    members: u16,
    /// Seconds between health probes of each member cluster.
    #[arg(long, default_value_t = 10)]
    cluster_probe_interval: u64,
    /// Consecutive failed probes before a member turns NotReady.
    #[arg(long, default_value_t = 3)]
    cluster_failure_threshold: u32,
}

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .with_writer(std::io::stderr)
        .init();
    let _ = rustls::crypto::ring::default_provider().install_default();
    let cli = Cli::parse();
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    rt.block_on(async move {
        match cli.command {
            Command::Serve(a) => serve(a).await,
            Command::Member(a) => member(a).await,
            Command::Join(a) => join(a).await,
            Command::Unjoin(a) => unjoin(a).await,
            Command::Up(a) => up(a).await,
            Command::Bench(a) => bench::run(a).await,
        }
    })
}

/// Starts the federation API server and its controllers.
async fn start_federation(
    data_dir: PathBuf,
    bind_address: std::net::IpAddr,
    port: u16,
    name: &str,
    probe: federation_controllers::clusters::ClusterControllerOptions,
) -> anyhow::Result<apiserver::serve::Running> {
    let cfg = apiserver::serve::ServeConfig {
        data_dir,
        bind_address,
        secure_port: port,
        cluster_name: name.to_string(),
        mode: ServerMode::Federation,
    };
    let running = apiserver::serve::start(cfg)
        .await
        .context("starting the federation API server")?;
    let store: Arc<dyn ObjectStore> = Arc::new(LocalClient::new(running.server.clone()));
    tokio::spawn(federation_controllers::clusters::run(store.clone(), probe));
    let propagation = federation_controllers::propagation::PropagationOptions {
        federation: name.to_string(),
        ..Default::default()
    };
    tokio::spawn(federation_controllers::propagation::run(store, propagation));
    Ok(running)
}

/// Starts a member API server and its simulator.
async fn start_member(a: &MemberArgs) -> anyhow::Result<apiserver::serve::Running> {
    let cfg = apiserver::serve::ServeConfig {
        data_dir: a.data_dir.clone(),
        bind_address: a.bind_address,
        secure_port: a.secure_port,
        cluster_name: a.name.clone(),
        mode: ServerMode::Member,
    };
    let running = apiserver::serve::start(cfg)
        .await
        .with_context(|| format!("starting member {}", a.name))?;
    let store: Arc<dyn ObjectStore> = Arc::new(LocalClient::new(running.server.clone()));
    let opts = member::MemberOptions {
        name: a.name.clone(),
        region: a.region.clone(),
        zone: a.zone.clone(),
        capacity_pods: a.capacity_pods,
        nodes: a.nodes,
    };
    tokio::spawn(member::run(store, opts));
    Ok(running)
}

fn announce(running: &apiserver::serve::Running) {
    tracing::info!(address = %running.addr, kubeconfig = %running.kubeconfig.display(), "serving");
    // A line on stdout that scripts and tests can wait for.
    println!(
        "ubernetes serving on https://{} kubeconfig={}",
        running.addr,
        running.kubeconfig.display()
    );
}

async fn serve(a: ServeArgs) -> anyhow::Result<()> {
    let probe = federation_controllers::clusters::ClusterControllerOptions {
        probe_interval: Duration::from_secs(a.cluster_probe_interval.max(1)),
        failure_threshold: a.cluster_failure_threshold.max(1),
    };
    let running = start_federation(a.data_dir, a.bind_address, a.secure_port, &a.name, probe).await?;
    announce(&running);
    tokio::signal::ctrl_c().await.context("waiting for ctrl-c")?;
    Ok(())
}

async fn member(a: MemberArgs) -> anyhow::Result<()> {
    if let Some(n) = a.virtual_members {
        return virtual_members(a, n).await;
    }
    let running = start_member(&a).await?;
    announce(&running);
    tokio::signal::ctrl_c().await.context("waiting for ctrl-c")?;
    Ok(())
}

/// `ubernetes member --virtual N`: N members behind one listener; writes one kubeconfig each
/// under `<data-dir>/virtual/` and prints `member <name> kubeconfig=<path>` lines.
async fn virtual_members(a: MemberArgs, n: u32) -> anyhow::Result<()> {
    let names: Vec<String> = (1..=n).map(|i| format!("{}-{i:04}", a.name)).collect();
    let cfg = apiserver::serve::ServeConfig {
        data_dir: a.data_dir.clone(),
        bind_address: a.bind_address,
        secure_port: a.secure_port,
        cluster_name: a.name.clone(),
        mode: ServerMode::Member,
    };
    let started = apiserver::serve::start_virtual(cfg, names)
        .await
        .context("starting virtual members")?;
    for (i, (name, server, kubeconfig)) in started.members.iter().enumerate() {
        let (region, zone) = UP_PLACES[i % UP_PLACES.len()];
        let store: Arc<dyn ObjectStore> = Arc::new(LocalClient::new(server.clone()));
        let opts = member::MemberOptions {
            name: name.clone(),
            region: region.to_string(),
            zone: zone.to_string(),
            capacity_pods: a.capacity_pods,
            nodes: a.nodes,
        };
        tokio::spawn(member::run(store, opts));
        println!("member {name} kubeconfig={}", kubeconfig.display());
    }
    println!(
        "ubernetes serving {} virtual members on https://{}",
        started.members.len(),
        started.addr
    );
    tokio::signal::ctrl_c().await.context("waiting for ctrl-c")?;
    Ok(())
}

async fn federation_client(kubeconfig: Option<PathBuf>) -> anyhow::Result<kube::Client> {
    let config = match kubeconfig {
        Some(path) => {
            let kc = kube::config::Kubeconfig::read_from(&path)
                .with_context(|| format!("reading the federation kubeconfig {}", path.display()))?;
            kube::Config::from_custom_kubeconfig(kc, &Default::default())
                .await
                .context("loading the federation kubeconfig")?
        }
        None => kube::Config::infer()
            .await
            .context("finding the federation (set --kubeconfig or $KUBECONFIG)")?,
    };
    kube::Client::try_from(config).context("building a client of the federation")
}

async fn join(a: JoinArgs) -> anyhow::Result<()> {
    let fed = federation_client(a.kubeconfig).await?;
    let opts = federation_controllers::join::JoinOptions {
        region: a.region,
        zone: a.zone,
        provider: a.provider,
    };
    federation_controllers::join::join(fed, &a.name, &a.cluster_kubeconfig, a.cluster_context.as_deref(), &opts)
        .await
        .with_context(|| format!("joining cluster {}", a.name))?;
    println!("cluster.cluster.ubernetes.io/{} joined", a.name);
    Ok(())
}

async fn unjoin(a: UnjoinArgs) -> anyhow::Result<()> {
    let fed = federation_client(a.kubeconfig).await?;
    let removed = federation_controllers::join::unjoin(fed, &a.name, a.remove_propagated)
        .await
        .with_context(|| format!("unjoining cluster {}", a.name))?;
    println!("cluster.cluster.ubernetes.io/{} unjoined", a.name);
    if a.remove_propagated {
        println!("{removed} propagated objects removed from {}", a.name);
    }
    Ok(())
}

const UP_PLACES: &[(&str, &str)] = &[
    ("region-1", "zone-a"),
    ("region-1", "zone-b"),
    ("region-2", "zone-c"),
    ("region-2", "zone-d"),
];

async fn up(a: UpArgs) -> anyhow::Result<()> {
    let fed = start_federation(
        a.data_dir.join("ubernetes"),
        std::net::Ipv4Addr::LOCALHOST.into(),
        a.port,
        "ubernetes",
        federation_controllers::clusters::ClusterControllerOptions {
            probe_interval: Duration::from_secs(a.cluster_probe_interval.max(1)),
            failure_threshold: a.cluster_failure_threshold.max(1),
        },
    )
    .await?;
    let fed_store = LocalClient::new(fed.server.clone());
    let mut members = Vec::new();
    for i in 1..=a.members {
        let name = format!("member-{i}");
        let (region, zone) = UP_PLACES[(usize::from(i) - 1) % UP_PLACES.len()];
        let args = MemberArgs {
            data_dir: a.data_dir.join(&name),
            bind_address: std::net::Ipv4Addr::LOCALHOST.into(),
            // Port 0: every server picks a free port (tests run several systems at once).
            secure_port: if a.port == 0 { 0 } else { a.port + i },
            name: name.clone(),
            region: region.to_string(),
            zone: zone.to_string(),
            capacity_pods: 110,
            nodes: 3,
            virtual_members: None,
        };
        let running = start_member(&args).await?;
        let kubeconfig = std::fs::read_to_string(&running.kubeconfig)
            .with_context(|| format!("reading {}", running.kubeconfig.display()))?;
        let opts = federation_controllers::join::JoinOptions {
            region: Some(region.to_string()),
            zone: Some(zone.to_string()),
            provider: Some("local".to_string()),
        };
        match federation_controllers::join::join_local(&fed_store, &name, &kubeconfig, &opts).await {
            Ok(()) => {}
            Err(e) if e.to_string().contains("already exists") => {}
            Err(e) => return Err(anyhow::anyhow!("joining {name}: {e}")),
        }
        println!(
            "{name:<10} {region}/{zone}  https://{}  KUBECONFIG={}",
            running.addr,
            running.kubeconfig.display()
        );
        members.push(running);
    }
    println!(
        "ubernetes  federation       https://{}  KUBECONFIG={}",
        fed.addr,
        fed.kubeconfig.display()
    );
    println!();
    println!("Next:");
    println!("  export KUBECONFIG={}", fed.kubeconfig.display());
    println!("  kubectl get clusters");
    println!("  kubectl apply -f manifests/examples/web.yaml");
    println!("Ctrl-C stops everything; running `ubernetes up` again reuses the data.");
    announce(&fed);
    tokio::signal::ctrl_c().await.context("waiting for ctrl-c")?;
    Ok(())
}
