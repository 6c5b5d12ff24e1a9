//! A DELETE without preconditions succeeds even while another writer keeps changing the
//! object (kube-apiserver re-reads and retries; only the caller's own preconditions may make
//! a delete fail with 409).

use apiserver::local::{Gvr, LocalClient, ObjectStore};
use apiserver::server::{ApiServer, Settings};
use apiserver::storage::memory::MemoryStore;
use serde_json::json;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

const CONFIGMAPS: Gvr<'static> = Gvr::new("", "v1", "configmaps");

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_wins_against_a_busy_writer() {
    let server = ApiServer::new(MemoryStore::new(10_000), Settings::default())
        .await
        .expect("server");
    let store = Arc::new(LocalClient::new(server));
    store
        .create(
            Gvr::new("", "v1", "namespaces"),
            json!({"metadata": {"name": "default"}}),
            "test",
        )
        .await
        .expect("namespace");
    for round in 0..100 {
        let name = format!("busy-{round}");
        let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": "default"}, "data": {"n": "0"}});
        store.create(CONFIGMAPS, cm, "test").await.expect("create");
        let stop = Arc::new(AtomicBool::new(false));
        let writers: Vec<_> = (0..4)
            .map(|_| {
                let (store, stop, name) = (store.clone(), stop.clone(), name.clone());
                tokio::spawn(async move {
                    let mut n = 0u64;
                    while !stop.load(Ordering::Relaxed) {
                        n += 1;
                        let v = n.to_string();
                        let f = Box::new(move |old: &serde_json::Value| {
                            let mut new = old.clone();
                            new["data"]["n"] = json!(v);
                            Some(new)
                        });
                        if store.modify(CONFIGMAPS, Some("default"), &name, f).await.is_err() {
                            break;
                        }
                    }
                })
            })
            .collect();
        tokio::time::sleep(std::time::Duration::from_millis(1)).await;
        let deleted = store.delete(CONFIGMAPS, Some("default"), &name).await;
        stop.store(true, Ordering::Relaxed);
        for w in writers {
            let _ = w.await;
        }
        assert!(
            deleted.is_ok(),
            "round {round}: delete failed: {:?}",
            deleted.err().map(|e| e.message)
        );
        assert!(store.get(CONFIGMAPS, Some("default"), &name).is_none());
    }
}
