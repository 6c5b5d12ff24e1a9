//! In-process access to the API for controllers: reads come straight from the watch
//! cache (no HTTP hop, no re-serialization), writes go through the same admission and
//! storage path as API requests.
//!
//! Controllers depend on the [`ObjectStore`] trait, so they could run out of process
//! against a remote API server with an implementation over `kube::Client`.

use crate::cache::CacheEvent;
use crate::error::{ApiError, ApiResult};
use crate::http::handlers::{self, Change, DeleteOptions};
use crate::objects;
use crate::registry::ResourceInfo;
use crate::server::ApiServer;
use crate::storage::Precondition;
use futures::future::BoxFuture;
use serde_json::{Value, json};
use std::sync::Arc;
use tokio::sync::broadcast;

/// Names a resource: group, version, plural.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Gvr<'a> {
    /// API group ("" for core).
    pub group: &'a str,
    /// Version.
    pub version: &'a str,
    /// Plural resource.
    pub plural: &'a str,
}

impl<'a> Gvr<'a> {
    /// A resource name.
    pub const fn new(group: &'a str, version: &'a str, plural: &'a str) -> Self {
        Self { group, version, plural }
    }
}

/// A read-modify-write step: returns the new object, or None for "no change".
pub type Modify<'a> = Box<dyn FnMut(&Value) -> Option<Value> + Send + 'a>;

/// A served resource, as controllers see it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResourceDesc {
    /// API group.
    pub group: String,
    /// Version.
    pub version: String,
    /// Plural.
    pub plural: String,
    /// Kind.
    pub kind: String,
    /// Namespaced or cluster-scoped.
    pub namespaced: bool,
}

impl ResourceDesc {
    /// `apiVersion` of objects of this resource (`v1`, `apps/v1`).
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }
}

/// What controllers need from the API: typed-agnostic reads, writes and change events.
pub trait ObjectStore: Send + Sync {
    /// Every resource served (preferred versions first within a group).
    fn resources(&self) -> Vec<ResourceDesc>;
    /// Every object of a resource (optionally in one namespace).
    fn list(&self, r: Gvr<'_>, namespace: Option<&str>) -> Vec<Value>;
    /// One object.
    fn get(&self, r: Gvr<'_>, namespace: Option<&str>, name: &str) -> Option<Value>;
    /// Creates an object (full admission); 409 AlreadyExists when present.
    fn create<'a>(&'a self, r: Gvr<'a>, obj: Value, manager: &'a str) -> BoxFuture<'a, ApiResult<Value>>;
    /// Read-modify-write of the status (or any part) of an object; `f` returns None for "no change".
    fn modify<'a>(
        &'a self,
        r: Gvr<'a>,
        namespace: Option<&'a str>,
        name: &'a str,
        f: Modify<'a>,
    ) -> BoxFuture<'a, ApiResult<Value>>;
    /// Deletes an object (Background propagation).
    fn delete<'a>(&'a self, r: Gvr<'a>, namespace: Option<&'a str>, name: &'a str) -> BoxFuture<'a, ApiResult<()>>;
    /// Change events of every resource.
    fn subscribe(&self) -> broadcast::Receiver<Arc<CacheEvent>>;
    /// The storage prefix events of a resource carry (to filter [`ObjectStore::subscribe`]).
    fn prefix(&self, r: Gvr<'_>) -> String;
}

/// [`ObjectStore`] over an in-process [`ApiServer`].
#[derive(Clone)]
pub struct LocalClient {
    server: Arc<ApiServer>,
}

impl LocalClient {
    /// A client of `server`.
    pub fn new(server: Arc<ApiServer>) -> Self {
        Self { server }
    }

    /// The server.
    pub fn server(&self) -> &Arc<ApiServer> {
        &self.server
    }

    fn info(&self, r: Gvr<'_>) -> ApiResult<Arc<ResourceInfo>> {
        self.server
            .registry()
            .get(r.group, r.version, r.plural)
            .ok_or_else(ApiError::path_not_found)
    }
}

fn suffix(info: &ResourceInfo, namespace: Option<&str>, name: &str) -> String {
    match namespace {
        Some(ns) if info.namespaced => format!("{ns}/{name}"),
        _ => name.to_string(),
    }
}

impl ObjectStore for LocalClient {
    fn resources(&self) -> Vec<ResourceDesc> {
        let reg = self.server.registry();
        let mut out = Vec::new();
        for g in reg.groups() {
            // The preferred version only: every version shares one storage prefix.
            let Some(v) = reg.versions(g).into_iter().next() else {
                continue;
            };
            for r in reg.resources(g, &v) {
                out.push(ResourceDesc {
                    group: r.group.clone(),
                    version: r.version.clone(),
                    plural: r.plural.clone(),
                    kind: r.kind.clone(),
                    namespaced: r.namespaced,
                });
            }
        }
        out
    }

