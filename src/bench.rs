//! `ubernetes bench api`: throughput and latency of the API server over HTTPS.
//!
//! By default it starts `ubernetes serve` as a child process on a fresh data
//! directory (so client and server are separate processes talking TLS over
//! loopback), then measures:
//!
//! * create: N ConfigMaps, concurrently;
//! * get: random existing ConfigMaps;
//! * list: the whole namespace without a limit, and page by page (`limit=500`);
//! * watch fan-out: W watchers on the namespace while U updates are made, with the
//!   delay from each update's acknowledgement to each watcher receiving it;
//! * memory: the server's resident set before and after the N ConfigMaps.
//!
//! Requests go through `kube::Client` as raw HTTP (bodies are not decoded into typed
//! objects, so the client spends as little CPU as possible), over one multiplexed
//! HTTP/2 connection like client-go, or an HTTP/1.1 connection pool with `--http1`.

use anyhow::{Context, anyhow, bail};
use bytes::Bytes;
use http::{Method, Request, StatusCode};
use http_body_util::BodyExt;
use kube::client::{Body, ConfigExt};
use serde::Deserialize;
use std::collections::HashMap;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tokio::io::AsyncBufReadExt;

/// `ubernetes bench ...`
#[derive(clap::Args)]
pub struct BenchArgs {
    #[command(subcommand)]
    target: BenchTarget,
}

#[derive(clap::Subcommand)]
enum BenchTarget {
    /// Create/get/list/watch throughput and latency, and memory per ConfigMap.
    Api(ApiArgs),
    /// Time from creating Deployments in the federation to their presence in every member.
    Propagation(crate::bench_propagation::PropagationArgs),
}

#[derive(clap::Args, Clone)]
struct ApiArgs {
    /// Benchmark a running server at this URL instead of starting one (needs --kubeconfig).
    #[arg(long, requires = "kubeconfig")]
    server_url: Option<String>,
    /// Kubeconfig for a running server (its current context's server is used unless --server-url is given).
    #[arg(long)]
    kubeconfig: Option<PathBuf>,
    /// PID of the running server, to report its memory (found automatically for the server the bench starts).
    #[arg(long)]
    server_pid: Option<u32>,
    /// ConfigMaps to create (and then get, list and watch).
    #[arg(long, default_value_t = 10_000)]
    objects: usize,
    /// Requests in flight for create, get and update.
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// Random GETs.
    #[arg(long, default_value_t = 20_000)]
    gets: usize,
    /// Full (unpaginated) lists of the namespace.
    #[arg(long, default_value_t = 50)]
    lists: usize,
    /// Full lists in flight.
    #[arg(long, default_value_t = 4)]
    list_concurrency: usize,
    /// Page size of the paginated walks.
    #[arg(long, default_value_t = 500)]
    page_size: usize,
    /// Paginated walks over the whole namespace (one after another).
    #[arg(long, default_value_t = 10)]
    paginated_walks: usize,
    /// Concurrent watchers on the namespace.
    #[arg(long, default_value_t = 100)]
    watchers: usize,
    /// Updates made while the watchers watch (each on a different ConfigMap).
    #[arg(long, default_value_t = 1_000)]
    updates: usize,
    /// Updates in flight during the watch fan-out.
    #[arg(long, default_value_t = 16)]
    update_concurrency: usize,
    /// Repeat the whole benchmark this many times (a fresh server each time) and report medians.
    #[arg(long, default_value_t = 1)]
    runs: usize,
    /// Use an HTTP/1.1 connection pool instead of one HTTP/2 connection.
    #[arg(long)]
    http1: bool,
    /// Write the results as markdown to this file (replacing the text between
    /// `<!-- bench-api:begin -->` and `<!-- bench-api:end -->` if the file has them).
    #[arg(long, visible_alias = "output")]
    markdown: Option<PathBuf>,
    /// Keep the benchmark namespace on an external server (it is deleted by default).
    #[arg(long)]
    keep: bool,
}

/// Runs `ubernetes bench ...`.
pub async fn run(args: BenchArgs) -> anyhow::Result<()> {
    match args.target {
        BenchTarget::Api(a) => api(a).await,
        BenchTarget::Propagation(a) => crate::bench_propagation::run(a).await,
    }
}

/// Bound on any single request, so that a stuck server ends the benchmark.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(120);
/// Marker lines delimiting the generated part of the markdown file.
const BEGIN: &str = "<!-- bench-api:begin -->";
const END: &str = "<!-- bench-api:end -->";

