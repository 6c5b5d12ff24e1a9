//! `ubernetes bench propagation`: time from creating Deployments in the federation to their
//! presence in every member cluster, on a real `ubernetes up` (separate process, HTTPS).

use anyhow::{Context, bail};
use futures::StreamExt;
use k8s_openapi::api::apps::v1::Deployment;
use kube::api::{Api, PostParams};
use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Mutex;

/// Arguments of `bench propagation`.
#[derive(clap::Args, Clone)]
pub struct PropagationArgs {
    /// Member clusters to start.
    #[arg(long, default_value_t = 3)]
    members: u16,
    /// Deployments to create.
    #[arg(long, default_value_t = 100)]
    deployments: usize,
    /// Creates in flight.
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
}

struct Up {
    child: Child,
    _dir: tempfile::TempDir,
    federation: PathBuf,
    members: Vec<PathBuf>,
}

impl Drop for Up {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(members: u16) -> anyhow::Result<Up> {
    let dir = tempfile::tempdir()?;
    let exe = std::env::current_exe()?;
    let mut child = Command::new(exe)
        .args([
            "up",
            "--port",
            "0",
            "--cluster-probe-interval",
            "1",
            "--members",
            &members.to_string(),
            "--data-dir",
        ])
        .arg(dir.path())
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .spawn()
        .context("starting ubernetes up")?;
    let mut reader = BufReader::new(child.stdout.take().context("stdout")?);
    let mut member_kcs = Vec::new();
    let federation = loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            bail!("ubernetes up exited early");
        }
        if line.starts_with("member-")
            && let Some(kc) = line.split("KUBECONFIG=").nth(1)
        {
            member_kcs.push(PathBuf::from(kc.trim()));
        }
        if let Some(kc) = line
            .strip_prefix("ubernetes serving on ")
            .and_then(|l| l.split("kubeconfig=").nth(1))
        {
            break PathBuf::from(kc.trim());
        }
    };
    std::thread::spawn(move || for _ in reader.lines() {});
    Ok(Up {
        child,
        _dir: dir,
        federation,
        members: member_kcs,
    })
}

async fn client(kc: &PathBuf) -> anyhow::Result<kube::Client> {
    let kc = kube::config::Kubeconfig::read_from(kc)?;
    let cfg = kube::Config::from_custom_kubeconfig(kc, &Default::default()).await?;
    Ok(kube::Client::try_from(cfg)?)
}

fn deployment(i: usize) -> anyhow::Result<Deployment> {
    Ok(serde_json::from_value(serde_json::json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": format!("d-{i:05}"), "namespace": "bench", "labels": {"app": "bench"}},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "bench"}},
                 "template": {"metadata": {"labels": {"app": "bench"}}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}
    }))?)
}

fn pct(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[i.clamp(1, sorted.len()) - 1]
}