    fn list(&self, r: Gvr<'_>, namespace: Option<&str>) -> Vec<Value> {
        let Ok(info) = self.info(r) else { return Vec::new() };
        let ns = if info.namespaced { namespace } else { None };
        self.server
            .cache
            .list(&info.key_prefix(), ns, None, None, None, &|_| true)
            .map(|p| p.items.iter().map(|o| o.value()).collect())
            .unwrap_or_default()
    }

    fn get(&self, r: Gvr<'_>, namespace: Option<&str>, name: &str) -> Option<Value> {
        let info = self.info(r).ok()?;
        self.server
            .cache
            .get(&info.key_prefix(), &suffix(&info, namespace, name))
            .map(|o| o.value())
    }

    fn create<'a>(&'a self, r: Gvr<'a>, obj: Value, manager: &'a str) -> BoxFuture<'a, ApiResult<Value>> {
        Box::pin(async move {
            let info = self.info(r)?;
            let mut obj = obj;
            if let Some(o) = obj.as_object_mut() {
                o.insert("kind".into(), json!(info.kind));
                o.insert("apiVersion".into(), json!(info.api_version()));
            }
            let (mut obj, _) = handlers::normalize(&info, obj, Some("Ignore"))?;
            let name = objects::meta_str(&obj, "name").unwrap_or("").to_string();
            let causes = objects::validate_meta(&info, &obj, false);
            if !causes.is_empty() {
                return Err(ApiError::invalid(&info.group, &info.kind, &name, causes));
            }
            let namespace = objects::meta_str(&obj, "namespace").map(str::to_string);
            if info.namespaced {
                let ns = namespace.clone().unwrap_or_else(|| "default".into());
                if self.server.cache.get("/registry/core/namespaces/", &ns).is_none() {
                    return Err(ApiError::not_found(
                        crate::error::GroupResource {
                            group: "",
                            resource: "namespaces",
                        },
                        &ns,
                    ));
                }
                objects::meta_mut(&mut obj)?.insert("namespace".into(), json!(ns));
            }
            handlers::prepare_create(&info, &mut obj)?;
            handlers::admit(&self.server, &info, &mut obj)?;
            let obj = handlers::record_update(&info, None, obj, manager, None);
            let key = info.key(objects::meta_str(&obj, "namespace"), &name);
            handlers::put(&self.server, &info, key, &name, obj, Precondition::MustNotExist, false).await
        })
    }

    fn modify<'a>(
        &'a self,
        r: Gvr<'a>,
        namespace: Option<&'a str>,
        name: &'a str,
        mut f: Modify<'a>,
    ) -> BoxFuture<'a, ApiResult<Value>> {
        Box::pin(async move {
            let info = self.info(r)?;
            let (v, _) = handlers::update_with(
                &self.server,
                &info,
                &info.key_prefix(),
                &suffix(&info, namespace, name),
                name,
                false,
                |old, _| {
                    Ok(match f(old) {
                        Some(new) => Change::Write(new),
                        None => Change::Unchanged,
                    })
                },
            )
            .await?;
            Ok(v)
        })
    }

    fn delete<'a>(&'a self, r: Gvr<'a>, namespace: Option<&'a str>, name: &'a str) -> BoxFuture<'a, ApiResult<()>> {
        Box::pin(async move {
            let info = self.info(r)?;
            handlers::delete_object(&self.server, &info, namespace, name, &DeleteOptions::default())
                .await
                .map(|_| ())
        })
    }

    fn subscribe(&self) -> broadcast::Receiver<Arc<CacheEvent>> {
        self.server.cache.subscribe()
    }

    fn prefix(&self, r: Gvr<'_>) -> String {
        let g = if r.group.is_empty() { "core" } else { r.group };
        format!("/registry/{g}/{}/", r.plural)
    }
}
