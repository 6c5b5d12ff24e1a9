//! Acceptance point 3: every write the server acknowledged survives `kill -9`.
//!
//! Many concurrent writers (kube-rs, JSON) record the resourceVersion and data of each
//! acknowledged response; the process is killed with SIGKILL right after the last
//! acknowledgement (or while writes are still in flight), restarted on the same data
//! directory, and every acknowledged object must be there with exactly that
//! resourceVersion and data.

mod common;

use common::Server;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use kube::api::{Api, DeleteParams, ListParams, ObjectMeta, PostParams};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const TASKS: usize = 50;

type Data = BTreeMap<String, String>;

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

fn cm(name: &str, rv: Option<&str>, data: &Data) -> ConfigMap {
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

fn data(task: usize, step: usize, note: &str) -> Data {
    BTreeMap::from([
        ("task".to_string(), task.to_string()),
        ("step".to_string(), step.to_string()),
        ("note".to_string(), note.to_string()),
        // Some bulk so a batch is more than a few bytes.
        ("payload".to_string(), format!("{task}-{step}-").repeat(40)),
    ])
}

fn rv_of(o: &ConfigMap) -> String {
    o.metadata
        .resource_version
        .clone()
        .expect("response carries a resourceVersion")
}

fn rv_num(rv: &str) -> u64 {
    rv.parse()
        .unwrap_or_else(|_| panic!("resourceVersion {rv:?} is not an integer"))
}

/// Restarts the killed server and returns a client for it plus the namespace's objects.
async fn restart_and_list(server: &mut Server, ns: &str) -> (kube::Client, BTreeMap<String, ConfigMap>) {
    assert!(!server.is_running());
    tokio::task::block_in_place(|| server.restart());
    let client = server.client().await;
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), ns);
    let deadline = Instant::now() + Duration::from_secs(30);
    let list = loop {
        match api.list(&ListParams::default()).await {
            Ok(l) => break l,
            Err(e) if Instant::now() < deadline => {
                eprintln!("list after restart: {e}; retrying");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(e) => panic!("list after restart: {e}"),
        }
    };
    let objects = list
        .items
        .into_iter()
        .map(|o| (o.metadata.name.clone().unwrap_or_default(), o))
        .collect();
    (client, objects)
}

