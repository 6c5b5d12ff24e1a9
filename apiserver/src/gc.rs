//! Garbage collector: `ownerReferences` with Background, Foreground and Orphan propagation.
//!
//! It keeps an index from the watch cache's events (uid → object, owner uid → dependents)
//! and reacts to changes of exactly the owners concerned:
//! - an owner that is gone: dependents with no other live owner are deleted (Background);
//!   references to the gone owner are dropped from dependents that keep another owner;
//! - an owner being deleted with the `foregroundDeletion` finalizer: its dependents are
//!   deleted first (in the foreground too), and the finalizer is released once none is left;
//! - an owner with the `orphan` finalizer: references to it are removed from its
//!   dependents, then the finalizer is released.

use crate::cache::{CacheEvent, EventType};
use crate::http::handlers::{Change, DeleteOptions, delete_object, update_with};
use crate::registry::ResourceInfo;
use crate::server::ApiServer;
use serde_json::{Value, json};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

/// Where an object lives in the cache.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct ObjectRef {
    prefix: Arc<str>,
    namespace: String,
    name: String,
}

#[derive(Default)]
struct Index {
    by_uid: HashMap<String, ObjectRef>,
    uid_of: HashMap<ObjectRef, String>,
    owners_of: HashMap<ObjectRef, Vec<String>>,
    dependents: HashMap<String, HashSet<ObjectRef>>,
}

