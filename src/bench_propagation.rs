//! `ubernetes bench propagation`: time from creating Deployments in the federation to their
//! presence in every member cluster. The federation (`ubernetes serve`) and the members
//! (`ubernetes member --virtual N`, one process serving N in-memory member clusters) run as
//! two separate child processes over HTTPS; the members are joined through the federation's
//! API (a Secret and a Cluster each), one watcher per member records when each Deployment
//! first appears there. Optionally samples the federation's CPU and memory in steady state.

use anyhow::{Context, bail};
use futures::StreamExt;
use k8s_openapi::api::apps::v1::Deployment;
use kube::api::{Api, ApiResource, DynamicObject, PostParams};
use kube::runtime::WatchStreamExt;
use std::collections::HashMap;
use std::fmt::Write as _;
use std::future::Future;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Arguments of `bench propagation`.
#[derive(clap::Args, Clone)]
pub struct PropagationArgs {
    /// Member clusters (virtual members served by one separate `ubernetes member --virtual N` process).
    #[arg(long, default_value_t = 3)]
    members: u32,
    /// Deployments to create.
    #[arg(long, default_value_t = 100)]
    deployments: usize,
    /// Creates in flight.
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// Replicas per Deployment.
    #[arg(long, default_value_t = 1)]
    replicas: u32,
    /// Seconds of steady-state CPU/memory sampling after convergence (0 skips it).
    #[arg(long, default_value_t = 0)]
    steady_secs: u64,
    /// Seconds from the first create until every Deployment must be in every member.
    #[arg(long, default_value_t = 300)]
    timeout: u64,
    /// Seconds between the federation's health probes of each member (`serve --cluster-probe-interval`).
    #[arg(long, default_value_t = 10)]
    probe_interval: u64,
    /// Also append the markdown section to this file.
    #[arg(long)]
    markdown: Option<PathBuf>,
    /// Keep the temporary directory (stores, kubeconfigs, logs) and print its path.
    #[arg(long)]
    keep: bool,
}

/// Joins in flight.
const JOIN_CONCURRENCY: usize = 16;
/// Member watchers being started (client built, initial list running) at once.
const WATCH_START_CONCURRENCY: usize = 32;

// ---------------------------------------------------------------------------------------
// Child processes

/// A child process, killed (and reaped) when dropped.
struct Proc {
    what: &'static str,
    child: Child,
    log: PathBuf,
}

impl Proc {
    /// Starts `ubernetes ARGS` with RUST_LOG=warn, stderr to `log`, and returns it with the
    /// stdout lines up to and including the first one starting with `ubernetes serving`.
    async fn start(
        what: &'static str,
        args: &[&str],
        log: PathBuf,
        wait: Duration,
    ) -> anyhow::Result<(Self, Vec<String>)> {
        // Baselines: UBERNETES_BENCH_EXE runs another build's federation and members under
        // this harness.
        let exe = match std::env::var_os("UBERNETES_BENCH_EXE") {
            Some(p) => PathBuf::from(p),
            None => std::env::current_exe().context("finding the ubernetes binary")?,
        };
        let stderr = std::fs::File::create(&log).with_context(|| format!("creating {}", log.display()))?;
        // Profiling: UBERNETES_BENCH_WRAP="heaptrack" (or "perf record -g --") runs the
        // federation under that command.
        let wrap: Vec<String> = match std::env::var("UBERNETES_BENCH_WRAP") {
            Ok(w) if args.first() == Some(&"serve") => w.split_whitespace().map(str::to_string).collect(),
            _ => Vec::new(),
        };
        let mut cmd = match wrap.split_first() {
            Some((prog, rest)) => {
                let mut c = Command::new(prog);
                c.args(rest).arg(exe);
                c
            }
            None => Command::new(exe),
        };
        let mut child = cmd
            .args(args)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .with_context(|| format!("starting ubernetes {}", args.join(" ")))?;
        let stdout = child.stdout.take();
        // From here on the child is killed if anything fails.
        let mut p = Proc { what, child, log };
        let stdout = stdout.context("child stdout")?;
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        std::thread::spawn(move || {
            // Keeps draining stdout after the caller stops listening.
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let _ = tx.send(line);
            }
        });
        let deadline = tokio::time::Instant::now() + wait;
        let mut lines = Vec::new();
        loop {
            match tokio::time::timeout_at(deadline, rx.recv()).await {
                Ok(Some(line)) => {
                    let done = line.starts_with("ubernetes serving");
                    lines.push(line);
                    if done {
                        return Ok((p, lines));
                    }
                }
                Ok(None) => {
                    let status = p.child.wait().ok();
                    bail!(
                        "{what} exited before serving ({status:?}); its log:\n{}",
                        p.log_tail(20)
                    );
                }
                Err(_) => bail!("{what} not serving after {:?}; its log:\n{}", wait, p.log_tail(20)),
            }
        }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Fails if the process has exited.
    fn check_alive(&mut self) -> anyhow::Result<()> {
        if let Some(status) = self.child.try_wait()? {
            bail!("{} exited ({status}); its log:\n{}", self.what, self.log_tail(20));
        }
        Ok(())
    }