async fn api(a: ApiArgs) -> anyhow::Result<()> {
    if a.objects == 0 || a.concurrency == 0 || a.runs == 0 || a.list_concurrency == 0 || a.update_concurrency == 0 {
        bail!("--objects, --concurrency, --list-concurrency, --update-concurrency and --runs must be at least 1");
    }
    if a.page_size == 0 {
        bail!("--page-size must be at least 1");
    }
    let machine = Machine::detect();
    let command = std::env::args().collect::<Vec<_>>().join(" ");
    eprintln!("machine: {}", machine.summary());
    let mut runs = Vec::new();
    for i in 0..a.runs {
        eprintln!("== run {}/{}", i + 1, a.runs);
        let r = one_run(&a, i).await.with_context(|| format!("run {}", i + 1))?;
        print!("{}", render_text(&a, std::slice::from_ref(&r)));
        runs.push(r);
    }
    if runs.len() > 1 {
        println!("\n== medians over {} runs", runs.len());
        print!("{}", render_text(&a, &runs));
    }
    if let Some(path) = &a.markdown {
        let section = render_markdown(&a, &machine, &command, &runs);
        write_markdown(path, &section).with_context(|| format!("writing {}", path.display()))?;
        eprintln!("wrote {}", path.display());
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Target: a server the bench starts, or one given on the command line.

/// `ubernetes serve` started by the bench; killed when dropped.
struct ServerProcess {
    child: tokio::process::Child,
    dir: tempfile::TempDir,
    url: String,
}

impl ServerProcess {
    async fn start() -> anyhow::Result<Self> {
        let exe = std::env::current_exe().context("locating the ubernetes binary")?;
        let dir = tempfile::Builder::new()
            .prefix("ubernetes-bench-")
            .tempdir()
            .context("temporary data directory")?;
        let mut child = tokio::process::Command::new(exe)
            .arg("serve")
            .arg("--data-dir")
            .arg(dir.path())
            .args(["--secure-port", "0"])
            .env(
                "RUST_LOG",
                std::env::var("UBERNETES_BENCH_SERVER_LOG").unwrap_or_else(|_| "warn".into()),
            )
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .context("starting `ubernetes serve`")?;
        let stdout = child.stdout.take().context("server stdout")?;
        let mut lines = tokio::io::BufReader::new(stdout).lines();
        let line = tokio::time::timeout(Duration::from_secs(60), lines.next_line())
            .await
            .context("the server did not report its address within 60 s")?
            .context("reading the server's stdout")?
            .context("the server exited before serving")?;
        let url = line
            .split_whitespace()
            .find(|w| w.starts_with("https://"))
            .ok_or_else(|| anyhow!("unexpected first line from the server: {line:?}"))?
            .to_string();
        // Keep draining stdout so the server never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Ok(Self { child, dir, url })
    }

    fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    fn kubeconfig(&self) -> PathBuf {
        self.dir.path().join("admin.kubeconfig")
    }

    async fn stop(mut self) {
        let _ = self.child.kill().await;
    }
}

/// Builds a client from a kubeconfig: one HTTP/2 connection (default) or kube's HTTP/1.1 pool.
async fn make_client(kubeconfig: &Path, server_url: Option<&str>, http1: bool) -> anyhow::Result<kube::Client> {
    let kc =
        kube::config::Kubeconfig::read_from(kubeconfig).with_context(|| format!("reading {}", kubeconfig.display()))?;
    let mut cfg = kube::Config::from_custom_kubeconfig(kc, &Default::default())
        .await
        .context("loading the kubeconfig")?;
    if let Some(u) = server_url {
        cfg.cluster_url = u.parse().with_context(|| format!("invalid --server-url {u:?}"))?;
    }
    if http1 {
        return kube::Client::try_from(cfg).context("building the HTTP/1.1 client");
    }
    let tls = cfg
        .rustls_client_config()
        .context("TLS configuration from the kubeconfig")?;
    let mut tcp = hyper_util::client::legacy::connect::HttpConnector::new();
    tcp.enforce_http(false);
    tcp.set_nodelay(true);
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_only()
        .enable_http2()
        .wrap_connector(tcp);
    let hyper: hyper_util::client::legacy::Client<_, Body> =
        hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
            .http2_only(true)
            // Fixed, generous windows (as client-go's 4 MiB per stream): with hyper's adaptive
            // window the connection window starts at 64 KiB, and h2's guard against floods of
            // small DATA frames (budget = half the connection window) then closes the connection
            // when 100 watch streams are delivered faster than the watchers read them.
            .http2_initial_stream_window_size(4 << 20)
            .http2_initial_connection_window_size(16 << 20)
            .build(https);
    let svc = tower::ServiceBuilder::new()
        .layer(cfg.base_uri_layer())
        .option_layer(cfg.auth_layer().context("authentication from the kubeconfig")?)
        .map_err(tower::BoxError::from)
        .service(hyper);
    Ok(kube::Client::new(svc, cfg.default_namespace))
}

// ---------------------------------------------------------------------------
// Requests.

/// Sends one request and reads the whole response body.
async fn call(
    client: &kube::Client,
    method: Method,
    uri: &str,
    body: Option<Vec<u8>>,
) -> anyhow::Result<(StatusCode, Bytes)> {
    let mut req = Request::builder()
        .method(method)
        .uri(uri)
        .header(http::header::ACCEPT, "application/json");
    if body.is_some() {
        req = req.header(http::header::CONTENT_TYPE, "application/json");
    }
    let req = req.body(body.map(Body::from).unwrap_or_else(Body::empty))?;
    let fut = async {
        let resp = client.send(req).await?;
        let status = resp.status();
        let bytes = resp.into_body().collect_bytes().await?;
        anyhow::Ok((status, bytes))
    };
    tokio::time::timeout(REQUEST_TIMEOUT, fut)
        .await
        .map_err(|_| anyhow!("{uri}: no response within {REQUEST_TIMEOUT:?}"))?
}

/// Like [`call`], failing unless the status is `want`.
async fn expect(
    client: &kube::Client,
    method: Method,
    uri: &str,
    body: Option<Vec<u8>>,
    want: StatusCode,
) -> anyhow::Result<Bytes> {
    let m = method.clone();
    let (status, bytes) = call(client, method, uri, body).await?;
    if status != want {
        bail!(
            "{m} {uri}: {status} (wanted {want}): {}",
            String::from_utf8_lossy(&bytes[..bytes.len().min(400)])
        );
    }
    Ok(bytes)
}

#[derive(Deserialize)]
struct Meta {
    #[serde(rename = "resourceVersion", default)]
    resource_version: String,
    #[serde(rename = "continue", default)]
    continue_token: Option<String>,
}

#[derive(Deserialize)]
struct WithMeta {
    metadata: Meta,
}

#[derive(Deserialize)]
struct WatchLine {
    #[serde(rename = "type")]
    ty: String,
    object: WithMeta,
}

#[derive(Deserialize)]
struct ListCount {
    items: Vec<serde::de::IgnoredAny>,
}

fn cm_name(i: usize) -> String {
    format!("bench-{i:06}")
}

fn cm_body(i: usize, value: &str) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": cm_name(i), "labels": {"app": "ubernetes-bench"}},
        "data": {"index": i.to_string(), "value": value},
    }))
    .unwrap_or_default()
}