/// After a restart, new writes get resourceVersions above every acknowledged one
/// (a watcher resuming from an old RV would otherwise miss or repeat changes).
async fn assert_rv_keeps_growing(client: &kube::Client, ns: &str, max_acked: u64) {
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), ns);
    let o = api
        .create(&PostParams::default(), &cm("after-restart", None, &data(0, 0, "after")))
        .await
        .expect("create after restart");
    let rv = rv_num(&rv_of(&o));
    assert!(
        rv > max_acked,
        "resourceVersion went backwards after restart: new {rv} <= acknowledged {max_acked}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn acknowledged_creates_survive_kill9() {
    const PER_TASK: usize = 10;
    let mut server = Server::start();
    let client = server.client().await;
    let ns = "durable-creates";
    ensure_namespace(&client, ns).await;

    let started = Instant::now();
    let tasks: Vec<_> = (0..TASKS)
        .map(|t| {
            let api: Api<ConfigMap> = Api::namespaced(client.clone(), ns);
            tokio::spawn(async move {
                let mut acked = Vec::new();
                for i in 0..PER_TASK {
                    let name = format!("c-{t}-{i}");
                    let d = data(t, i, "created");
                    let o = api
                        .create(&PostParams::default(), &cm(&name, None, &d))
                        .await
                        .unwrap_or_else(|e| panic!("create {name}: {e}"));
                    assert_eq!(o.data.as_ref(), Some(&d), "{name}: create response data");
                    acked.push((name, rv_of(&o), d));
                }
                acked
            })
        })
        .collect();
    let mut acked = Vec::new();
    for t in tasks {
        acked.extend(t.await.expect("writer task"));
    }
    // Immediately after the last acknowledgement: no grace period, no clean shutdown.
    server.kill9();
    let write_time = started.elapsed();
    assert_eq!(acked.len(), TASKS * PER_TASK);

    let (client, objects) = restart_and_list(&mut server, ns).await;
    let mut lost = Vec::new();
    for (name, rv, d) in &acked {
        match objects.get(name) {
            None => lost.push(format!("{name} (rv {rv}) is gone")),
            Some(o) if o.metadata.resource_version.as_deref() != Some(rv.as_str()) => lost.push(format!(
                "{name}: acknowledged rv {rv}, after restart {:?}",
                o.metadata.resource_version
            )),
            Some(o) if o.data.as_ref() != Some(d) => lost.push(format!("{name}: data differs after restart")),
            Some(_) => {}
        }
    }
    assert!(
        lost.is_empty(),
        "{} of {} acknowledged creates did not survive kill -9: {:#?}",
        lost.len(),
        acked.len(),
        &lost[..lost.len().min(20)]
    );
    assert_eq!(
        objects.len(),
        acked.len(),
        "objects that were never acknowledged appeared"
    );
    let max = acked.iter().map(|(_, rv, _)| rv_num(rv)).max().unwrap_or(0);
    assert_rv_keeps_growing(&client, ns, max).await;
    eprintln!(
        "[durability] {} creates by {TASKS} tasks acknowledged in {write_time:?}; all survived kill -9",
        acked.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn acknowledged_updates_and_deletes_survive_kill9() {
    const UPDATES: usize = 10;
    let mut server = Server::start();
    let client = server.client().await;
    let ns = "durable-updates";
    ensure_namespace(&client, ns).await;
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), ns);
    let mut initial = Vec::new();
    for t in 0..TASKS {
        let o = api
            .create(
                &PostParams::default(),
                &cm(&format!("u-{t}"), None, &data(t, 0, "created")),
            )
            .await
            .expect("create");
        initial.push(rv_of(&o));
    }

    let started = Instant::now();
    let tasks: Vec<_> = initial
        .into_iter()
        .enumerate()
        .map(|(t, mut rv)| {
            let api: Api<ConfigMap> = Api::namespaced(client.clone(), ns);
            tokio::spawn(async move {
                let name = format!("u-{t}");
                let mut d = Data::new();
                for i in 1..=UPDATES {
                    d = data(t, i, "updated");
                    let o = api
                        .replace(&name, &PostParams::default(), &cm(&name, Some(&rv), &d))
                        .await
                        .unwrap_or_else(|e| panic!("update {name} #{i}: {e}"));
                    let new = rv_of(&o);
                    assert!(rv_num(&new) > rv_num(&rv), "{name}: update rv {new} not above {rv}");
                    rv = new;
                }
                // Every tenth object ends deleted: acknowledged deletes must stick too.
                if t % 10 == 0 {
                    api.delete(&name, &DeleteParams::default())
                        .await
                        .unwrap_or_else(|e| panic!("delete {name}: {e}"));
                    return (name, None);
                }
                (name, Some((rv, d)))
            })
        })
        .collect();
    let mut acked = Vec::new();
    for t in tasks {
        acked.push(t.await.expect("writer task"));
    }
    server.kill9();
    let write_time = started.elapsed();

    let (client, objects) = restart_and_list(&mut server, ns).await;
    let mut lost = Vec::new();
    for (name, want) in &acked {
        match (want, objects.get(name)) {
            (None, None) => {}
            (None, Some(o)) => lost.push(format!(
                "{name}: deleted (acknowledged) but back at rv {:?}",
                o.metadata.resource_version
            )),
            (Some((rv, _)), None) => lost.push(format!("{name} (rv {rv}) is gone")),
            (Some((rv, d)), Some(o)) => {
                if o.metadata.resource_version.as_deref() != Some(rv.as_str()) {
                    lost.push(format!(
                        "{name}: acknowledged rv {rv}, after restart {:?}",
                        o.metadata.resource_version
                    ));
                } else if o.data.as_ref() != Some(d) {
                    lost.push(format!(
                        "{name}: data differs after restart: step {:?}",
                        o.data.as_ref().and_then(|x| x.get("step"))
                    ));
                }
            }
        }
    }
    assert!(
        lost.is_empty(),
        "acknowledged updates/deletes lost by kill -9: {lost:#?}"
    );
    assert_eq!(objects.len(), acked.iter().filter(|(_, w)| w.is_some()).count());
    let max = acked
        .iter()
        .filter_map(|(_, w)| w.as_ref().map(|(rv, _)| rv_num(rv)))
        .max()
        .unwrap_or(0);
    assert_rv_keeps_growing(&client, ns, max).await;
    eprintln!(
        "[durability] {} updates + {} deletes by {TASKS} tasks acknowledged in {write_time:?}; all survived kill -9",
        TASKS * UPDATES,
        TASKS / 10
    );
}