    /// The last `n` lines of the log.
    fn log_tail(&self, n: usize) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(n)..].join("\n")
    }

    /// Lines of the log at WARN or ERROR, and up to `n` distinct examples (shortened).
    fn log_problems(&self, n: usize) -> (usize, Vec<String>) {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let mut count = 0;
        let mut examples: Vec<String> = Vec::new();
        for line in text.lines().filter(|l| l.contains("WARN") || l.contains("ERROR")) {
            count += 1;
            // Drop the timestamp so that repeats of one message compare equal.
            let msg = line.split_once(' ').map_or(line, |(_, rest)| rest);
            let msg: String = msg.chars().take(300).collect();
            if examples.len() < n && !examples.contains(&msg) {
                examples.push(msg);
            }
        }
        (count, examples)
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Spawned tasks, aborted when dropped.
#[derive(Default)]
struct Tasks(Vec<tokio::task::JoinHandle<()>>);

impl Drop for Tasks {
    fn drop(&mut self) {
        for t in &self.0 {
            t.abort();
        }
    }
}

// ---------------------------------------------------------------------------------------
// /proc

/// A `/proc/<pid>/status` field in KiB (VmRSS, VmHWM, ...).
fn status_kib(pid: u32, key: &str) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// utime + stime of a process, in clock ticks.
fn cpu_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may hold spaces): state is field 3, utime 14, stime 15.
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
}

/// Clock ticks per second (`getconf CLK_TCK`; 100 if that fails).
fn clock_ticks() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse::<f64>().ok())
        .filter(|t| *t > 0.0)
        .unwrap_or(100.0)
}

/// CPU used by a process over a span.
struct CpuSpan {
    pid: u32,
    ticks: Option<u64>,
    at: Instant,
}

impl CpuSpan {
    fn start(pid: u32) -> Self {
        Self {
            pid,
            ticks: cpu_ticks(pid),
            at: Instant::now(),
        }
    }

    /// (CPU seconds, percent of one core) since `start`.
    fn end(&self, tck: f64) -> Option<(f64, f64)> {
        let used = cpu_ticks(self.pid)?.checked_sub(self.ticks?)? as f64 / tck;
        let wall = self.at.elapsed().as_secs_f64();
        Some((used, if wall > 0.0 { 100.0 * used / wall } else { 0.0 }))
    }
}

fn machine() -> String {
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| {
            t.lines().find_map(|l| {
                l.strip_prefix("model name")?
                    .split_once(':')
                    .map(|(_, m)| m.trim().to_string())
            })
        })
        .unwrap_or_else(|| "unknown CPU".into());
    format!("{cpus} CPUs ({model})")
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|t| t.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

fn mib(kib: Option<u64>) -> String {
    kib.map_or_else(|| "?".into(), |k| format!("{:.1} MiB", k as f64 / 1024.0))
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

fn secs(d: Duration) -> String {
    format!("{:.2} s", d.as_secs_f64())
}

fn pct(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[i.clamp(1, sorted.len()) - 1]
}

// ---------------------------------------------------------------------------------------
// API helpers

async fn client(kc: &Path) -> anyhow::Result<kube::Client> {
    let text = kube::config::Kubeconfig::read_from(kc).with_context(|| format!("reading {}", kc.display()))?;
    let cfg = kube::Config::from_custom_kubeconfig(text, &Default::default())
        .await
        .with_context(|| format!("loading {}", kc.display()))?;
    Ok(kube::Client::try_from(cfg)?)
}

fn transient(e: &kube::Error) -> bool {
    match e {
        kube::Error::Api(s) => s.code == 429 || s.code >= 500,
        _ => true,
    }
}

fn is_conflict(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(s) if s.code == 409)
}

/// Runs `f` until it succeeds, retrying transient failures (429, 5xx, connection) a few times.
async fn retry<T, Fut>(what: &str, mut f: impl FnMut() -> Fut) -> anyhow::Result<T>
where
    Fut: Future<Output = Result<T, kube::Error>>,
{
    let mut delay = Duration::from_millis(100);
    let mut attempt = 0;
    loop {
        match f().await {
            Ok(v) => return Ok(v),
            Err(e) if attempt < 6 && transient(&e) => {
                attempt += 1;
                tokio::time::sleep(delay).await;
                delay *= 2;
            }
            Err(e) => return Err(anyhow::Error::new(e).context(what.to_string())),
        }
    }
}

