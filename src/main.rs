//! `ubernetes`: the federation control plane's one binary.

mod bench;

use anyhow::Context;
use clap::{Parser, Subcommand};
use std::path::PathBuf;

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
    /// Serve the Kubernetes-compatible API (HTTPS) from a local data directory.
    Serve(ServeArgs),
    /// Run a member cluster's API server (the same API machinery, for local federations and tests).
    Member(ServeArgs),
    /// Start the whole system on embedded defaults: the federation API server plus local member clusters.
    Up(UpArgs),
    /// Measure the API server's throughput, latency and memory.
    Bench(bench::BenchArgs),
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
            Command::Serve(a) | Command::Member(a) => serve(a).await,
            Command::Up(a) => up(a).await,
            Command::Bench(a) => bench::run(a).await,
        }
    })
}

async fn serve(a: ServeArgs) -> anyhow::Result<()> {
    let cfg = apiserver::serve::ServeConfig {
        data_dir: a.data_dir.clone(),
        bind_address: a.bind_address,
        secure_port: a.secure_port,
        cluster_name: a.name,
    };
    let running = apiserver::serve::start(cfg).await.context("starting the API server")?;
    tracing::info!(address = %running.addr, kubeconfig = %running.kubeconfig.display(), "serving");
    // A line on stdout that scripts and tests can wait for.
    println!(
        "ubernetes serving on https://{} kubeconfig={}",
        running.addr,
        running.kubeconfig.display()
    );
    tokio::signal::ctrl_c().await.context("waiting for ctrl-c")?;
    Ok(())
}

async fn up(a: UpArgs) -> anyhow::Result<()> {
    let mut started = Vec::new();
    for i in 0..=a.members {
        let (name, dir) = if i == 0 {
            ("ubernetes".to_string(), a.data_dir.join("ubernetes"))
        } else {
            let n = format!("member-{i}");
            (n.clone(), a.data_dir.join(&n))
        };
        let cfg = apiserver::serve::ServeConfig {
            data_dir: dir,
            bind_address: std::net::Ipv4Addr::LOCALHOST.into(),
            secure_port: a.port + i,
            cluster_name: name.clone(),
        };
        let running = apiserver::serve::start(cfg)
            .await
            .with_context(|| format!("starting {name}"))?;
        println!(
            "{name:<12} https://{}  export KUBECONFIG={}",
            running.addr,
            running.kubeconfig.display()
        );
        started.push(running);
    }
    println!("ubernetes is up; the federation API server is the first line above. Ctrl-C stops everything.");
    tokio::signal::ctrl_c().await.context("waiting for ctrl-c")?;
    Ok(())
}