/// Runs the benchmark and prints a markdown section.
pub async fn run(a: PropagationArgs) -> anyhow::Result<()> {
    let up = start(a.members)?;
    let fed = client(&up.federation).await?;
    // Wait for every member to be Ready.
    let clusters: Api<kube::api::DynamicObject> = Api::all_with(
        fed.clone(),
        &kube::api::ApiResource {
            group: "cluster.ubernetes.io".into(),
            version: "v1alpha1".into(),
            api_version: "cluster.ubernetes.io/v1alpha1".into(),
            kind: "Cluster".into(),
            plural: "clusters".into(),
        },
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let list = clusters.list(&Default::default()).await?;
        let ready = list
            .items
            .iter()
            .filter(|c| {
                c.data
                    .pointer("/status/conditions")
                    .and_then(|x| x.as_array())
                    .is_some_and(|cs| cs.iter().any(|c| c["type"] == "Ready" && c["status"] == "True"))
            })
            .count();
        if ready == usize::from(a.members) {
            break;
        }
        if Instant::now() > deadline {
            bail!("members not Ready after 60 s ({ready} of {})", a.members);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let ns: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(fed.clone());
    ns.create(
        &PostParams::default(),
        &serde_json::from_value(serde_json::json!({"metadata": {"name": "bench"}}))?,
    )
    .await?;
    let policies: Api<kube::api::DynamicObject> = Api::all_with(
        fed.clone(),
        &kube::api::ApiResource {
            group: "policy.ubernetes.io".into(),
            version: "v1alpha1".into(),
            api_version: "policy.ubernetes.io/v1alpha1".into(),
            kind: "ClusterPropagationPolicy".into(),
            plural: "clusterpropagationpolicies".into(),
        },
    );
    let policy: kube::api::DynamicObject = serde_json::from_value(serde_json::json!({
        "apiVersion": "policy.ubernetes.io/v1alpha1", "kind": "ClusterPropagationPolicy", "metadata": {"name": "bench"},
        "spec": {"resourceSelectors": [{"apiVersion": "apps/v1", "kind": "Deployment", "namespace": "bench"}]}}))?;
    policies.create(&PostParams::default(), &policy).await?;

    // Informers on every member record when each Deployment first appears there.
    let seen: Arc<Mutex<HashMap<String, Vec<Instant>>>> = Arc::default();
    for kc in &up.members {
        let member = client(kc).await?;
        let api: Api<Deployment> = Api::namespaced(member, "bench");
        let seen = seen.clone();
        tokio::spawn(async move {
            let mut s = kube::runtime::watcher(api, Default::default()).boxed();
            let mut mine = std::collections::HashSet::new();
            while let Some(Ok(ev)) = s.next().await {
                use kube::runtime::watcher::Event;
                if let Event::Apply(d) | Event::InitApply(d) = ev
                    && let Some(name) = d.metadata.name
                    && mine.insert(name.clone())
                {
                    seen.lock().await.entry(name).or_default().push(Instant::now());
                }
            }
        });
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let api: Api<Deployment> = Api::namespaced(fed.clone(), "bench");
    let start = Instant::now();
    let created: Vec<(String, Instant)> = futures::stream::iter(0..a.deployments)
        .map(|i| {
            let api = api.clone();
            async move {
                let d = deployment(i)?;
                api.create(&PostParams::default(), &d).await?;
                Ok::<_, anyhow::Error>((format!("d-{i:05}"), Instant::now()))
            }
        })
        .buffer_unordered(a.concurrency)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<Result<_, _>>()?;
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        let done = seen
            .lock()
            .await
            .values()
            .filter(|v| v.len() == usize::from(a.members))
            .count();
        if done == a.deployments {
            break;
        }
        if Instant::now() > deadline {
            bail!(
                "only {done} of {} Deployments reached every member in 300 s",
                a.deployments
            );
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let total = start.elapsed();
    let seen = seen.lock().await;
    let mut lat: Vec<Duration> = created
        .iter()
        .filter_map(|(n, t)| {
            seen.get(n)
                .and_then(|v| v.iter().max())
                .map(|last| last.saturating_duration_since(*t))
        })
        .collect();
    lat.sort();
    println!("### Propagation (issue 5)\n");
    println!(
        "- Command: `ubernetes bench propagation --members {} --deployments {} --concurrency {}`",
        a.members, a.deployments, a.concurrency
    );
    println!(
        "- Setup: `ubernetes up` as a separate process (federation + {} members, HTTPS); Deployments created through the federation with kube-rs; informers on every member record first sight\n",
        a.members
    );
    println!("| figure | value |\n|---|---:|");
    println!(
        "| all {} Deployments present in all {} members | {:.0} ms |",
        a.deployments,
        a.members,
        total.as_secs_f64() * 1000.0
    );
    println!(
        "| per Deployment, create ack → present in every member, p50 | {:.1} ms |",
        pct(&lat, 50.0).as_secs_f64() * 1000.0
    );
    println!(
        "| per Deployment, create ack → present in every member, p99 | {:.1} ms |",
        pct(&lat, 99.0).as_secs_f64() * 1000.0
    );
    Ok(())
}