/// Creates `obj`; an existing object of that name counts as success.
async fn create<K>(api: &Api<K>, obj: &K, what: &str) -> anyhow::Result<()>
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + serde::Serialize + std::fmt::Debug,
{
    retry(what, || async {
        match api.create(&PostParams::default(), obj).await {
            Err(e) if is_conflict(&e) => Ok(()),
            other => other.map(|_| ()),
        }
    })
    .await
}

/// The federation's store revision (the resourceVersion of a list), which counts its writes.
async fn revision(namespaces: &Api<k8s_openapi::api::core::v1::Namespace>) -> Option<u64> {
    let list = namespaces.list(&kube::api::ListParams::default().limit(1)).await.ok()?;
    list.metadata.resource_version?.parse().ok()
}

fn cluster_resource() -> ApiResource {
    ApiResource {
        group: "cluster.ubernetes.io".into(),
        version: "v1alpha1".into(),
        api_version: "cluster.ubernetes.io/v1alpha1".into(),
        kind: "Cluster".into(),
        plural: "clusters".into(),
    }
}

fn is_ready(c: &DynamicObject) -> bool {
    c.data
        .pointer("/status/conditions")
        .and_then(|x| x.as_array())
        .is_some_and(|cs| cs.iter().any(|c| c["type"] == "Ready" && c["status"] == "True"))
}

/// The `server:` of a kubeconfig.
fn server_of(kubeconfig: &str) -> anyhow::Result<String> {
    kubeconfig
        .lines()
        .find_map(|l| l.trim().strip_prefix("server:"))
        .map(|s| s.trim().trim_matches('"').to_string())
        .context("no server: in the member kubeconfig")
}

/// Writes the Secret `ubernetes-system/cluster-<name>` and the Cluster `<name>`, as
/// `ubernetes join` does (without its verification of the member).
async fn join_member(
    secrets: &Api<k8s_openapi::api::core::v1::Secret>,
    clusters: &Api<DynamicObject>,
    index: usize,
    name: &str,
    kc_path: &Path,
) -> anyhow::Result<()> {
    let kc = std::fs::read_to_string(kc_path).with_context(|| format!("reading {}", kc_path.display()))?;
    let server = server_of(&kc)?;
    let (region, zone) = crate::UP_PLACES[index % crate::UP_PLACES.len()];
    let mut secret: k8s_openapi::api::core::v1::Secret = serde_json::from_value(serde_json::json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": format!("cluster-{name}"), "namespace": "ubernetes-system",
                     "labels": {"cluster.ubernetes.io/cluster": name}},
        "type": "Opaque",
    }))?;
    // ByteString serializes as base64.
    secret.data = Some([("kubeconfig".to_string(), k8s_openapi::ByteString(kc.into_bytes()))].into());
    create(secrets, &secret, &format!("creating Secret cluster-{name}")).await?;
    let cluster: DynamicObject = serde_json::from_value(serde_json::json!({
        "apiVersion": "cluster.ubernetes.io/v1alpha1", "kind": "Cluster", "metadata": {"name": name},
        "spec": {"apiEndpoint": server,
                 "secretRef": {"namespace": "ubernetes-system", "name": format!("cluster-{name}")},
                 "region": region, "zone": zone, "provider": "virtual"},
    }))?;
    create(clusters, &cluster, &format!("creating Cluster {name}")).await
}

fn deployment(i: usize, replicas: u32) -> anyhow::Result<Deployment> {
    Ok(serde_json::from_value(serde_json::json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": format!("d-{i:05}"), "namespace": "bench", "labels": {"app": "bench"}},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "bench"}},
                 "template": {"metadata": {"labels": {"app": "bench"}}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}
    }))?)
}

// ---------------------------------------------------------------------------------------
// Watchers on the members

/// What the member watchers share.
#[derive(Default)]
struct Seen {
    /// Deployment name → first-sight instants, one per member that has it.
    first: Mutex<HashMap<String, Vec<Instant>>>,
    /// Watchers whose initial list is done.
    synced: AtomicUsize,
    /// Watchers that could not start at all.
    failed: AtomicUsize,
    /// Errors from watch streams (each retried with backoff).
    errors: AtomicUsize,
    last_error: Mutex<Option<String>>,
}

impl Seen {
    fn error(&self, e: String) {
        self.errors.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut last) = self.last_error.lock() {
            *last = Some(e);
        }
    }
}