/// A small deterministic mixer (splitmix64) for picking "random" objects.
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

// ---------------------------------------------------------------------------
// Measurement.

/// Latency figures of one phase.
#[derive(Clone, Debug, Default)]
struct Stats {
    ops: usize,
    wall: Duration,
    p50: Duration,
    p99: Duration,
    max: Duration,
    bytes: u64,
}

impl Stats {
    fn new(mut lat: Vec<Duration>, wall: Duration, bytes: u64) -> Self {
        lat.sort_unstable();
        Stats {
            ops: lat.len(),
            wall,
            p50: percentile(&lat, 0.50),
            p99: percentile(&lat, 0.99),
            max: lat.last().copied().unwrap_or_default(),
            bytes,
        }
    }

    fn per_sec(&self) -> f64 {
        let s = self.wall.as_secs_f64();
        if s > 0.0 { self.ops as f64 / s } else { 0.0 }
    }
}

/// Nearest-rank percentile of sorted samples.
fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

/// Runs `op(0..n)` with `concurrency` worker tasks; returns each op's latency and output.
async fn run_ops<T, F, Fut>(n: usize, concurrency: usize, op: F) -> anyhow::Result<(Vec<(Duration, T)>, Duration)>
where
    T: Send + 'static,
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = anyhow::Result<T>> + Send,
{
    let next = Arc::new(AtomicUsize::new(0));
    let op = Arc::new(op);
    let start = Instant::now();
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..concurrency.clamp(1, n.max(1)) {
        let next = next.clone();
        let op = op.clone();
        set.spawn(async move {
            let mut out = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    return anyhow::Ok(out);
                }
                let t = Instant::now();
                let v = op(i).await?;
                out.push((t.elapsed(), v));
            }
        });
    }
    let mut all = Vec::with_capacity(n);
    while let Some(r) = set.join_next().await {
        match r.context("benchmark worker panicked")? {
            Ok(v) => all.extend(v),
            Err(e) => {
                set.abort_all();
                return Err(e);
            }
        }
    }
    Ok((all, start.elapsed()))
}

fn stats_of(results: Vec<(Duration, u64)>, wall: Duration) -> Stats {
    let bytes = results.iter().map(|(_, b)| *b).sum();
    Stats::new(results.into_iter().map(|(d, _)| d).collect(), wall, bytes)
}

/// Resident set of a process, from /proc/<pid>/status (KiB): (VmRSS, VmHWM).
fn rss_kib(pid: u32) -> Option<(u64, u64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|n| n.parse::<u64>().ok())
    };
    Some((field("VmRSS:")?, field("VmHWM:")?))
}

#[derive(Clone, Debug, Default)]
struct Memory {
    baseline_kib: Option<u64>,
    after_create_kib: Option<u64>,
    after_all_kib: Option<u64>,
    peak_kib: Option<u64>,
    store_bytes: Option<u64>,
}

#[derive(Clone, Debug, Default)]
struct WatchResult {
    open: Duration,
    updates: Stats,
    expected: usize,
    delivered: usize,
    unmatched: usize,
    before_ack: usize,
    events_per_sec: f64,
    from_ack: Stats,
    from_send: Stats,
}

#[derive(Clone, Debug, Default)]
struct RunResult {
    create: Stats,
    get: Stats,
    list: Stats,
    list_items: usize,
    page: Stats,
    walk: Stats,
    watch: WatchResult,
    memory: Memory,
}