fn owner_uids(v: &Value) -> Vec<String> {
    v.pointer("/metadata/ownerReferences")
        .and_then(|o| o.as_array())
        .map(|a| {
            a.iter()
                .filter_map(|r| r.get("uid").and_then(|u| u.as_str()).map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// Whether `dependent`'s reference to `owner_uid` has `blockOwnerDeletion: true`.
fn blocks_owner(dependent: &Value, owner_uid: &str) -> bool {
    dependent
        .pointer("/metadata/ownerReferences")
        .and_then(|o| o.as_array())
        .is_some_and(|refs| {
            refs.iter()
                .any(|r| r["uid"] == owner_uid && r["blockOwnerDeletion"] == true)
        })
}

impl Index {
    fn remove(&mut self, r: &ObjectRef) {
        if let Some(uid) = self.uid_of.remove(r) {
            self.by_uid.remove(&uid);
        }
        for o in self.owners_of.remove(r).unwrap_or_default() {
            if let Some(d) = self.dependents.get_mut(&o) {
                d.remove(r);
                if d.is_empty() {
                    self.dependents.remove(&o);
                }
            }
        }
    }

    fn upsert(&mut self, r: ObjectRef, v: &Value) {
        self.remove(&r);
        if let Some(uid) = v.pointer("/metadata/uid").and_then(|u| u.as_str()) {
            self.by_uid.insert(uid.to_string(), r.clone());
            self.uid_of.insert(r.clone(), uid.to_string());
        }
        let owners = owner_uids(v);
        for o in &owners {
            self.dependents.entry(o.clone()).or_default().insert(r.clone());
        }
        if !owners.is_empty() {
            self.owners_of.insert(r, owners);
        }
    }
}

/// The garbage collector controller.
pub struct GarbageCollector {
    server: Arc<ApiServer>,
    index: Index,
}

impl GarbageCollector {
    /// A collector over `server`'s cache.
    pub fn new(server: Arc<ApiServer>) -> Self {
        Self {
            server,
            index: Index::default(),
        }
    }

    fn info_for(&self, prefix: &str) -> Option<Arc<ResourceInfo>> {
        self.server.registry().all().find(|r| r.key_prefix() == prefix).cloned()
    }

    /// Runs forever.
    pub async fn run(mut self) {
        let mut events = self.server.cache.subscribe();
        let mut pending: HashSet<String> = HashSet::new();
        for prefix in self.server.cache.prefixes() {
            let Ok(page) = self.server.cache.list(&prefix, None, None, None, None, &|_| true) else {
                continue;
            };
            for o in page.items {
                let r = ObjectRef {
                    prefix: prefix.clone(),
                    namespace: o.namespace.clone(),
                    name: o.name.clone(),
                };
                let v = o.value();
                pending.extend(owner_uids(&v));
                if let Some(u) = v.pointer("/metadata/uid").and_then(|u| u.as_str()) {
                    pending.insert(u.to_string());
                }
                self.index.upsert(r, &v);
            }
        }
        let mut tick = tokio::time::interval(Duration::from_secs(2));
        loop {
            tokio::select! {
                ev = events.recv() => match ev {
                    Ok(ev) => self.observe(&ev, &mut pending),
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {
                        // Missed events: re-examine every owner we know about.
                        pending.extend(self.index.dependents.keys().cloned());
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
                },
                _ = tick.tick() => {
                    // Owners still in foreground/orphan deletion are retried periodically.
                    pending.extend(self.index.dependents.keys().cloned());
                }
            }
            while let Ok(ev) = events.try_recv() {
                self.observe(&ev, &mut pending);
            }
            for uid in std::mem::take(&mut pending) {
                self.process(&uid).await;
            }
        }
    }

    fn observe(&mut self, ev: &CacheEvent, pending: &mut HashSet<String>) {
        let r = ObjectRef {
            prefix: ev.resource.clone(),
            namespace: ev.object.namespace.clone(),
            name: ev.object.name.clone(),
        };
        let v = ev.object.value();
        if let Some(uid) = v.pointer("/metadata/uid").and_then(|u| u.as_str()) {
            pending.insert(uid.to_string());
        }
        pending.extend(owner_uids(&v));
        if let Some(prev) = &ev.prev {
            pending.extend(owner_uids(&prev.value()));
        }
        match ev.kind {
            EventType::Deleted => self.index.remove(&r),
            _ => self.index.upsert(r, &v),
        }
    }

    async fn process(&mut self, owner_uid: &str) {
        let dependents: Vec<ObjectRef> = self
            .index
            .dependents
            .get(owner_uid)
            .map(|d| d.iter().cloned().collect())
            .unwrap_or_default();
        let owner = self.index.by_uid.get(owner_uid).cloned();
        let Some(owner) = owner else {
            for d in dependents {
                self.orphaned_dependent(&d, owner_uid).await;
            }
            return;
        };
        let Some(owner_obj) = self.get(&owner) else { return };
        if owner_obj.pointer("/metadata/deletionTimestamp").is_none() {
            return;
        }
        let finalizers: Vec<String> = owner_obj
            .pointer("/metadata/finalizers")
            .and_then(|f| f.as_array())
            .map(|a| a.iter().filter_map(|x| x.as_str().map(str::to_string)).collect())
            .unwrap_or_default();
        if finalizers.iter().any(|f| f == "orphan") {
            for d in &dependents {
                self.drop_owner_ref(d, owner_uid).await;
            }
            self.release(&owner, "orphan").await;
        } else if finalizers.iter().any(|f| f == "foregroundDeletion") {
            let mut blocking = 0;
            for d in &dependents {
                let Some(dv) = self.get(d) else { continue };
                // A dependent that keeps another live owner only loses this reference.
                let others_alive = owner_uids(&dv)
                    .iter()
                    .any(|u| u != owner_uid && self.index.by_uid.contains_key(u));
                if others_alive {
                    self.drop_owner_ref(d, owner_uid).await;
                    continue;
                }
                // The owner waits only for dependents that block its deletion.
                if blocks_owner(&dv, owner_uid) {
                    blocking += 1;
                }
                if dv.pointer("/metadata/deletionTimestamp").is_none() {
                    let opts = DeleteOptions {
                        propagation: Some("Foreground".into()),
                        ..Default::default()
                    };
                    self.delete(d, &opts).await;
                }
            }
            if blocking == 0 {
                self.release(&owner, "foregroundDeletion").await;
            }
        }
    }

    /// A dependent whose owner `gone_uid` no longer exists.
    async fn orphaned_dependent(&self, d: &ObjectRef, gone_uid: &str) {
        let Some(dv) = self.get(d) else { return };
        let owners = owner_uids(&dv);
        let alive = owners
            .iter()
            .any(|u| u != gone_uid && self.index.by_uid.contains_key(u));
        if alive {
            self.drop_owner_ref(d, gone_uid).await;
        } else if dv.pointer("/metadata/deletionTimestamp").is_none() {
            self.delete(
                d,
                &DeleteOptions {
                    propagation: Some("Background".into()),
                    ..Default::default()
                },
            )
            .await;
        }
    }

    fn get(&self, r: &ObjectRef) -> Option<Value> {
        let suffix = if r.namespace.is_empty() {
            r.name.clone()
        } else {
            format!("{}/{}", r.namespace, r.name)
        };
        self.server.cache.get(&r.prefix, &suffix).map(|o| o.value())
    }

    async fn delete(&self, r: &ObjectRef, opts: &DeleteOptions) {
        let Some(info) = self.info_for(&r.prefix) else { return };
        let ns = Some(r.namespace.as_str()).filter(|n| !n.is_empty());
        if let Err(e) = delete_object(&self.server, &info, ns, &r.name, opts).await
            && e.code != 404
        {
            tracing::warn!(name = %r.name, error = %e, "garbage collector could not delete dependent");
        }
    }

    async fn modify(&self, r: &ObjectRef, f: impl Fn(&mut Value) -> bool) {
        let Some(info) = self.info_for(&r.prefix) else { return };
        let suffix = if r.namespace.is_empty() {
            r.name.clone()
        } else {
            format!("{}/{}", r.namespace, r.name)
        };
        let _ = update_with(&self.server, &info, &r.prefix, &suffix, &r.name, false, |old, _| {
            let mut new = old.clone();
            Ok(if f(&mut new) {
                Change::Write(new)
            } else {
                Change::Unchanged
            })
        })
        .await;
    }

    async fn drop_owner_ref(&self, d: &ObjectRef, owner_uid: &str) {
        self.modify(d, |v| {
            let Some(refs) = v
                .pointer_mut("/metadata/ownerReferences")
                .and_then(|o| o.as_array_mut())
            else {
                return false;
            };
            let before = refs.len();
            refs.retain(|r| r.get("uid").and_then(|u| u.as_str()) != Some(owner_uid));
            let changed = refs.len() != before;
            if refs.is_empty()
                && let Some(m) = v.get_mut("metadata").and_then(|m| m.as_object_mut())
            {
                m.remove("ownerReferences");
            }
            changed
        })
        .await;
    }

    async fn release(&self, owner: &ObjectRef, finalizer: &str) {
        self.modify(owner, |v| {
            let Some(list) = v.pointer_mut("/metadata/finalizers").and_then(|f| f.as_array_mut()) else {
                return false;
            };
            let before = list.len();
            list.retain(|x| x != finalizer);
            let changed = list.len() != before;
            if list.is_empty()
                && let Some(m) = v.get_mut("metadata").and_then(|m| m.as_object_mut())
            {
                m.insert("finalizers".into(), json!([]));
            }
            changed
        })
        .await;
    }
}