/// Watches Deployments in namespace `bench` of one member, recording first sight of each.
/// Holds `permit` until its initial list is done (bounding the watchers starting at once).
async fn watch_member(name: String, kc: PathBuf, seen: Arc<Seen>, permit: tokio::sync::OwnedSemaphorePermit) {
    let mut permit = Some(permit);
    let member = match client(&kc).await {
        Ok(c) => c,
        Err(e) => {
            seen.error(format!("member {name}: {e:#}"));
            seen.failed.fetch_add(1, Ordering::Relaxed);
            return;
        }
    };
    let api: Api<Deployment> = Api::namespaced(member, "bench");
    let mut stream = kube::runtime::watcher(api, Default::default())
        .default_backoff()
        .boxed();
    let mut mine = std::collections::HashSet::new();
    while let Some(ev) = stream.next().await {
        use kube::runtime::watcher::Event;
        match ev {
            Ok(Event::Apply(d) | Event::InitApply(d)) => {
                let now = Instant::now();
                if let Some(n) = d.metadata.name
                    && !mine.contains(&n)
                {
                    mine.insert(n.clone());
                    if let Ok(mut first) = seen.first.lock() {
                        first.entry(n).or_default().push(now);
                    }
                }
            }
            Ok(Event::InitDone) => {
                if permit.take().is_some() {
                    seen.synced.fetch_add(1, Ordering::Relaxed);
                }
            }
            Ok(_) => {}
            Err(e) => seen.error(format!("member {name}: {e}")),
        }
    }
}

// ---------------------------------------------------------------------------------------
// The benchmark

/// Runs the benchmark and prints a markdown section; exits non-zero if not converged.
pub async fn run(a: PropagationArgs) -> anyhow::Result<()> {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    // On a signal the benchmark's future is dropped, which kills the child processes.
    tokio::select! {
        r = bench(a) => r,
        _ = tokio::signal::ctrl_c() => bail!("interrupted"),
        _ = term.recv() => bail!("terminated"),
    }
}

/// Figures gathered along the way, for the report.
#[derive(Default)]
struct Report {
    load_before: String,
    load_after: String,
    members_up: Duration,
    joined: Duration,
    all_ready: Duration,
    watchers_synced: Duration,
    create_phase: Duration,
    create_lat: Vec<Duration>,
    converged: Option<Duration>,
    waited: Duration,
    rss_empty: Option<u64>,
    rss_ready: Option<u64>,
    rss_converged: Option<u64>,
    /// Federation store revision before the first create and when converged.
    rev_prop: (Option<u64>, Option<u64>),
    member_rss_ready: Option<u64>,
    member_rss_converged: Option<u64>,
    fed_cpu_join: Option<(f64, f64)>,
    fed_cpu_prop: Option<(f64, f64)>,
    member_cpu_prop: Option<(f64, f64)>,
    steady: Option<Steady>,
    complete: usize,
    pairs_seen: usize,
    per_deployment: Vec<Duration>,
    per_pair: Vec<Duration>,
    watch_errors: usize,
    last_watch_error: Option<String>,
    fed_log: (usize, Vec<String>),
    member_log: (usize, Vec<String>),
}

struct Steady {
    secs: u64,
    cpu: Option<(f64, f64)>,
    member_cpu: Option<(f64, f64)>,
    rss: (Option<u64>, Option<u64>),
    hwm: (Option<u64>, Option<u64>),
    member_rss: (Option<u64>, Option<u64>),
    rev: (Option<u64>, Option<u64>),
}