async fn one_run(a: &ApiArgs, index: usize) -> anyhow::Result<RunResult> {
    let (server, kubeconfig, url) = match &a.kubeconfig {
        Some(k) => (None, k.clone(), a.server_url.clone()),
        None => {
            let s = ServerProcess::start().await?;
            eprintln!("started server pid {} at {}", s.pid().unwrap_or(0), s.url);
            let k = s.kubeconfig();
            let u = Some(s.url.clone());
            (Some(s), k, u)
        }
    };
    let pid = a.server_pid.or_else(|| server.as_ref().and_then(|s| s.pid()));
    let store = server.as_ref().map(|s| s.dir.path().join("store.redb"));
    let client = make_client(&kubeconfig, url.as_deref(), a.http1).await?;
    let ns = if server.is_some() {
        "bench".to_string()
    } else {
        format!("bench-{}-{}", std::process::id(), index)
    };
    let mut result = measure(a, &client, &ns, pid, store.as_deref()).await;
    if server.is_none() && !a.keep {
        let _ = call(&client, Method::DELETE, &format!("/api/v1/namespaces/{ns}"), None).await;
    }
    if let Some(mut s) = server {
        // A failed run may mean the server died: say so rather than only "connection closed".
        if let (Err(e), Ok(Some(status))) = (&result, s.child.try_wait()) {
            result = Err(anyhow!("{e:#}")).context(format!("the server (pid {}) exited: {status}", pid.unwrap_or(0)));
        }
        s.stop().await;
    }
    result
}

async fn measure(
    a: &ApiArgs,
    client: &kube::Client,
    ns: &str,
    pid: Option<u32>,
    store: Option<&Path>,
) -> anyhow::Result<RunResult> {
    let mut out = RunResult::default();
    let body =
        serde_json::to_vec(&serde_json::json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}))?;
    let (status, bytes) = call(client, Method::POST, "/api/v1/namespaces", Some(body)).await?;
    if status != StatusCode::CREATED && status != StatusCode::CONFLICT {
        bail!("creating namespace {ns}: {status}: {}", String::from_utf8_lossy(&bytes));
    }
    // Warm up the connection(s) and the handlers before the first timed phase.
    let warm = client.clone();
    run_ops(a.concurrency * 2, a.concurrency, move |_| {
        let c = warm.clone();
        async move {
            expect(&c, Method::GET, "/version", None, StatusCode::OK)
                .await
                .map(|_| 0u64)
        }
    })
    .await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss = || pid.and_then(rss_kib);
    out.memory.baseline_kib = rss().map(|r| r.0);

    // create
    eprintln!("create: {} ConfigMaps, {} in flight", a.objects, a.concurrency);
    let payload = "x".repeat(64);
    let (c, uri) = (client.clone(), format!("/api/v1/namespaces/{ns}/configmaps"));
    let (res, wall) = run_ops(a.objects, a.concurrency, move |i| {
        let (c, uri, body) = (c.clone(), uri.clone(), cm_body(i, &payload));
        async move {
            expect(&c, Method::POST, &uri, Some(body), StatusCode::CREATED)
                .await
                .map(|b| b.len() as u64)
        }
    })
    .await?;
    out.create = stats_of(res, wall);
    tokio::time::sleep(Duration::from_millis(500)).await;
    out.memory.after_create_kib = rss().map(|r| r.0);
    out.memory.store_bytes = store.and_then(|p| std::fs::metadata(p).ok()).map(|m| m.len());

    // get
    eprintln!("get: {} random GETs, {} in flight", a.gets, a.concurrency);
    let (c, base, n) = (
        client.clone(),
        format!("/api/v1/namespaces/{ns}/configmaps/"),
        a.objects,
    );
    let (res, wall) = run_ops(a.gets, a.concurrency, move |i| {
        let c = c.clone();
        let uri = format!("{base}{}", cm_name((mix(i as u64) % n as u64) as usize));
        async move {
            expect(&c, Method::GET, &uri, None, StatusCode::OK)
                .await
                .map(|b| b.len() as u64)
        }
    })
    .await?;
    out.get = stats_of(res, wall);

    // list (full)
    eprintln!("list: {} full lists, {} in flight", a.lists, a.list_concurrency);
    let list_uri = format!("/api/v1/namespaces/{ns}/configmaps");
    let first = expect(client, Method::GET, &list_uri, None, StatusCode::OK).await?;
    out.list_items = serde_json::from_slice::<ListCount>(&first)
        .context("decoding the list")?
        .items
        .len();
    if out.list_items < a.objects {
        bail!(
            "the list returned {} items, wanted at least {}",
            out.list_items,
            a.objects
        );
    }
    let (c, uri) = (client.clone(), list_uri.clone());
    let (res, wall) = run_ops(a.lists, a.list_concurrency, move |_| {
        let (c, uri) = (c.clone(), uri.clone());
        async move {
            expect(&c, Method::GET, &uri, None, StatusCode::OK)
                .await
                .map(|b| b.len() as u64)
        }
    })
    .await?;
    out.list = stats_of(res, wall);

    // list (paginated)
    eprintln!("list: {} paginated walks, limit={}", a.paginated_walks, a.page_size);
    let mut pages = Vec::new();
    let mut walks = Vec::new();
    let walls = Instant::now();
    for _ in 0..a.paginated_walks {
        let w = Instant::now();
        let mut token: Option<String> = None;
        let mut items = 0usize;
        loop {
            let mut uri = format!("{list_uri}?limit={}", a.page_size);
            if let Some(t) = &token {
                uri.push_str("&continue=");
                uri.push_str(&percent_encode(t));
            }
            let t = Instant::now();
            let b = expect(client, Method::GET, &uri, None, StatusCode::OK).await?;
            pages.push((t.elapsed(), b.len() as u64));
            #[derive(Deserialize)]
            struct Page {
                metadata: Meta,
                items: Vec<serde::de::IgnoredAny>,
            }
            let p: Page = serde_json::from_slice(&b).context("decoding a list page")?;
            items += p.items.len();
            token = p.metadata.continue_token.filter(|t| !t.is_empty());
            if token.is_none() {
                break;
            }
        }
        if items != out.list_items {
            bail!("a paginated walk saw {items} items, the full list {}", out.list_items);
        }
        walks.push((w.elapsed(), 0));
    }
    let pages_wall = walls.elapsed();
    out.page = stats_of(pages, pages_wall);
    out.walk = stats_of(walks, pages_wall);

    // watch fan-out
    out.watch = watch_fanout(a, client, ns).await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    if let Some((rss, hwm)) = rss() {
        out.memory.after_all_kib = Some(rss);
        out.memory.peak_kib = Some(hwm);
    }
    Ok(out)
}

fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// One watcher's received events: (resourceVersion, arrival).
struct Received {
    events: Vec<(u64, Instant)>,
    error: Option<String>,
}

async fn watch_fanout(a: &ApiArgs, client: &kube::Client, ns: &str) -> anyhow::Result<WatchResult> {
    let mut out = WatchResult::default();
    if a.watchers == 0 || a.updates == 0 {
        return Ok(out);
    }
    let updates = a.updates.min(a.objects);
    eprintln!(
        "watch: {} watchers, {} updates, {} in flight",
        a.watchers, updates, a.update_concurrency
    );
    let list_uri = format!("/api/v1/namespaces/{ns}/configmaps");
    let b = expect(
        client,
        Method::GET,
        &format!("{list_uri}?limit=1"),
        None,
        StatusCode::OK,
    )
    .await?;
    let rv = serde_json::from_slice::<WithMeta>(&b)
        .context("decoding the list")?
        .metadata
        .resource_version;
    let watch_uri = format!("{list_uri}?watch=true&resourceVersion={rv}&allowWatchBookmarks=false&timeoutSeconds=600");

    // Open every watch; a response's headers mean the server has registered it.
    let t = Instant::now();
    let opens = (0..a.watchers).map(|_| {
        let (c, uri) = (client.clone(), watch_uri.clone());
        async move {
            let req = Request::get(&uri)
                .header(http::header::ACCEPT, "application/json")
                .body(Body::empty())?;
            let resp = tokio::time::timeout(REQUEST_TIMEOUT, c.send(req))
                .await
                .map_err(|_| anyhow!("opening a watch timed out"))??;
            if resp.status() != StatusCode::OK {
                let s = resp.status();
                let b = resp.into_body().collect_bytes().await.unwrap_or_default();
                bail!("watch: {s}: {}", String::from_utf8_lossy(&b));
            }
            anyhow::Ok(resp.into_body())
        }
    });
    let bodies = futures::future::try_join_all(opens).await?;
    out.open = t.elapsed();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    let mut watchers = tokio::task::JoinSet::new();
    for body in bodies {
        watchers.spawn(read_watch(body, updates, deadline));
    }

    // Update `updates` distinct ConfigMaps; remember when each revision was sent and acknowledged.
    let payload = "y".repeat(64);
    let (c, base) = (client.clone(), format!("{list_uri}/"));
    let (res, wall) = run_ops(updates, a.update_concurrency, move |i| {
        let (c, uri, body) = (c.clone(), format!("{base}{}", cm_name(i)), cm_body(i, &payload));
        async move {
            let sent = Instant::now();
            let b = expect(&c, Method::PUT, &uri, Some(body), StatusCode::OK).await?;
            let acked = Instant::now();
            let rv: u64 = serde_json::from_slice::<WithMeta>(&b)
                .context("decoding an update's response")?
                .metadata
                .resource_version
                .parse()
                .context("resourceVersion of an update")?;
            anyhow::Ok((rv, sent, acked))
        }
    })
    .await?;
    let first_send = res.iter().map(|(_, (_, s, _))| *s).min().unwrap_or_else(Instant::now);
    let sent: HashMap<u64, (Instant, Instant)> = res.iter().map(|(_, (rv, s, a))| (*rv, (*s, *a))).collect();
    out.updates = Stats::new(res.iter().map(|(d, _)| *d).collect(), wall, 0);

    let mut from_ack = Vec::with_capacity(a.watchers * updates);
    let mut from_send = Vec::with_capacity(a.watchers * updates);
    let mut last = first_send;
    let mut errors = Vec::new();
    while let Some(r) = watchers.join_next().await {
        let r = r.context("watcher panicked")?;
        if let Some(e) = r.error {
            errors.push(e);
        }
        for (rv, at) in r.events {
            let Some((s, ack)) = sent.get(&rv) else {
                out.unmatched += 1;
                continue;
            };
            if at < *ack {
                out.before_ack += 1;
            }
            from_ack.push(at.saturating_duration_since(*ack));
            from_send.push(at.saturating_duration_since(*s));
            last = last.max(at);
        }
    }
    out.expected = a.watchers * updates;
    out.delivered = from_ack.len();
    let span = last.saturating_duration_since(first_send);
    out.events_per_sec = if span.as_secs_f64() > 0.0 {
        out.delivered as f64 / span.as_secs_f64()
    } else {
        0.0
    };
    out.from_ack = Stats::new(from_ack, span, 0);
    out.from_send = Stats::new(from_send, span, 0);
    if let Some(e) = errors.first() {
        eprintln!("warning: {} watcher(s) ended early; first: {e}", errors.len());
    }
    if out.delivered < out.expected {
        eprintln!(
            "warning: {} of {} watch events were not delivered",
            out.expected - out.delivered,
            out.expected
        );
    }
    Ok(out)
}