/// What one writer knows about its object when the server dies.
#[derive(Clone, Debug, Default)]
struct Known {
    /// Last acknowledged (rv, data).
    acked: Option<(String, Data)>,
    /// A write sent but not answered: its data (it may or may not have committed).
    pending: Option<Data>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn acknowledged_writes_survive_kill9_while_writes_are_in_flight() {
    const KILL_AFTER: usize = 400;
    let mut server = Server::start();
    let client = server.client().await;
    let ns = "durable-inflight";
    ensure_namespace(&client, ns).await;

    let acks = Arc::new(AtomicUsize::new(0));
    let known: Arc<Mutex<BTreeMap<String, Known>>> = Arc::default();
    let tasks: Vec<_> = (0..TASKS)
        .map(|t| {
            let api: Api<ConfigMap> = Api::namespaced(client.clone(), ns);
            let acks = acks.clone();
            let known = known.clone();
            tokio::spawn(async move {
                let name = format!("f-{t}");
                let set = |k: Known| known.lock().unwrap().insert(name.clone(), k);
                let d = data(t, 0, "created");
                set(Known {
                    acked: None,
                    pending: Some(d.clone()),
                });
                let Ok(o) = api.create(&PostParams::default(), &cm(&name, None, &d)).await else {
                    return;
                };
                let mut rv = rv_of(&o);
                set(Known {
                    acked: Some((rv.clone(), d)),
                    pending: None,
                });
                acks.fetch_add(1, Ordering::SeqCst);
                for i in 1.. {
                    let d = data(t, i, "updated");
                    let prev = known.lock().unwrap()[&name].acked.clone();
                    set(Known {
                        acked: prev.clone(),
                        pending: Some(d.clone()),
                    });
                    let Ok(o) = api
                        .replace(&name, &PostParams::default(), &cm(&name, Some(&rv), &d))
                        .await
                    else {
                        return;
                    };
                    rv = rv_of(&o);
                    set(Known {
                        acked: Some((rv.clone(), d)),
                        pending: None,
                    });
                    acks.fetch_add(1, Ordering::SeqCst);
                }
            })
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(60);
    while acks.load(Ordering::SeqCst) < KILL_AFTER {
        assert!(
            Instant::now() < deadline,
            "only {} writes acknowledged in 60s",
            acks.load(Ordering::SeqCst)
        );
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    server.kill9();
    for t in tasks {
        // Writers stop at their first failed request (the server is gone).
        tokio::time::timeout(Duration::from_secs(60), t)
            .await
            .expect("writer stops after the kill")
            .expect("writer task");
    }
    let known = known.lock().unwrap().clone();
    let total_acks = acks.load(Ordering::SeqCst);
    let in_flight = known.values().filter(|k| k.pending.is_some()).count();

    let (client, objects) = restart_and_list(&mut server, ns).await;
    let mut lost = Vec::new();
    let mut pending_committed = 0;
    for (name, k) in &known {
        let got = objects.get(name);
        let got_rv = got.and_then(|o| o.metadata.resource_version.clone());
        let got_data = got.and_then(|o| o.data.clone());
        match (&k.acked, &k.pending, got) {
            (None, _, None) => {}
            (None, Some(p), Some(_)) if got_data.as_ref() == Some(p) => pending_committed += 1,
            (None, _, Some(_)) => lost.push(format!("{name}: never acknowledged, but holds other data")),
            (Some((rv, _)), _, None) => lost.push(format!("{name} (acknowledged rv {rv}) is gone")),
            (Some((rv, d)), pending, Some(_)) => {
                if got_rv.as_deref() == Some(rv.as_str()) {
                    if got_data.as_ref() != Some(d) {
                        lost.push(format!("{name}: rv {rv} kept but data differs"));
                    }
                } else if pending.is_some()
                    && got_data.as_ref() == pending.as_ref()
                    && rv_num(got_rv.as_deref().unwrap_or("0")) > rv_num(rv)
                {
                    // The in-flight update committed before the kill; fine.
                    pending_committed += 1;
                } else {
                    lost.push(format!("{name}: acknowledged rv {rv}, after restart {got_rv:?}"));
                }
            }
        }
    }
    assert!(
        lost.is_empty(),
        "acknowledged writes lost when killed mid-flight: {lost:#?}"
    );
    let extra: Vec<_> = objects.keys().filter(|n| !known.contains_key(*n)).collect();
    assert!(extra.is_empty(), "unknown objects after restart: {extra:?}");
    let max = known
        .values()
        .filter_map(|k| k.acked.as_ref().map(|(rv, _)| rv_num(rv)))
        .max()
        .unwrap_or(0);
    assert_rv_keeps_growing(&client, ns, max).await;
    eprintln!(
        "[durability] killed with {in_flight} writes in flight after {total_acks} acknowledgements; \
         all acknowledged writes survived, {pending_committed} in-flight writes had committed"
    );
}