async fn bench(a: PropagationArgs) -> anyhow::Result<()> {
    if a.members == 0 || a.deployments == 0 || a.concurrency == 0 {
        bail!("--members, --deployments and --concurrency must be at least 1");
    }
    let n = a.members as usize;
    let tck = clock_ticks();
    let mut r = Report {
        load_before: loadavg(),
        ..Default::default()
    };
    let dir = tempfile::Builder::new().prefix("bench-propagation-").tempdir()?;
    let d = dir.path().to_path_buf();
    // Declared before the processes, so dropped after them.
    let _dir = if a.keep {
        eprintln!("keeping {}", d.display());
        let _ = dir.keep();
        None
    } else {
        Some(dir)
    };

    // 1. Members: one process serving N virtual members.
    let t = Instant::now();
    let count = a.members.to_string();
    let mdata = d.join("members");
    let (mut members_proc, lines) = Proc::start(
        "the members process",
        &[
            "member",
            "--virtual",
            &count,
            "--data-dir",
            mdata.to_str().context("temp dir path is not UTF-8")?,
            "--secure-port",
            "0",
            "--name",
            "member",
        ],
        d.join("members.log"),
        Duration::from_secs(30) + Duration::from_millis(50) * a.members,
    )
    .await?;
    r.members_up = t.elapsed();
    let members: Vec<(String, PathBuf)> = lines
        .iter()
        .filter_map(|l| l.strip_prefix("member "))
        .filter_map(|l| l.split_once(" kubeconfig="))
        .map(|(name, kc)| (name.to_string(), PathBuf::from(kc.trim())))
        .collect();
    if members.len() != n {
        bail!("the members process announced {} members, not {n}", members.len());
    }
    eprintln!("{n} virtual members serving after {}", secs(r.members_up));

    // 2. The federation.
    let fdata = d.join("federation");
    let probe = a.probe_interval.max(1).to_string();
    let (mut fed_proc, lines) = Proc::start(
        "the federation",
        &[
            "serve",
            "--data-dir",
            fdata.to_str().context("temp dir path is not UTF-8")?,
            "--secure-port",
            "0",
            "--cluster-probe-interval",
            &probe,
        ],
        d.join("federation.log"),
        Duration::from_secs(30),
    )
    .await?;
    let fed_kc = lines
        .last()
        .and_then(|l| l.split("kubeconfig=").nth(1))
        .map(|p| PathBuf::from(p.trim()))
        .context("no kubeconfig= in the federation's serving line")?;
    let fed = client(&fed_kc).await?;
    let fed_pid = fed_proc.pid();
    let member_pid = members_proc.pid();
    r.rss_empty = status_kib(fed_pid, "VmRSS");

    // 3. Join every member through the federation's API.
    let namespaces: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(fed.clone());
    let system_ns = serde_json::from_value(serde_json::json!({"metadata": {"name": "ubernetes-system"}}))?;
    create(&namespaces, &system_ns, "creating namespace ubernetes-system").await?;
    let secrets: Api<k8s_openapi::api::core::v1::Secret> = Api::namespaced(fed.clone(), "ubernetes-system");
    let clusters: Api<DynamicObject> = Api::all_with(fed.clone(), &cluster_resource());
    let join_cpu = CpuSpan::start(fed_pid);
    let t = Instant::now();
    let joins: Vec<anyhow::Result<()>> = futures::stream::iter(members.iter().enumerate())
        .map(|(i, (name, kc))| {
            let (secrets, clusters) = (&secrets, &clusters);
            async move { join_member(secrets, clusters, i, name, kc).await }
        })
        .buffer_unordered(JOIN_CONCURRENCY)
        .collect()
        .await;
    joins.into_iter().collect::<anyhow::Result<Vec<()>>>()?;
    r.joined = t.elapsed();
    eprintln!("{n} Secrets + Clusters created in {}", secs(r.joined));

    // 4. Wait until every Cluster is Ready.
    let ready_wait = Duration::from_secs(60) + Duration::from_millis(200) * a.members;
    let poll = if n > 100 {
        Duration::from_secs(1)
    } else {
        Duration::from_millis(200)
    };
    let mut last_ready = usize::MAX;
    let lp = kube::api::ListParams::default();
    loop {
        fed_proc.check_alive()?;
        members_proc.check_alive()?;
        let list = retry("listing Clusters", || clusters.list(&lp)).await?;
        let ready = list.items.iter().filter(|c| is_ready(c)).count();
        if ready >= n {
            break;
        }
        if ready != last_ready {
            eprintln!("{:>7.1} s: {ready} of {n} Clusters Ready", t.elapsed().as_secs_f64());
            last_ready = ready;
        }
        if t.elapsed() > ready_wait {
            bail!(
                "only {ready} of {n} Clusters Ready {:?} after the first join; federation log:\n{}",
                ready_wait,
                fed_proc.log_tail(20)
            );
        }
        tokio::time::sleep(poll).await;
    }
    r.all_ready = t.elapsed();
    r.fed_cpu_join = join_cpu.end(tck);
    eprintln!("all {n} Clusters Ready {} after the first join", secs(r.all_ready));

    // 5. Namespace and policy in the federation.
    create(
        &namespaces,
        &serde_json::from_value(serde_json::json!({"metadata": {"name": "bench"}}))?,
        "creating namespace bench",
    )
    .await?;
    let policies: Api<DynamicObject> = Api::all_with(
        fed.clone(),
        &ApiResource {
            group: "policy.ubernetes.io".into(),
            version: "v1alpha1".into(),
            api_version: "policy.ubernetes.io/v1alpha1".into(),
            kind: "ClusterPropagationPolicy".into(),
            plural: "clusterpropagationpolicies".into(),
        },
    );
    let policy: DynamicObject = serde_json::from_value(serde_json::json!({
        "apiVersion": "policy.ubernetes.io/v1alpha1", "kind": "ClusterPropagationPolicy", "metadata": {"name": "bench"},
        "spec": {"resourceSelectors": [{"apiVersion": "apps/v1", "kind": "Deployment", "namespace": "bench"}]}}))?;
    create(&policies, &policy, "creating ClusterPropagationPolicy bench").await?;

    // 6. One watcher per member; all initial lists done before the first create.
    let seen = Arc::new(Seen::default());
    let mut tasks = Tasks::default();
    let gate = Arc::new(tokio::sync::Semaphore::new(WATCH_START_CONCURRENCY));
    let t = Instant::now();
    for (name, kc) in &members {
        let permit = gate.clone().acquire_owned().await?;
        tasks.0.push(tokio::spawn(watch_member(
            name.clone(),
            kc.clone(),
            seen.clone(),
            permit,
        )));
    }
    let sync_wait = Duration::from_secs(60) + Duration::from_millis(100) * a.members;
    loop {
        let synced = seen.synced.load(Ordering::Relaxed);
        if synced >= n {
            break;
        }
        let failed = seen.failed.load(Ordering::Relaxed);
        if failed > 0 || t.elapsed() > sync_wait {
            let last = seen.last_error.lock().ok().and_then(|l| l.clone()).unwrap_or_default();
            bail!("{synced} of {n} member watchers synced ({failed} failed to start) after {sync_wait:?}: {last}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    r.watchers_synced = t.elapsed();
    eprintln!("{n} member watchers synced in {}", secs(r.watchers_synced));
    r.rss_ready = status_kib(fed_pid, "VmRSS");
    r.member_rss_ready = status_kib(member_pid, "VmRSS");
    r.rev_prop.0 = revision(&namespaces).await;

    // 7. Create the Deployments.
    let api: Api<Deployment> = Api::namespaced(fed.clone(), "bench");
    let prop_cpu = CpuSpan::start(fed_pid);
    let member_cpu = CpuSpan::start(member_pid);
    let replicas = a.replicas;
    let start = Instant::now();
    let created: Vec<(String, Instant)> = futures::stream::iter(0..a.deployments)
        .map(|i| {
            let api = api.clone();
            async move {
                let d = deployment(i, replicas)?;
                let sent = Instant::now();
                create(&api, &d, &format!("creating Deployment d-{i:05}")).await?;
                let ack = Instant::now();
                Ok::<_, anyhow::Error>((format!("d-{i:05}"), sent, ack))
            }
        })
        .buffer_unordered(a.concurrency)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .map(|x| {
            x.map(|(name, sent, ack)| {
                r.create_lat.push(ack - sent);
                (name, ack)
            })
        })
        .collect::<anyhow::Result<_>>()?;
    r.create_phase = start.elapsed();
    r.create_lat.sort();
    eprintln!("{} Deployments created in {}", a.deployments, secs(r.create_phase));

    // 8. Wait until every Deployment is in every member.
    let deadline = start + Duration::from_secs(a.timeout);
    let mut last_progress = Instant::now();
    let mut last_check = Instant::now();
    let complete = |seen: &Seen| -> (usize, usize) {
        seen.first.lock().map_or((0, 0), |f| {
            let complete = f.values().filter(|v| v.len() >= n).count();
            (complete, f.values().map(Vec::len).sum())
        })
    };
    loop {
        let (done, pairs) = complete(&seen);
        if done >= a.deployments {
            break;
        }
        if last_check.elapsed() > Duration::from_secs(1) {
            fed_proc.check_alive()?;
            members_proc.check_alive()?;
            last_check = Instant::now();
        }
        if last_progress.elapsed() > Duration::from_secs(5) {
            eprintln!(
                "{:>7.1} s: {done} of {} Deployments in every member, {pairs} of {} copies",
                start.elapsed().as_secs_f64(),
                a.deployments,
                a.deployments * n
            );
            last_progress = Instant::now();
        }
        if Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    r.waited = start.elapsed();
    r.fed_cpu_prop = prop_cpu.end(tck);
    r.member_cpu_prop = member_cpu.end(tck);
    r.rss_converged = status_kib(fed_pid, "VmRSS");
    r.member_rss_converged = status_kib(member_pid, "VmRSS");
    r.rev_prop.1 = revision(&namespaces).await;
    {
        let first = seen.first.lock().map_err(|_| anyhow::anyhow!("a watcher panicked"))?;
        let mut last_seen: Option<Instant> = None;
        for (name, ack) in &created {
            let Some(v) = first.get(name) else { continue };
            r.pairs_seen += v.len();
            r.per_pair.extend(v.iter().map(|t| t.saturating_duration_since(*ack)));
            if v.len() >= n
                && let Some(last) = v.iter().max()
            {
                r.complete += 1;
                r.per_deployment.push(last.saturating_duration_since(*ack));
                last_seen = last_seen.max(Some(*last));
            }
        }
        if r.complete == a.deployments {
            r.converged = last_seen.map(|l| l.saturating_duration_since(start));
        }
    }
    r.per_deployment.sort();
    r.per_pair.sort();
    r.watch_errors = seen.errors.load(Ordering::Relaxed);
    r.last_watch_error = seen.last_error.lock().ok().and_then(|l| l.clone());
    match r.converged {
        Some(c) => eprintln!(
            "converged: all {} Deployments in all {n} members after {}",
            a.deployments,
            secs(c)
        ),
        None => eprintln!(
            "NOT converged after {}: {} of {} Deployments in every member",
            secs(r.waited),
            r.complete,
            a.deployments
        ),
    }

    // 9. Steady state.
    if r.converged.is_some() && a.steady_secs > 0 {
        eprintln!("steady state: waiting 10 s, then sampling for {} s", a.steady_secs);
        tokio::time::sleep(Duration::from_secs(10)).await;
        fed_proc.check_alive()?;
        let cpu = CpuSpan::start(fed_pid);
        let mcpu = CpuSpan::start(member_pid);
        let rss0 = status_kib(fed_pid, "VmRSS");
        let rev0 = revision(&namespaces).await;
        let hwm0 = status_kib(fed_pid, "VmHWM");
        let mrss0 = status_kib(member_pid, "VmRSS");
        let until = Instant::now() + Duration::from_secs(a.steady_secs);
        while Instant::now() < until {
            tokio::time::sleep((until - Instant::now()).min(Duration::from_secs(10))).await;
            eprintln!(
                "steady {:>5.0} s: federation VmRSS {}, {:.0} % CPU",
                a.steady_secs as f64 - until.saturating_duration_since(Instant::now()).as_secs_f64(),
                mib(status_kib(fed_pid, "VmRSS")),
                cpu.end(tck).map_or(0.0, |c| c.1)
            );
        }
        fed_proc.check_alive()?;
        r.steady = Some(Steady {
            secs: a.steady_secs,
            cpu: cpu.end(tck),
            member_cpu: mcpu.end(tck),
            rss: (rss0, status_kib(fed_pid, "VmRSS")),
            rev: (rev0, revision(&namespaces).await),
            hwm: (hwm0, status_kib(fed_pid, "VmHWM")),
            member_rss: (mrss0, status_kib(member_pid, "VmRSS")),
        });
    }
    drop(tasks);
    r.load_after = loadavg();
    r.fed_log = fed_proc.log_problems(5);
    r.member_log = members_proc.log_problems(5);

    let text = report(&a, &r);
    println!("{text}");
    if let Some(path) = &a.markdown {
        use std::io::Write as _;
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .with_context(|| format!("opening {}", path.display()))?;
        writeln!(f, "{text}").with_context(|| format!("writing {}", path.display()))?;
    }
    if r.converged.is_none() {
        bail!(
            "only {} of {} Deployments reached all {n} members within {} s",
            r.complete,
            a.deployments,
            a.timeout
        );
    }
    Ok(())
}

fn cpu_cell(c: Option<(f64, f64)>) -> String {
    c.map_or_else(|| "?".into(), |(s, p)| format!("{s:.1} s CPU, {p:.0} % of one core"))
}

fn report(a: &PropagationArgs, r: &Report) -> String {
    let n = a.members as usize;
    let m = a.deployments;
    let mut s = String::new();
    let _ = writeln!(s, "### Propagation: {m} Deployments → {n} members (out of process)\n");
    let mut cmd = format!(
        "ubernetes bench propagation --members {n} --deployments {m} --concurrency {} --replicas {}",
        a.concurrency, a.replicas
    );
    if a.steady_secs > 0 {
        let _ = write!(cmd, " --steady-secs {}", a.steady_secs);
    }
    if a.timeout != 300 {
        let _ = write!(cmd, " --timeout {}", a.timeout);
    }
    if a.probe_interval != 10 {
        let _ = write!(cmd, " --probe-interval {}", a.probe_interval);
    }
    let _ = writeln!(s, "- Command: `{cmd}`");
    let _ = writeln!(
        s,
        "- Machine: {}; load average {} before, {} after",
        machine(),
        r.load_before,
        r.load_after
    );
    let _ = writeln!(
        s,
        "- Setup: `ubernetes serve` (probe interval {} s) and `ubernetes member --virtual {n}` as two separate \
         processes (HTTPS, RUST_LOG=warn); members joined through the federation's API (Secret + Cluster, \
         {JOIN_CONCURRENCY} in flight); a ClusterPropagationPolicy selects apps/v1 Deployments in namespace `bench` \
         for every member; Deployments ({} replicas) created through the federation with kube-rs, {} in flight; one \
         watcher per member (all initial lists done before the first create) records first sight of each \
         Deployment. The bench itself runs on the same machine.\n",
        a.probe_interval.max(1),
        a.replicas,
        a.concurrency
    );
    let _ = writeln!(s, "| figure | value |\n|---|---:|");
    let mut row = |k: String, v: String| {
        let _ = writeln!(s, "| {k} | {v} |");
    };
    row(format!("`member --virtual {n}` serving"), secs(r.members_up));
    row(format!("{n} Secrets + Clusters created"), secs(r.joined));
    row(
        format!("all {n} Clusters Ready, from the first join"),
        secs(r.all_ready),
    );
    row(
        "federation CPU, first join → all Ready".into(),
        cpu_cell(r.fed_cpu_join),
    );
    row(format!("{n} member watchers synced"), secs(r.watchers_synced));
    row(format!("{m} creates acknowledged"), ms(r.create_phase));
    row(
        "create request latency p50 / p99".into(),
        format!("{} / {}", ms(pct(&r.create_lat, 50.0)), ms(pct(&r.create_lat, 99.0))),
    );
    match r.converged {
        Some(c) => row(
            format!("**all {m} Deployments present in all {n} members**, from the first create"),
            format!("**{}**", ms(c)),
        ),
        None => row(
            format!("**NOT converged** within {} s", a.timeout),
            format!("{} of {m} Deployments in every member", r.complete),
        ),
    }
    row(
        "(Deployment, member) copies seen".into(),
        format!("{} of {}", r.pairs_seen, m * n),
    );
    let partial = if r.converged.is_some() {
        String::new()
    } else {
        format!(" (the {} complete)", r.complete)
    };
    for (p, label) in [(50.0, "p50"), (99.0, "p99"), (100.0, "max")] {
        row(
            format!("per Deployment, create ack → present in every member, {label}{partial}"),
            ms(pct(&r.per_deployment, p)),
        );
    }
    let partial = if r.converged.is_some() { "" } else { " (copies seen)" };
    for (p, label) in [(50.0, "p50"), (99.0, "p99")] {
        row(
            format!("per (Deployment, member), create ack → seen there, {label}{partial}"),
            ms(pct(&r.per_pair, p)),
        );
    }
    row(
        "federation CPU, first create → converged (or timeout)".into(),
        cpu_cell(r.fed_cpu_prop),
    );
    row(
        "members process CPU, first create → converged (or timeout)".into(),
        cpu_cell(r.member_cpu_prop),
    );
    row("federation VmRSS at start (empty store)".into(), mib(r.rss_empty));
    row(
        format!("federation VmRSS, {n} members Ready, before the Deployments"),
        mib(r.rss_ready),
    );
    row(
        "federation VmRSS when converged (or timeout)".into(),
        mib(r.rss_converged),
    );
    if let (Some(r0), Some(r1)) = r.rev_prop {
        let w = r1.saturating_sub(r0);
        row(
            "federation store writes, first create → converged (or timeout)".into(),
            format!("{w} ({:.1} per Deployment)", w as f64 / m as f64),
        );
    }
    row(
        "members process VmRSS before the Deployments → converged".into(),
        format!("{} → {}", mib(r.member_rss_ready), mib(r.member_rss_converged)),
    );
    if let Some(st) = &r.steady {
        row(
            "steady state window".into(),
            format!("{} s, from 10 s after convergence", st.secs),
        );
        row("federation CPU, steady state".into(), cpu_cell(st.cpu));
        row("members process CPU, steady state".into(), cpu_cell(st.member_cpu));
        if let (Some(r0), Some(r1)) = st.rev {
            row(
                "federation store writes, steady state".into(),
                format!("{:.1} /s", r1.saturating_sub(r0) as f64 / st.secs as f64),
            );
        }
        row(
            "federation VmRSS, steady state start → end".into(),
            format!("{} → {}", mib(st.rss.0), mib(st.rss.1)),
        );
        row(
            "federation VmHWM, steady state start → end".into(),
            format!("{} → {}", mib(st.hwm.0), mib(st.hwm.1)),
        );
        row(
            "members process VmRSS, steady state start → end".into(),
            format!("{} → {}", mib(st.member_rss.0), mib(st.member_rss.1)),
        );
        if let (Some(end), Some(before)) = (st.rss.1, r.rss_ready) {
            let grown = end.saturating_sub(before) as f64;
            row(
                "federation VmRSS growth, steady end − before the Deployments (all causes, heartbeats too)".into(),
                format!(
                    "{:.1} MiB: {:.1} KiB per Deployment, {:.1} KiB per member copy",
                    grown / 1024.0,
                    grown / m as f64,
                    grown / (m * n) as f64
                ),
            );
        }
    }
    row(
        "watch errors on the members (retried)".into(),
        r.watch_errors.to_string(),
    );
    row(
        "WARN/ERROR lines in the federation's log / the members' log".into(),
        format!("{} / {}", r.fed_log.0, r.member_log.0),
    );
    let examples: Vec<&String> = r.fed_log.1.iter().chain(&r.member_log.1).collect();
    if !examples.is_empty() || r.last_watch_error.is_some() {
        let _ = writeln!(s, "\nLog examples:\n");
        for e in examples {
            let _ = writeln!(s, "- `{}`", e.replace('`', "'"));
        }
        if let Some(e) = &r.last_watch_error {
            let _ = writeln!(s, "- last watch error: `{}`", e.replace('`', "'"));
        }
    }
    s
}