/// Reads one watch stream until it has `want` MODIFIED events, it ends, or the deadline.
async fn read_watch(mut body: Body, want: usize, deadline: tokio::time::Instant) -> Received {
    let mut events = Vec::with_capacity(want);
    let mut buf: Vec<u8> = Vec::new();
    let error = loop {
        if events.len() >= want {
            break None;
        }
        let frame = match tokio::time::timeout_at(deadline, body.frame()).await {
            Err(_) => break Some(format!("timed out after {} events", events.len())),
            Ok(None) => break Some(format!("stream ended after {} events", events.len())),
            Ok(Some(Err(e))) => {
                break Some(format!("stream error after {} events: {e}", events.len()));
            }
            Ok(Some(Ok(f))) => f,
        };
        let at = Instant::now();
        let Ok(data) = frame.into_data() else {
            continue;
        };
        buf.extend_from_slice(&data);
        let mut start = 0;
        let mut bad = None;
        while let Some(nl) = buf[start..].iter().position(|b| *b == b'\n') {
            let line = &buf[start..start + nl];
            start += nl + 1;
            match serde_json::from_slice::<WatchLine>(line) {
                Ok(ev) if ev.ty == "MODIFIED" => match ev.object.metadata.resource_version.parse::<u64>() {
                    Ok(rv) => events.push((rv, at)),
                    Err(_) => bad = Some("an event without a numeric resourceVersion".to_string()),
                },
                Ok(ev) => bad = Some(format!("unexpected {} event", ev.ty)),
                Err(e) => bad = Some(format!("undecodable event: {e}")),
            }
        }
        buf.drain(..start);
        if bad.is_some() {
            break bad;
        }
    };
    Received { events, error }
}

// ---------------------------------------------------------------------------
// Reporting.

struct Machine {
    cpus: usize,
    cpu_model: String,
    kernel: String,
    memory: String,
    load: String,
}

impl Machine {
    fn detect() -> Self {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu_model = cpuinfo
            .lines()
            .find_map(|l| {
                l.strip_prefix("model name")
                    .and_then(|r| r.split_once(':'))
                    .map(|(_, m)| m.trim().to_string())
            })
            .unwrap_or_else(|| "unknown".into());
        let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .map(|s| s.trim().to_string())
            .unwrap_or_default();
        let memory = std::fs::read_to_string("/proc/meminfo")
            .ok()
            .and_then(|m| {
                m.lines()
                    .find_map(|l| l.strip_prefix("MemTotal:"))
                    .and_then(|r| r.split_whitespace().next()?.parse::<u64>().ok())
            })
            .map(|kib| format!("{:.1} GiB", kib as f64 / 1024.0 / 1024.0))
            .unwrap_or_else(|| "unknown".into());
        let load = std::fs::read_to_string("/proc/loadavg")
            .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
            .unwrap_or_default();
        Machine {
            load,
            cpus: std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
            cpu_model,
            kernel,
            memory,
        }
    }

