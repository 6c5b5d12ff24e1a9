//! The simulator against a real in-process member API server: nodes, workload status
//! bounded by capacity, LoadBalancer addresses that answer.

use apiserver::local::{Gvr, LocalClient, ObjectStore};
use apiserver::registry::ServerMode;
use apiserver::serve::{ServeConfig, start};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncReadExt;

const DEPLOYMENTS: Gvr<'static> = Gvr::new("apps", "v1", "deployments");
const JOBS: Gvr<'static> = Gvr::new("batch", "v1", "jobs");
const SERVICES: Gvr<'static> = Gvr::new("", "v1", "services");
const NODES: Gvr<'static> = Gvr::new("", "v1", "nodes");
const PODS: Gvr<'static> = Gvr::new("", "v1", "pods");
const LEASES: Gvr<'static> = Gvr::new("coordination.k8s.io", "v1", "leases");

/// Pods of the default namespace whose name starts with `prefix`, by phase.
fn phases(store: &Arc<dyn ObjectStore>, prefix: &str) -> Value {
    let mut counts = serde_json::Map::new();
    for p in store.list(PODS, Some("default")) {
        if p["metadata"]["name"].as_str().is_some_and(|n| n.starts_with(prefix)) {
            let phase = p
                .pointer("/status/phase")
                .and_then(Value::as_str)
                .unwrap_or("None")
                .to_string();
            let n = counts.get(&phase).and_then(Value::as_u64).unwrap_or(0);
            counts.insert(phase, json!(n + 1));
        }
    }
    Value::Object(counts)
}

async fn member(dir: &std::path::Path, name: &str, capacity: u32) -> Arc<dyn ObjectStore> {
    let cfg = ServeConfig {
        data_dir: dir.to_path_buf(),
        bind_address: [127, 0, 0, 1].into(),
        secure_port: 0,
        cluster_name: name.into(),
        mode: ServerMode::Member,
    };
    let running = start(cfg).await.expect("member API server");
    let store: Arc<dyn ObjectStore> = Arc::new(LocalClient::new(running.server.clone()));
    let opts = member::MemberOptions {
        name: name.into(),
        region: "r1".into(),
        zone: "z1".into(),
        capacity_pods: capacity,
        nodes: 3,
    };
    tokio::spawn(member::run(store.clone(), opts));
    store
}

/// Polls `get` until `ok` holds for its result (10 s at most).
async fn eventually(what: &str, mut get: impl FnMut() -> Option<Value>, ok: impl Fn(&Value) -> bool) -> Value {
    for _ in 0..200 {
        if let Some(v) = get().filter(|v| ok(v)) {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for {what}: last {:?}", get());
}

fn deployment(name: &str, replicas: u32) -> Value {
    json!({
        "metadata": {"name": name, "namespace": "default"},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}}
        }
    })
}

