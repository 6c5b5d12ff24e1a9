//! Acceptance point 2: client libraries' watch machinery stays in sync with the
//! server through 1,000 changes, including a server restart (kill -9, same port).
//!
//! - kube-rs: `reflector` over `watcher` (both the list+watch and the streaming-list
//!   initial strategies), run on a client other than the one making the changes.
//! - Python: the official `kubernetes` package, `watch.Watch().stream` driven by
//!   tests/python/watch_sync.py (needs `python3 -m pip install kubernetes`; the
//!   interpreter is `$PYTHON` or `python3`).

mod common;

use common::Server;
use futures::StreamExt;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use kube::api::{Api, DeleteParams, ListParams, ObjectMeta, PostParams};
use kube::runtime::reflector::{self, Store};
use kube::runtime::{WatchStreamExt, watcher};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Number of changes each sync test makes (half before the restart, half after).
const CHANGES: usize = 1000;
/// Concurrent writers; each owns its own names, so per-object order is known.
const WRITERS: usize = 4;
/// How long a client may take to catch up after the last change.
const CONVERGE: Duration = Duration::from_secs(60);

/// One acknowledged change of one object, in the order they happened.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Change {
    /// Created or updated; the resourceVersion from the write's response.
    Apply(String),
    /// Deleted.
    Delete,
}

/// What the writers did: per object name, its changes in order.
#[derive(Default)]
struct ChangeLog {
    per_name: BTreeMap<String, Vec<Change>>,
    total: usize,
    creates: usize,
    updates: usize,
    deletes: usize,
}

impl ChangeLog {
    /// name → resourceVersion of every object that should exist at the end.
    fn final_rvs(&self) -> BTreeMap<String, String> {
        self.per_name
            .iter()
            .filter_map(|(n, ch)| match ch.last() {
                Some(Change::Apply(rv)) => Some((n.clone(), rv.clone())),
                _ => None,
            })
            .collect()
    }
}

type State = BTreeMap<String, (String, BTreeMap<String, String>)>;

fn state_of<'a>(items: impl IntoIterator<Item = &'a ConfigMap>) -> State {
    items
        .into_iter()
        .map(|cm| {
            let name = cm.metadata.name.clone().unwrap_or_default();
            let rv = cm.metadata.resource_version.clone().unwrap_or_default();
            (name, (rv, cm.data.clone().unwrap_or_default()))
        })
        .collect()
}

async fn ensure_namespace(client: &kube::Client, ns: &str) {
    let api: Api<Namespace> = Api::all(client.clone());
    let obj = Namespace {
        metadata: ObjectMeta {
            name: Some(ns.into()),
            ..Default::default()
        },
        ..Default::default()
    };
    match api.create(&PostParams::default(), &obj).await {
        Ok(_) => {}
        Err(kube::Error::Api(s)) if s.code == 409 => {}
        Err(e) => panic!("create namespace {ns}: {e}"),
    }
}

/// Errors worth retrying: the connection broke (server restarting) or 5xx.
fn transient(e: &kube::Error) -> bool {
    match e {
        kube::Error::Api(s) => s.code >= 500,
        _ => true,
    }
}

/// A fresh server state of the namespace, retrying while the server restarts.
async fn server_state(api: &Api<ConfigMap>) -> State {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match api.list(&ListParams::default()).await {
            Ok(l) => return state_of(&l.items),
            Err(e) if transient(&e) && Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(200)).await
            }
            Err(e) => panic!("list configmaps: {e}"),
        }
    }
}

fn cm(name: &str, rv: Option<&str>, data: &BTreeMap<String, String>) -> ConfigMap {
    ConfigMap {
        metadata: ObjectMeta {
            name: Some(name.into()),
            resource_version: rv.map(Into::into),
            ..Default::default()
        },
        data: Some(data.clone()),
        ..Default::default()
    }
}

