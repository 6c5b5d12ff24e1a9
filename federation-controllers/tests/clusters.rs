//! In-process end-to-end checks: a member API server, a federation API server, joining
//! through the object store, the cluster controller's probes, and the client's error
//! mapping against real TLS and authentication failures.

use apiserver::local::{Gvr, LocalClient, ObjectStore};
use apiserver::registry::ServerMode;
use apiserver::serve::{Running, ServeConfig};
use base64::Engine;
use federation_controllers::clusters::{self, ClusterControllerOptions};
use federation_controllers::join::{self, CLUSTERS, JoinOptions};
use federation_controllers::kubeconfig;
use federation_controllers::member_api::{MemberClient, MemberError, UNTRUSTED_CERT};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;

const NODES: Gvr<'static> = Gvr::new("", "v1", "nodes");
const SECRETS: Gvr<'static> = Gvr::new("", "v1", "secrets");
const EVENTS: Gvr<'static> = Gvr::new("", "v1", "events");

async fn start(dir: &std::path::Path, mode: ServerMode) -> Running {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let cfg = ServeConfig {
        data_dir: dir.to_path_buf(),
        bind_address: std::net::Ipv4Addr::LOCALHOST.into(),
        secure_port: 0,
        cluster_name: "test".into(),
        mode,
    };
    apiserver::serve::start(cfg).await.expect("server starts")
}

fn selected(running: &Running) -> kubeconfig::Selected {
    let yaml = std::fs::read_to_string(&running.kubeconfig).expect("kubeconfig");
    kubeconfig::select(&kubeconfig::parse(&yaml).expect("parse"), None).expect("select")
}