fn condition<'a>(obj: &'a Value, ty: &str) -> &'a Value {
    let cs = obj.pointer("/status/conditions").and_then(Value::as_array);
    cs.and_then(|cs| cs.iter().find(|c| c["type"] == ty))
        .unwrap_or(&Value::Null)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_and_capacity_bounded_deployments() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = member(dir.path(), "sim-a", 10).await;
    let nodes = eventually(
        "nodes",
        || Some(json!(store.list(NODES, None))),
        |v| v.as_array().is_some_and(|a| a.len() == 3),
    )
    .await;
    assert_eq!(nodes[0]["metadata"]["labels"]["topology.kubernetes.io/region"], "r1");
    let ready = |n: &Value| condition(n, "Ready")["status"] == "True";
    eventually("node status", || store.get(NODES, None, "sim-a-node-2"), ready).await;

    store
        .create(DEPLOYMENTS, deployment("web", 3), "test")
        .await
        .expect("create web");
    let get = || store.get(DEPLOYMENTS, Some("default"), "web");
    let web = eventually("web ready", get, |d| {
        d.pointer("/status/readyReplicas") == Some(&json!(3))
    })
    .await;
    assert_eq!(web["status"]["observedGeneration"], 1);
    assert_eq!(condition(&web, "Available")["status"], "True");
    assert_eq!(condition(&web, "Progressing")["reason"], "NewReplicaSetAvailable");
    eventually(
        "web pods",
        || Some(phases(&store, "web-")),
        |p| *p == json!({"Running": 3}),
    )
    .await;
    assert!(store.get(LEASES, Some("kube-node-lease"), "sim-a-node-0").is_some());

    // Scale beyond capacity: 10 of 20 become ready, not minimally available.
    let scale = |old: &Value| {
        let mut new = old.clone();
        new["spec"]["replicas"] = json!(20);
        new["metadata"]["generation"] = json!(2);
        Some(new)
    };
    store
        .modify(DEPLOYMENTS, Some("default"), "web", Box::new(scale))
        .await
        .expect("scale");
    let web = eventually("web observed", get, |d| {
        d.pointer("/status/observedGeneration") == Some(&json!(2))
    })
    .await;
    assert_eq!(web["status"]["readyReplicas"], 10);
    assert_eq!(web["status"]["unavailableReplicas"], 10);
    assert_eq!(condition(&web, "Available")["status"], "False");
    let ten_and_ten = json!({"Running": 10, "Pending": 10});
    eventually("web pods", || Some(phases(&store, "web-")), |p| *p == ten_and_ten).await;

    // A later workload gets nothing while capacity is used up.
    store
        .create(DEPLOYMENTS, deployment("late", 2), "test")
        .await
        .expect("create late");
    let late = || store.get(DEPLOYMENTS, Some("default"), "late");
    let l = eventually("late observed", late, |d| {
        d.pointer("/status/observedGeneration").is_some()
    })
    .await;
    assert!(l["status"].get("readyReplicas").is_none());
    assert_eq!(condition(&l, "Available")["status"], "False");

    // Deleting the big one frees capacity.
    store
        .delete(DEPLOYMENTS, Some("default"), "web")
        .await
        .expect("delete web");
    eventually("late ready", late, |d| {
        d.pointer("/status/readyReplicas") == Some(&json!(2))
    })
    .await;

    let job = json!({"metadata": {"name": "pi", "namespace": "default"}, "spec": {"completions": 2, "template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "pi", "image": "perl"}]}}}});
    store.create(JOBS, job, "test").await.expect("create job");
    let j = eventually(
        "job complete",
        || store.get(JOBS, Some("default"), "pi"),
        |j| condition(j, "Complete")["status"] == "True",
    )
    .await;
    assert_eq!(j["status"]["succeeded"], 2);

    // No write loop: the statuses settle.
    let rv = |v: Option<Value>| v.and_then(|v| v.pointer("/metadata/resourceVersion").cloned());
    let before = rv(late());
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(rv(late()), before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn load_balancer_services_answer_on_their_address() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = member(dir.path(), "sim-b", 10).await;
    let svc = json!({"metadata": {"name": "front", "namespace": "default"}, "spec": {"type": "LoadBalancer", "ports": [{"port": 18080}]}});
    store.create(SERVICES, svc, "test").await.expect("create service");
    let get = || store.get(SERVICES, Some("default"), "front");
    let s = eventually("ingress", get, |s| {
        s.pointer("/status/loadBalancer/ingress/0/ip").is_some()
    })
    .await;
    assert_eq!(s["status"]["loadBalancer"]["ingress"][0]["ipMode"], "VIP");
    let ip: std::net::Ipv4Addr = s["status"]["loadBalancer"]["ingress"][0]["ip"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .expect("an IPv4");
    assert!(ip.is_loopback() && ip != std::net::Ipv4Addr::LOCALHOST);

    let mut conn = tokio::net::TcpStream::connect((ip, 18080)).await.expect("connect");
    let mut line = String::new();
    conn.read_to_string(&mut line).await.expect("read");
    assert_eq!(line, "cluster=sim-b service=default/front\n");

    // Turning it into a ClusterIP Service stops the listener and clears the status.
    let to_cluster_ip = |old: &Value| {
        let mut new = old.clone();
        new["spec"]["type"] = json!("ClusterIP");
        Some(new)
    };
    store
        .modify(SERVICES, Some("default"), "front", Box::new(to_cluster_ip))
        .await
        .expect("retype");
    eventually("cleared", get, |s| s.pointer("/status/loadBalancer/ingress").is_none()).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(tokio::net::TcpStream::connect((ip, 18080)).await.is_err());
}