/// Creates, tolerating a retry whose first attempt went through (then 409 + same data).
async fn create(api: &Api<ConfigMap>, name: &str, data: &BTreeMap<String, String>) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut retried = false;
    loop {
        match api.create(&PostParams::default(), &cm(name, None, data)).await {
            Ok(o) => {
                return o
                    .metadata
                    .resource_version
                    .expect("create response has a resourceVersion");
            }
            Err(kube::Error::Api(s)) if s.code == 409 && retried => {
                let got = api.get(name).await.expect("get after ambiguous create");
                assert_eq!(
                    got.data.as_ref(),
                    Some(data),
                    "{name}: 409 on retry but another object is there"
                );
                return got.metadata.resource_version.expect("rv");
            }
            Err(e) if transient(&e) && Instant::now() < deadline => {
                retried = true;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => panic!("create {name}: {e}"),
        }
    }
}

/// Replaces with a resourceVersion precondition, tolerating an ambiguous first attempt.
async fn update(api: &Api<ConfigMap>, name: &str, rv: &str, data: &BTreeMap<String, String>) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut retried = false;
    loop {
        match api
            .replace(name, &PostParams::default(), &cm(name, Some(rv), data))
            .await
        {
            Ok(o) => {
                let new = o
                    .metadata
                    .resource_version
                    .expect("update response has a resourceVersion");
                assert_ne!(new, rv, "{name}: an update must change the resourceVersion");
                return new;
            }
            Err(kube::Error::Api(s)) if s.code == 409 && retried => {
                let got = api.get(name).await.expect("get after ambiguous update");
                assert_eq!(
                    got.data.as_ref(),
                    Some(data),
                    "{name}: 409 on retry but the update is not there"
                );
                return got.metadata.resource_version.expect("rv");
            }
            Err(e) if transient(&e) && Instant::now() < deadline => {
                retried = true;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => panic!("update {name} at rv {rv}: {e}"),
        }
    }
}