async fn add_node(store: &dyn ObjectStore, name: &str) {
    let node = json!({
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": name, "labels": {"topology.kubernetes.io/region": "r-nodes", "topology.kubernetes.io/zone": "z-nodes"}},
        "status": {"allocatable": {"cpu": "4", "memory": "8Gi", "pods": "110"},
                   "conditions": [{"type": "Ready", "status": "True"}]}
    });
    let status = node["status"].clone();
    store.create(NODES, node, "test").await.expect("node");
    let f = move |cur: &Value| {
        let mut n = cur.clone();
        n["status"] = status.clone();
        Some(n)
    };
    store.modify(NODES, None, name, Box::new(f)).await.expect("node status");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_errors_name_the_problem() {
    let dir = tempfile::tempdir().expect("tmp");
    let member = start(&dir.path().join("m"), ServerMode::Member).await;
    let sel = selected(&member);
    let t = Duration::from_secs(5);

    let ok = MemberClient::new(&sel, None, t).await.expect("client");
    ok.readyz().await.expect("ready");
    ok.check_credentials().await.expect("credentials");
    assert!(ok.git_version().await.expect("version").starts_with("v1."));

    let mut bad_token = sel.clone();
    bad_token.user.token = Some("not-the-token".to_string().into());
    let e = MemberClient::new(&bad_token, None, t)
        .await
        .expect("client")
        .check_credentials()
        .await
        .expect_err("401");
    assert_eq!(e, MemberError::Unauthorized("401 Unauthorized".into()));
    assert!(!e.to_string().contains("not-the-token"));

    std::fs::create_dir_all(dir.path().join("other")).expect("dir");
    let other = apiserver::tls::Pki::load_or_create(&dir.path().join("other"), &["127.0.0.1".into()]).expect("pki");
    let mut bad_ca = sel.clone();
    bad_ca.cluster.certificate_authority_data =
        Some(base64::engine::general_purpose::STANDARD.encode(other.ca_cert_pem.as_bytes()));
    let e = MemberClient::new(&bad_ca, None, t)
        .await
        .expect("client")
        .readyz()
        .await
        .expect_err("untrusted");
    assert_eq!(
        e.to_string(),
        format!("cannot connect securely to https://{}: {UNTRUSTED_CERT}", member.addr)
    );
    assert_eq!(e.reason(), "ClusterNotReachable");

    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let url = format!("https://127.0.0.1:{port}");
    let e = MemberClient::new(&sel, Some(&url), t)
        .await
        .expect("client")
        .readyz()
        .await
        .expect_err("refused");
    assert_eq!(e.to_string(), format!("cannot reach {url}: connection refused"));
}

fn ready_of(store: &dyn ObjectStore, name: &str) -> Option<(String, String)> {
    let c = store.get(CLUSTERS, None, name)?;
    let conds = c.pointer("/status/conditions")?.as_array()?.clone();
    let r = conds.iter().find(|c| c["type"] == "Ready")?;
    Some((r["status"].as_str()?.to_string(), r["reason"].as_str()?.to_string()))
}

async fn wait_for(store: &dyn ObjectStore, name: &str, status: &str, reason: &str) -> Value {
    for _ in 0..200 {
        if ready_of(store, name).is_some_and(|(s, r)| s == status && r == reason) {
            return store.get(CLUSTERS, None, name).expect("cluster");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!(
        "cluster {name} never became {status}/{reason}: {:?}",
        ready_of(store, name)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn joined_members_are_probed() {
    let dir = tempfile::tempdir().expect("tmp");
    let member = start(&dir.path().join("m"), ServerMode::Member).await;
    let member_store = LocalClient::new(member.server.clone());
    add_node(&member_store, "n1").await;
    add_node(&member_store, "n2").await;
    let fed = start(&dir.path().join("f"), ServerMode::Federation).await;
    let store: Arc<dyn ObjectStore> = Arc::new(LocalClient::new(fed.server.clone()));
    let opts = ClusterControllerOptions {
        probe_interval: Duration::from_secs(1),
        failure_threshold: 2,
    };
    let controller = tokio::spawn(clusters::run(store.clone(), opts));

    let yaml = std::fs::read_to_string(&member.kubeconfig).expect("kubeconfig");
    let jo = JoinOptions {
        region: None,
        zone: Some("z-given".into()),
        provider: Some("local".into()),
    };
    join::join_local(&*store, "m1", &yaml, &jo).await.expect("join");
    join::join_local(&*store, "m1", &yaml, &jo)
        .await
        .expect("join again is a no-op");

    let secret = store
        .get(SECRETS, Some("ubernetes-system"), "cluster-m1")
        .expect("secret");
    assert_eq!(secret["type"], "Opaque");
    assert_eq!(
        secret.pointer("/metadata/ownerReferences/0/kind"),
        Some(&json!("Cluster"))
    );

    let c = wait_for(&*store, "m1", "True", "ClusterReady").await;
    assert!(
        c.pointer("/status/kubernetesVersion")
            .and_then(Value::as_str)
            .is_some_and(|v| v.starts_with("v1."))
    );
    assert_eq!(
        c.pointer("/status/nodeSummary"),
        Some(&json!({"totalNum": 2, "readyNum": 2}))
    );
    assert_eq!(c.pointer("/status/resourceSummary/allocatable/cpu"), Some(&json!("8")));
    assert_eq!(
        c.pointer("/status/resourceSummary/allocatable/memory"),
        Some(&json!("16Gi"))
    );
    assert!(
        c.pointer("/status/apiEnablements")
            .and_then(Value::as_array)
            .is_some_and(|a| !a.is_empty())
    );
    assert_eq!(
        c.pointer("/spec/region"),
        Some(&json!("r-nodes")),
        "filled from node labels"
    );
    assert_eq!(c.pointer("/spec/zone"), Some(&json!("z-given")), "given at join, kept");

    // Credentials that stop working: InvalidCredentials after the threshold.
    let mut bad = selected(&member);
    bad.user.token = Some("wrong-token".to_string().into());
    let bad_yaml = kubeconfig::to_yaml(&kubeconfig::single_context(&bad)).expect("yaml");
    let encoded = base64::engine::general_purpose::STANDARD.encode(bad_yaml);
    let f = move |cur: &Value| {
        let mut s = cur.clone();
        s["data"]["kubeconfig"] = json!(encoded.clone());
        Some(s)
    };
    store
        .modify(SECRETS, Some("ubernetes-system"), "cluster-m1", Box::new(f))
        .await
        .expect("secret update");
    let c = wait_for(&*store, "m1", "False", "InvalidCredentials").await;
    let text = c.to_string();
    assert!(!text.contains("wrong-token"), "no credentials in the status");

    let mut events = Vec::new();
    for _ in 0..100 {
        events = store.list(EVENTS, Some("default"));
        if events.iter().any(|e| e["reason"] == "ClusterNotReady") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let reasons: Vec<&str> = events.iter().filter_map(|e| e["reason"].as_str()).collect();
    assert!(
        reasons.contains(&"ClusterReady") && reasons.contains(&"ClusterNotReady"),
        "{reasons:?}"
    );
    let not_ready = events.iter().find(|e| e["reason"] == "ClusterNotReady").expect("event");
    assert_eq!(not_ready["type"], "Warning");
    assert_eq!(not_ready["involvedObject"]["name"], "m1");
    assert_eq!(not_ready["source"]["component"], "ubernetes-cluster-controller");
    assert!(events.iter().all(|e| !e.to_string().contains("wrong-token")));
    controller.abort();
}
