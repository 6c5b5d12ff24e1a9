//! Namespace lifecycle: the system namespaces, and finishing the deletion of a
//! Terminating namespace (delete its contents, then the namespace itself).

use crate::http::handlers::{Change, prepare_create, put, update_with};
use crate::server::ApiServer;
use crate::storage::{Precondition, WriteOp};
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

const NS_PREFIX: &str = "/registry/core/namespaces/";

/// Creates `default`, `kube-system` and `kube-public` when missing.
pub async fn ensure_system_namespaces(server: &ApiServer) {
    let reg = server.registry();
    let Some(info) = reg.get("", "v1", "namespaces") else {
        return;
    };
    for name in ["default", "kube-system", "kube-public", "kube-node-lease"] {
        if server.cache.get(NS_PREFIX, name).is_some() {
            continue;
        }
        let mut obj = json!({"kind": "Namespace", "apiVersion": "v1", "metadata": {"name": name}});
        if prepare_create(&info, &mut obj).is_err() {
            continue;
        }
        if let Err(e) = put(
            server,
            &info,
            info.key(None, name),
            name,
            obj,
            Precondition::MustNotExist,
            false,
        )
        .await
            && e.code != 409
        {
            tracing::warn!(namespace = name, error = %e, "could not create system namespace");
        }
    }
}

/// Finishes deletion of Terminating namespaces.
pub struct NamespaceController {
    server: Arc<ApiServer>,
}

impl NamespaceController {
    /// A controller over `server`'s cache.
    pub fn new(server: Arc<ApiServer>) -> Self {
        Self { server }
    }

    /// Runs forever: woken by namespace events, and periodically for finalizers released later.
    pub async fn run(self) {
        let mut events = self.server.cache.subscribe();
        let mut tick = tokio::time::interval(Duration::from_secs(2));
        loop {
            tokio::select! {
                _ = events.recv() => {}
                _ = tick.tick() => {}
            }
            self.reconcile_all().await;
        }
    }

    fn terminating(&self) -> Vec<String> {
        let page = self.server.cache.list(NS_PREFIX, None, None, None, None, &|_| true);
        let Ok(page) = page else { return Vec::new() };
        page.items
            .iter()
            .filter(|o| o.value().pointer("/metadata/deletionTimestamp").is_some())
            .map(|o| o.name.clone())
            .collect()
    }

    async fn reconcile_all(&self) {
        for ns in self.terminating() {
            self.reconcile(&ns).await;
        }
    }

    async fn reconcile(&self, ns: &str) {
        let reg = self.server.registry();
        let mut remaining = 0usize;
        for info in reg.all().filter(|r| r.namespaced) {
            let prefix = info.key_prefix();
            let Ok(page) = self.server.cache.list(&prefix, Some(ns), None, None, None, &|_| true) else {
                continue;
            };
            for o in page.items {
                remaining += 1;
                let v = o.value();
                let has_finalizers = v
                    .pointer("/metadata/finalizers")
                    .and_then(|f| f.as_array())
                    .is_some_and(|a| !a.is_empty());
                if has_finalizers {
                    if v.pointer("/metadata/deletionTimestamp").is_none() {
                        let suffix = format!("{ns}/{}", o.name);
                        let _ = update_with(&self.server, info, &prefix, &suffix, &o.name, false, |old, _| {
                            let mut new = old.clone();
                            new["metadata"]["deletionTimestamp"] = json!(crate::objects::now_rfc3339());
                            new["metadata"]["deletionGracePeriodSeconds"] = json!(0);
                            Ok(Change::Write(new))
                        })
                        .await;
                    }
                } else {
                    let key = format!("{prefix}{ns}/{}", o.name);
                    let _ = self
                        .server
                        .store
                        .write(WriteOp::Delete {
                            key,
                            precondition: Precondition::ModRevision(o.rv),
                        })
                        .await;
                }
            }
        }
        if remaining > 0 {
            return;
        }
        let Some(info) = reg.get("", "v1", "namespaces") else {
            return;
        };
        let Some(cur) = self.server.cache.get(NS_PREFIX, ns) else {
            return;
        };
        let v = cur.value();
        if v.pointer("/spec/finalizers")
            .and_then(|f| f.as_array())
            .is_some_and(|a| !a.is_empty())
        {
            // Content is gone: release our finalizer. The write deletes the namespace
            // unless metadata finalizers of other owners still hold it.
            let _ = update_with(&self.server, &info, NS_PREFIX, ns, ns, false, |old, _| {
                let mut new = old.clone();
                new["spec"]["finalizers"] = json!([]);
                Ok(Change::Write(new))
            })
            .await;
            return;
        }
        if v.pointer("/metadata/finalizers")
            .and_then(|f| f.as_array())
            .is_some_and(|a| !a.is_empty())
        {
            return;
        }
        let key = format!("{NS_PREFIX}{ns}");
        let _ = self
            .server
            .store
            .write(WriteOp::Delete {
                key,
                precondition: Precondition::ModRevision(cur.rv),
            })
            .await;
    }
}