async fn delete(api: &Api<ConfigMap>, name: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut retried = false;
    loop {
        match api.delete(name, &DeleteParams::default()).await {
            Ok(_) => return,
            Err(kube::Error::Api(s)) if s.code == 404 && retried => return,
            Err(e) if transient(&e) && Instant::now() < deadline => {
                retried = true;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => panic!("delete {name}: {e}"),
        }
    }
}

/// One writer's private state: its live objects and what it did.
struct Writer {
    id: usize,
    rng: u64,
    next_name: usize,
    live: Vec<(String, String)>,
    log: BTreeMap<String, Vec<Change>>,
    creates: usize,
    updates: usize,
    deletes: usize,
}

impl Writer {
    fn new(id: usize) -> Self {
        Writer {
            id,
            rng: 0x9E37_79B9_7F4A_7C15 ^ (id as u64 + 1),
            next_name: 0,
            live: Vec::new(),
            log: BTreeMap::new(),
            creates: 0,
            updates: 0,
            deletes: 0,
        }
    }

    fn next(&mut self) -> u64 {
        // xorshift64*: deterministic, no extra dependency.
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        self.rng.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11
    }

    /// Makes `n` changes: about 40% creates, 40% updates, 20% deletes. Each change
    /// holds `gate` for reading (so the driver can pause all writers) and counts
    /// itself in `done` once acknowledged.
    async fn run(
        mut self,
        api: Api<ConfigMap>,
        n: usize,
        gate: Arc<tokio::sync::RwLock<()>>,
        done: Arc<AtomicUsize>,
    ) -> Self {
        for i in 0..n {
            let _pass = gate.read().await;
            let r = self.next();
            let data = BTreeMap::from([
                ("writer".to_string(), self.id.to_string()),
                ("step".to_string(), i.to_string()),
                ("noise".to_string(), format!("{r:x}")),
            ]);
            let dice = r % 10;
            if self.live.len() < 3 || dice < 4 {
                let name = format!("w{}-{}", self.id, self.next_name);
                self.next_name += 1;
                let rv = create(&api, &name, &data).await;
                self.log
                    .entry(name.clone())
                    .or_default()
                    .push(Change::Apply(rv.clone()));
                self.live.push((name, rv));
                self.creates += 1;
            } else if dice < 8 {
                let idx = (self.next() as usize) % self.live.len();
                let (name, rv) = self.live[idx].clone();
                let new = update(&api, &name, &rv, &data).await;
                self.log
                    .entry(name.clone())
                    .or_default()
                    .push(Change::Apply(new.clone()));
                self.live[idx].1 = new;
                self.updates += 1;
            } else {
                let idx = (self.next() as usize) % self.live.len();
                let (name, _) = self.live.swap_remove(idx);
                delete(&api, &name).await;
                self.log.entry(name).or_default().push(Change::Delete);
                self.deletes += 1;
            }
            done.fetch_add(1, Ordering::SeqCst);
        }
        self
    }
}

/// Namespace with unrelated activity, so that the watched namespace's last event is
/// older than the server's revision when it dies.
const ELSEWHERE: &str = "elsewhere";

/// Makes `CHANGES` changes in `ns` through `client` with `WRITERS` concurrent writers
/// and restarts the server (kill -9, same port) half way, while writes are in flight:
/// after half of the changes the writers pause, a few objects are written in another
/// namespace, then the writers resume and the server is killed right away. Writers
/// retry through the outage (see `create`/`update`/`delete`).
async fn drive_changes(server: &mut Server, client: &kube::Client, ns: &str) -> (ChangeLog, Duration) {
    ensure_namespace(client, ELSEWHERE).await;
    let elsewhere: Api<ConfigMap> = Api::namespaced(client.clone(), ELSEWHERE);
    let started = Instant::now();
    let gate = Arc::new(tokio::sync::RwLock::new(()));
    let done = Arc::new(AtomicUsize::new(0));
    let per = CHANGES / WRITERS;
    let tasks: Vec<_> = (0..WRITERS)
        .map(|i| {
            let api: Api<ConfigMap> = Api::namespaced(client.clone(), ns);
            let count = if i == 0 { CHANGES - per * (WRITERS - 1) } else { per };
            tokio::spawn(Writer::new(i).run(api, count, gate.clone(), done.clone()))
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(60);
    while done.load(Ordering::SeqCst) < CHANGES / 2 {
        assert!(
            Instant::now() < deadline,
            "writers too slow: {} changes in 60s",
            done.load(Ordering::SeqCst)
        );
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let pause = gate.write().await;
    for i in 0..5 {
        create(
            &elsewhere,
            &format!("other-{i}"),
            &BTreeMap::from([("i".to_string(), i.to_string())]),
        )
        .await;
    }
    drop(pause);
    tokio::time::sleep(Duration::from_millis(2)).await;
    tokio::task::block_in_place(|| server.restart());
    let mut log = ChangeLog::default();
    for t in tasks {
        let w = t.await.expect("writer task");
        log.creates += w.creates;
        log.updates += w.updates;
        log.deletes += w.deletes;
        log.per_name.extend(w.log);
    }
    log.total = log.creates + log.updates + log.deletes;
    assert_eq!(log.total, CHANGES);
    (log, started.elapsed())
}

/// The server's final state agrees with what the writers were told (no lost or
/// phantom writes across the restart).
fn assert_server_matches_log(server_state: &State, log: &ChangeLog) {
    let from_server: BTreeMap<String, String> = server_state
        .iter()
        .map(|(n, (rv, _))| (n.clone(), rv.clone()))
        .collect();
    assert_eq!(
        from_server,
        log.final_rvs(),
        "server's final list differs from the acknowledged writes"
    );
}

/// What one reflector's watcher delivered.
#[derive(Default, Debug)]
struct Seen {
    /// Per object name, the events in order (InitApply counts as Apply).
    per_name: BTreeMap<String, Vec<Change>>,
    inits: usize,
    init_done: usize,
    applies: usize,
    deletes: usize,
    errors: Vec<String>,
}

struct Reflector {
    label: &'static str,
    store: Store<ConfigMap>,
    seen: Arc<Mutex<Seen>>,
    task: tokio::task::JoinHandle<()>,
}

fn spawn_reflector(label: &'static str, client: kube::Client, ns: &str, cfg: watcher::Config) -> Reflector {
    let api: Api<ConfigMap> = Api::namespaced(client, ns);
    let (store, writer) = reflector::store();
    let seen = Arc::new(Mutex::new(Seen::default()));
    let s = seen.clone();
    let task = tokio::spawn(async move {
        let mut stream = reflector::reflector(writer, watcher(api, cfg))
            .default_backoff()
            .boxed();
        while let Some(ev) = stream.next().await {
            let mut s = lock(&s);
            match ev {
                Ok(watcher::Event::Init) => s.inits += 1,
                Ok(watcher::Event::InitDone) => s.init_done += 1,
                Ok(watcher::Event::Apply(o) | watcher::Event::InitApply(o)) => {
                    s.applies += 1;
                    let rv = o.metadata.resource_version.clone().unwrap_or_default();
                    s.per_name
                        .entry(o.metadata.name.clone().unwrap_or_default())
                        .or_default()
                        .push(Change::Apply(rv));
                }
                Ok(watcher::Event::Delete(o)) => {
                    s.deletes += 1;
                    s.per_name
                        .entry(o.metadata.name.clone().unwrap_or_default())
                        .or_default()
                        .push(Change::Delete);
                }
                Err(e) => s.errors.push(e.to_string()),
            }
        }
    });
    Reflector {
        label,
        store,
        seen,
        task,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kube_rs_reflectors_stay_in_sync_through_1000_changes_and_a_restart() {
    let mut server = Server::start();
    let writer_client = server.client().await;
    let ns = "reflector-sync";
    ensure_namespace(&writer_client, ns).await;
    let api: Api<ConfigMap> = Api::namespaced(writer_client.clone(), ns);

    // A client of its own for the watchers, as a controller would have.
    let watch_client = server.client().await;
    let reflectors = [
        spawn_reflector("list+watch", watch_client.clone(), ns, watcher::Config::default()),
        spawn_reflector(
            "streaming-list",
            watch_client.clone(),
            ns,
            watcher::Config::default().streaming_lists(),
        ),
    ];
    for r in &reflectors {
        tokio::time::timeout(Duration::from_secs(20), r.store.wait_until_ready())
            .await
            .unwrap_or_else(|_| panic!("{} reflector never became ready: {:?}", r.label, lock(&r.seen)))
            .expect("reflector writer alive");
    }

    let (log, write_time) = drive_changes(&mut server, &writer_client, ns).await;
    let expected = server_state(&api).await;
    assert_server_matches_log(&expected, &log);

    // Each reflector must converge on exactly the server's state, and its watcher
    // must have delivered every change of every object, in order.
    // 1. Each reflector's store converges on exactly the server's state.
    let converge_started = Instant::now();
    let deadline = converge_started + CONVERGE;
    let mut converge_times = Vec::new();
    for r in &reflectors {
        loop {
            let store_state = state_of(r.store.state().iter().map(|a| &**a));
            if store_state == expected {
                converge_times.push((r.label, converge_started.elapsed()));
                break;
            }
            if Instant::now() > deadline {
                let seen = lock(&r.seen);
                let missing: Vec<_> = expected
                    .keys()
                    .filter(|k| !store_state.contains_key(*k))
                    .take(10)
                    .collect();
                let extra: Vec<_> = store_state
                    .keys()
                    .filter(|k| !expected.contains_key(*k))
                    .take(10)
                    .collect();
                let stale: Vec<_> = expected
                    .iter()
                    .filter(|(k, v)| store_state.get(*k).is_some_and(|s| s != *v))
                    .map(|(k, v)| format!("{k}: store {:?} server {:?}", store_state[k].0, v.0))
                    .take(10)
                    .collect();
                panic!(
                    "{} reflector not in sync {CONVERGE:?} after the last change: store {} objects, \
                     server {}; missing {missing:?}; extra {extra:?}; stale {stale:?}; \
                     inits {} initDone {} applies {} deletes {} errors {:?}",
                    r.label,
                    store_state.len(),
                    expected.len(),
                    seen.inits,
                    seen.init_done,
                    seen.applies,
                    seen.deletes,
                    seen.errors
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    // 2. The server keeps its watch window across restarts, so each watcher resumed
    // from its last resourceVersion instead of relisting, and was told every change
    // of every object exactly once and in order.
    for r in &reflectors {
        let settle = Instant::now() + Duration::from_secs(5);
        while lock(&r.seen).per_name != log.per_name && Instant::now() < settle {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let seen = lock(&r.seen);
        assert_eq!(
            seen.inits, 1,
            "{}: the watcher had to relist after the restart (errors: {:?})",
            r.label, seen.errors
        );
        let wrong_history: Vec<_> = log
            .per_name
            .iter()
            .filter(|(k, v)| seen.per_name.get(*k) != Some(*v))
            .map(|(k, v)| format!("{k}: made {v:?}, watched {:?}", seen.per_name.get(k)))
            .take(10)
            .collect();
        assert!(
            wrong_history.is_empty(),
            "{}: watch events differ from the changes made (first 10): {wrong_history:#?}",
            r.label
        );
        assert_eq!(seen.applies, log.creates + log.updates, "{}: apply events", r.label);
        assert_eq!(seen.deletes, log.deletes, "{}: delete events", r.label);
        eprintln!(
            "[clients] kube-rs {}: {} changes ({} creates, {} updates, {} deletes) in {write_time:?} \
             incl. restart; {} objects at the end; watcher saw {} applies {} deletes, {} errors \
             recovered {:?}; converged {:?} after the last change",
            r.label,
            log.total,
            log.creates,
            log.updates,
            log.deletes,
            expected.len(),
            seen.applies,
            seen.deletes,
            seen.errors.len(),
            seen.errors,
            converge_times
                .iter()
                .find(|(l, _)| *l == r.label)
                .map(|(_, d)| *d)
                .unwrap_or_default(),
        );
    }
    for r in &reflectors {
        r.task.abort();
    }
}

/// Locks, ignoring poisoning (a failed assertion elsewhere must not hide the report).
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn python() -> String {
    std::env::var("PYTHON").unwrap_or_else(|_| "python3".to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn python_watch_stays_in_sync_through_1000_changes_and_a_restart() {
    let mut server = Server::start();
    let client = server.client().await;
    let ns = "python-sync";
    ensure_namespace(&client, ns).await;
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), ns);

    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/python/watch_sync.py");
    let mut child = Command::new(python())
        .arg(script)
        .arg(&server.kubeconfig)
        .arg(ns)
        .arg(CONVERGE.as_secs().to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap_or_else(|e| panic!("run {} (set PYTHON to override): {e}", python()));
    // Read the script's stdout on a thread; lines arrive on a channel.
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    let stdout = child.stdout.take().expect("stdout");
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let first = tokio::task::block_in_place(|| rx.recv_timeout(Duration::from_secs(60)));
    let first = match first {
        Ok(l) => l,
        Err(_) => {
            let _ = child.kill();
            panic!("watch_sync.py printed nothing (status {:?})", child.wait().ok());
        }
    };
    assert!(
        first.starts_with("READY "),
        "watch_sync.py did not start: {first:?}. The Python client is required: `{} -m pip install kubernetes`",
        python()
    );

    let (log, write_time) = drive_changes(&mut server, &client, ns).await;
    let expected = server_state(&api).await;
    assert_server_matches_log(&expected, &log);

    let want: serde_json::Map<String, serde_json::Value> = expected
        .iter()
        .map(|(n, (rv, data))| (n.clone(), serde_json::json!({"rv": rv, "data": data})))
        .collect();
    {
        let mut stdin = child.stdin.take().expect("stdin");
        writeln!(stdin, "{}", serde_json::Value::Object(want)).expect("send expected state to the script");
    }
    let deadline = Instant::now() + CONVERGE + Duration::from_secs(30);
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait for script") {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("watch_sync.py did not finish");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let lines: Vec<String> = rx.try_iter().collect();
    let summary_line = lines.last().cloned().unwrap_or_default();
    let summary: serde_json::Value = serde_json::from_str(&summary_line)
        .unwrap_or_else(|_| panic!("no JSON summary from watch_sync.py (status {status}); output: {lines:?}"));
    eprintln!(
        "[clients] python: {} changes in {write_time:?} incl. restart; summary {summary}",
        log.total
    );
    assert!(
        status.success(),
        "the Python watcher's view never matched the server: {summary:#}"
    );
    assert_eq!(summary["ok"], true);
    assert_eq!(summary["objects"], expected.len());
    assert_eq!(
        summary["rv_regressions"],
        serde_json::json!([]),
        "resourceVersions went backwards in the watch"
    );
    // It resumed from its last resourceVersion after the restart rather than relisting,
    // so it saw every change exactly once.
    assert_eq!(summary["relists"], 0, "the Python watcher had to relist: {summary:#}");
    assert_eq!(summary["events"], log.total, "events delivered to the Python watcher");
    assert!(
        summary["rewatches"].as_u64().unwrap_or(0) >= 1,
        "the restart should have broken the Python watch at least once: {summary:#}"
    );
}