    fn summary(&self) -> String {
        format!(
            "{} CPUs ({}), {} RAM, Linux {}, load average {} at start",
            self.cpus, self.cpu_model, self.memory, self.kernel, self.load
        )
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    let m = v.len() / 2;
    if v.len() % 2 == 1 {
        v[m]
    } else {
        (v[m - 1] + v[m]) / 2.0
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// One line of the latency table: what, how many, rate, p50, p99, max (ms).
struct Row {
    what: String,
    ops: String,
    rate: f64,
    unit: &'static str,
    p50: f64,
    p99: f64,
    max: f64,
}

fn rows(a: &ApiArgs, runs: &[RunResult]) -> Vec<Row> {
    let med = |f: &dyn Fn(&RunResult) -> f64| median(runs.iter().map(f).collect());
    let row = |what: String, unit: &'static str, ops: String, s: &dyn Fn(&RunResult) -> &Stats| Row {
        what,
        ops,
        rate: med(&|r| s(r).per_sec()),
        unit,
        p50: med(&|r| ms(s(r).p50)),
        p99: med(&|r| ms(s(r).p99)),
        max: med(&|r| ms(s(r).max)),
    };
    let first = &runs[0];
    let watchers = a.watchers;
    let mut v = vec![
        row(
            format!("create ConfigMap ({} in flight)", a.concurrency),
            "req/s",
            first.create.ops.to_string(),
            &|r| &r.create,
        ),
        row(
            format!("get ConfigMap ({} in flight)", a.concurrency),
            "req/s",
            first.get.ops.to_string(),
            &|r| &r.get,
        ),
        row(
            format!(
                "list {} ConfigMaps, no limit ({} in flight)",
                first.list_items, a.list_concurrency
            ),
            "lists/s",
            first.list.ops.to_string(),
            &|r| &r.list,
        ),
        row(
            format!("list page, limit={}", a.page_size),
            "pages/s",
            first.page.ops.to_string(),
            &|r| &r.page,
        ),
        row(
            format!("list {} ConfigMaps by pages of {}", first.list_items, a.page_size),
            "lists/s",
            first.walk.ops.to_string(),
            &|r| &r.walk,
        ),
    ];
    if first.watch.expected > 0 {
        v.push(row(
            format!(
                "update ConfigMap, {watchers} watchers ({} in flight)",
                a.update_concurrency
            ),
            "req/s",
            first.watch.updates.ops.to_string(),
            &|r| &r.watch.updates,
        ));
        v.push(Row {
            what: format!("watch event delivery to {watchers} watchers, from the update's ack"),
            ops: format!("{}/{}", first.watch.delivered, first.watch.expected),
            rate: med(&|r| r.watch.events_per_sec),
            unit: "events/s",
            p50: med(&|r| ms(r.watch.from_ack.p50)),
            p99: med(&|r| ms(r.watch.from_ack.p99)),
            max: med(&|r| ms(r.watch.from_ack.max)),
        });
        v.push(Row {
            what: format!("watch event delivery to {watchers} watchers, from the update's send"),
            ops: format!("{}/{}", first.watch.delivered, first.watch.expected),
            rate: med(&|r| r.watch.events_per_sec),
            unit: "events/s",
            p50: med(&|r| ms(r.watch.from_send.p50)),
            p99: med(&|r| ms(r.watch.from_send.p99)),
            max: med(&|r| ms(r.watch.from_send.max)),
        });
    }
    v
}

/// Memory lines: (label, value).
fn memory_lines(a: &ApiArgs, runs: &[RunResult]) -> Vec<(String, String)> {
    let mib = |kib: f64| format!("{:.1} MiB", kib / 1024.0);
    let opt = |f: &dyn Fn(&RunResult) -> Option<u64>| -> Option<f64> {
        let v: Vec<f64> = runs.iter().filter_map(|r| f(r).map(|x| x as f64)).collect();
        (!v.is_empty()).then(|| median(v))
    };
    let mut out = Vec::new();
    let Some(base) = opt(&|r| r.memory.baseline_kib) else {
        out.push((
            "server memory".into(),
            "not measured (give --server-pid for an external server)".into(),
        ));
        return out;
    };
    out.push(("server RSS at start (empty namespace)".into(), mib(base)));
    if let Some(after) = opt(&|r| r.memory.after_create_kib) {
        out.push((
            format!("server RSS after creating {} ConfigMaps", a.objects),
            mib(after),
        ));
        let per10k = median(
            runs.iter()
                .filter_map(|r| Some(r.memory.after_create_kib? as f64 - r.memory.baseline_kib? as f64))
                .collect(),
        ) * 10_000.0
            / a.objects as f64;
        out.push(("RSS growth per 10,000 ConfigMaps".into(), mib(per10k)));
        out.push((
            "RSS growth per ConfigMap".into(),
            format!("{:.2} KiB", per10k / 10_000.0),
        ));
    }
    if let Some(v) = opt(&|r| r.memory.after_all_kib) {
        out.push(("server RSS after all phases".into(), mib(v)));
    }
    if let Some(v) = opt(&|r| r.memory.peak_kib) {
        out.push(("server peak RSS (VmHWM)".into(), mib(v)));
    }
    if let Some(v) = opt(&|r| r.memory.store_bytes) {
        out.push((
            format!("store file after creating {} ConfigMaps", a.objects),
            format!("{:.1} MiB", v / 1024.0 / 1024.0),
        ));
    }
    out
}

fn extra_lines(runs: &[RunResult]) -> Vec<(String, String)> {
    let med = |f: &dyn Fn(&RunResult) -> f64| median(runs.iter().map(f).collect());
    let first = &runs[0];
    let mut v = vec![
        (
            "full list response size".to_string(),
            format!(
                "{:.2} MiB",
                med(&|r| r.list.bytes as f64 / r.list.ops.max(1) as f64) / 1024.0 / 1024.0
            ),
        ),
        (
            "list throughput in objects/s".to_string(),
            format!("{:.0}", med(&|r| r.list.per_sec() * r.list_items as f64)),
        ),
        (
            "ConfigMap size as served".to_string(),
            format!("{:.0} B", med(&|r| r.get.bytes as f64 / r.get.ops.max(1) as f64)),
        ),
    ];
    if first.watch.expected > 0 {
        v.push((
            "time to open all watches".into(),
            format!("{:.1} ms", med(&|r| ms(r.watch.open))),
        ));
        v.push((
            "watch events received before the update's ack".into(),
            format!(
                "{:.1} %",
                med(&|r| 100.0 * r.watch.before_ack as f64 / r.watch.delivered.max(1) as f64)
            ),
        ));
        if runs
            .iter()
            .any(|r| r.watch.unmatched > 0 || r.watch.delivered < r.watch.expected)
        {
            v.push((
                "watch events missing / unmatched (per run)".into(),
                runs.iter()
                    .map(|r| {
                        format!(
                            "{}/{}",
                            r.watch.expected - r.watch.delivered.min(r.watch.expected),
                            r.watch.unmatched
                        )
                    })
                    .collect::<Vec<_>>()
                    .join(", "),
            ));
        }
    }
    v
}

fn render_text(a: &ApiArgs, runs: &[RunResult]) -> String {
    let mut s = String::new();
    s.push_str(&format!(
        "{:<62} {:>13} {:>18} {:>9} {:>9} {:>9}\n",
        "operation", "ops", "throughput", "p50 ms", "p99 ms", "max ms"
    ));
    for r in rows(a, runs) {
        s.push_str(&format!(
            "{:<62} {:>13} {:>18} {:>9.2} {:>9.2} {:>9.2}\n",
            r.what,
            r.ops,
            format!("{:.1} {}", r.rate, r.unit),
            r.p50,
            r.p99,
            r.max
        ));
    }
    for (k, v) in extra_lines(runs).into_iter().chain(memory_lines(a, runs)) {
        s.push_str(&format!("{k:<62} {v}\n"));
    }
    s
}

fn render_markdown(a: &ApiArgs, machine: &Machine, command: &str, runs: &[RunResult]) -> String {
    let mut s = String::new();
    s.push_str(BEGIN);
    s.push('\n');
    s.push_str("### Setup\n\n");
    s.push_str(&format!("- Command: `{command}`\n"));
    s.push_str(&format!("- Machine: {}\n", machine.summary()));
    s.push_str(&format!(
        "- Server: {}; client: `kube::Client` over {}, in the same machine (client and server share the CPUs)\n",
        if a.kubeconfig.is_some() {
            "an external server".to_string()
        } else {
            "`ubernetes serve` started by the bench as a separate process, fresh data directory, HTTPS on 127.0.0.1"
                .to_string()
        },
        if a.http1 {
            "an HTTP/1.1 connection pool"
        } else {
            "one HTTP/2 connection (as client-go)"
        }
    ));
    s.push_str(&format!(
        "- Workload: {} ConfigMaps of ~{} bytes of data; {} random GETs; {} full lists; {} paginated walks; {} watchers × {} updates\n",
        a.objects,
        64 + 6,
        a.gets,
        a.lists,
        a.paginated_walks,
        a.watchers,
        a.updates.min(a.objects)
    ));
    s.push_str(&format!(
        "- Figures: {}\n\n",
        if runs.len() > 1 {
            format!("medians over {} runs (each with a fresh server)", runs.len())
        } else {
            "one run".into()
        }
    ));
    s.push_str("### Throughput and latency\n\n");
    s.push_str("| operation | ops | throughput | p50 | p99 | max |\n|---|---:|---:|---:|---:|---:|\n");
    for r in rows(a, runs) {
        s.push_str(&format!(
            "| {} | {} | {:.1} {} | {:.2} ms | {:.2} ms | {:.2} ms |\n",
            r.what, r.ops, r.rate, r.unit, r.p50, r.p99, r.max
        ));
    }
    s.push_str("\n### Sizes and memory\n\n| figure | value |\n|---|---:|\n");
    for (k, v) in extra_lines(runs).into_iter().chain(memory_lines(a, runs)) {
        s.push_str(&format!("| {k} | {v} |\n"));
    }
    if runs.len() > 1 {
        s.push_str("\n### Per run\n\n| run | create req/s | get req/s | list lists/s | watch events/s | RSS per 10k ConfigMaps |\n|---:|---:|---:|---:|---:|---:|\n");
        for (i, r) in runs.iter().enumerate() {
            let mem = match (r.memory.baseline_kib, r.memory.after_create_kib) {
                (Some(b), Some(c)) => {
                    format!(
                        "{:.1} MiB",
                        (c as f64 - b as f64) * 10_000.0 / a.objects as f64 / 1024.0
                    )
                }
                _ => "-".into(),
            };
            s.push_str(&format!(
                "| {} | {:.0} | {:.0} | {:.1} | {:.0} | {} |\n",
                i + 1,
                r.create.per_sec(),
                r.get.per_sec(),
                r.list.per_sec(),
                r.watch.events_per_sec,
                mem
            ));
        }
    }
    s.push_str(END);
    s.push('\n');
    s
}

/// Writes the section into `path`: between the markers if it has them, else as a new file.
fn write_markdown(path: &Path, section: &str) -> anyhow::Result<()> {
    let existing = std::fs::read_to_string(path).ok();
    let text = match existing
        .as_deref()
        .and_then(|t| Some((t, t.find(BEGIN)?, t.find(END)?)))
    {
        Some((t, b, e)) if b < e => {
            let after = &t[e + END.len()..];
            format!("{}{}{}", &t[..b], section, after.strip_prefix('\n').unwrap_or(after))
        }
        _ => format!("# API server performance\n\n{section}"),
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(path, text)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentile_is_nearest_rank() {
        let v: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        assert_eq!(percentile(&v, 0.5), Duration::from_millis(50));
        assert_eq!(percentile(&v, 0.99), Duration::from_millis(99));
        assert_eq!(percentile(&[], 0.5), Duration::ZERO);
    }

    #[test]
    fn median_of_even_and_odd() {
        assert_eq!(median(vec![3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(vec![4.0, 1.0, 2.0, 3.0]), 2.5);
    }

    #[test]
    fn markdown_replaces_between_markers() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("perf.md");
        std::fs::write(&p, format!("intro\n{BEGIN}\nold\n{END}\noutro\n")).expect("write");
        write_markdown(&p, &format!("{BEGIN}\nnew\n{END}\n")).expect("replace");
        assert_eq!(
            std::fs::read_to_string(&p).expect("read"),
            format!("intro\n{BEGIN}\nnew\n{END}\noutro\n")
        );
    }

    #[test]
    fn continue_tokens_are_percent_encoded() {
        assert_eq!(percent_encode("a+b/c="), "a%2Bb%2Fc%3D");
    }
}
