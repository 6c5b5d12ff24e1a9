//! Joining and unjoining member clusters.
//!
//! Joining verifies the member first (its kubeconfig parses, its server answers `/version`
//! and `/readyz`, and it accepts the credentials), then stores the member's kubeconfig —
//! flattened to one context with every credential embedded — in the Secret
//! `ubernetes-system/cluster-<NAME>` (type Opaque, key `kubeconfig`), and creates the
//! Cluster pointing at it. The Secret is owned by the Cluster, so deleting the Cluster
//! also removes the credentials.

use crate::kubeconfig::{self, KUBECONFIG_KEY, SYSTEM_NAMESPACE, Selected};
use crate::member_api::{self, MemberClient, MemberError};
use crate::propagation::render::ORIGIN_LABEL;
use apiserver::error::ApiError;
use apiserver::local::{Gvr, ObjectStore};
use base64::Engine;
use kube::api::{Api, ApiResource, DeleteParams, DynamicObject, GroupVersionKind, Patch, PatchParams, PostParams};
use serde_json::{Value, json};
use std::path::Path;
use std::time::Duration;

/// The Cluster resource.
pub const CLUSTERS: Gvr<'static> = Gvr::new("cluster.ubernetes.io", "v1alpha1", "clusters");
/// API version of Cluster objects.
pub const CLUSTER_API_VERSION: &str = "cluster.ubernetes.io/v1alpha1";
/// Label on member Secrets naming their Cluster.
pub const CLUSTER_LABEL: &str = "cluster.ubernetes.io/cluster";
const SECRETS: Gvr<'static> = Gvr::new("", "v1", "secrets");
const NAMESPACES: Gvr<'static> = Gvr::new("", "v1", "namespaces");
const MANAGER: &str = "ubernetes-join";
/// How long joining waits for each request to the member.
const VERIFY_TIMEOUT: Duration = Duration::from_secs(10);

/// Why a join failed; messages say which part is wrong and never contain credentials.
#[derive(Debug, thiserror::Error)]
pub enum JoinError {
    /// The member's kubeconfig cannot be read, parsed or used.
    #[error("the cluster kubeconfig {path} is not valid: {why}")]
    InvalidKubeconfig {
        /// The file (or `<inline>`).
        path: String,
        /// What is wrong with it.
        why: String,
    },
    /// Verifying the member failed.
    #[error(transparent)]
    Member(#[from] MemberError),
    /// The name cannot name a Cluster.
    #[error("invalid cluster name {0:?}: {1}")]
    InvalidName(String, &'static str),
    /// A Cluster of that name exists.
    #[error("cluster {0} is already joined (unjoin it first)")]
    AlreadyJoined(String),
    /// No Cluster of that name.
    #[error("cluster {0} is not joined")]
    NotJoined(String),
    /// The federation refused or failed a request.
    #[error("the federation API server: {0}")]
    Federation(String),
    /// Anything else.
    #[error("{0}")]
    Other(String),
}

/// Where a joined cluster is.
#[derive(Clone, Debug, Default)]
pub struct JoinOptions {
    /// Region.
    pub region: Option<String>,
    /// Zone.
    pub zone: Option<String>,
    /// Provider.
    pub provider: Option<String>,
}

/// The name of the Secret holding a member's kubeconfig.
pub fn secret_name(cluster: &str) -> String {
    format!("cluster-{cluster}")
}

/// Checks that `name` can name a Cluster and its Secret (a DNS-1123 subdomain).
pub fn validate_name(name: &str) -> Result<(), JoinError> {
    let bad = |why| Err(JoinError::InvalidName(name.to_string(), why));
    if name.is_empty() || name.len() > 253 - "cluster-".len() {
        return bad("must have 1 to 245 characters");
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.')
    {
        return bad("must consist of lower case letters, digits, '-' and '.'");
    }
    let alnum = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
    if !alnum(name.chars().next()) || !alnum(name.chars().last()) {
        return bad("must start and end with a letter or digit");
    }
    Ok(())
}

/// A member kubeconfig ready to be stored: flattened YAML and its server URL.
struct Prepared {
    selected: Selected,
    yaml: String,
    server: String,
}

fn prepare(selected: Selected, path: &str) -> Result<Prepared, JoinError> {
    let invalid = |e: kubeconfig::KubeconfigError| JoinError::InvalidKubeconfig {
        path: path.to_string(),
        why: e.0,
    };
    kubeconfig::check_self_contained(&selected).map_err(invalid)?;
    let server = selected
        .server()
        .map_err(invalid)?
        .trim()
        .trim_end_matches('/')
        .to_string();
    let yaml = kubeconfig::to_yaml(&kubeconfig::single_context(&selected)).map_err(invalid)?;
    Ok(Prepared { selected, yaml, server })
}

fn cluster_object(name: &str, server: &str, opts: &JoinOptions) -> Value {
    let mut spec = json!({
        "apiEndpoint": server,
        "secretRef": {"namespace": SYSTEM_NAMESPACE, "name": secret_name(name)},
    });
    for (key, v) in [
        ("region", &opts.region),
        ("zone", &opts.zone),
        ("provider", &opts.provider),
    ] {
        if let Some(v) = v.as_deref().filter(|v| !v.is_empty()) {
            spec[key] = json!(v);
        }
    }
    json!({"apiVersion": CLUSTER_API_VERSION, "kind": "Cluster", "metadata": {"name": name}, "spec": spec})
}

fn secret_object(name: &str, yaml: &str) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": secret_name(name), "namespace": SYSTEM_NAMESPACE, "labels": {CLUSTER_LABEL: name}},
        "type": "Opaque",
        "data": {KUBECONFIG_KEY: base64::engine::general_purpose::STANDARD.encode(yaml)},
    })
}

fn owner_reference(name: &str, uid: &str) -> Value {
    json!([{"apiVersion": CLUSTER_API_VERSION, "kind": "Cluster", "name": name, "uid": uid}])
}

/// Checks the member: `/version`, `/readyz` and an authenticated request.
pub async fn verify(selected: &Selected) -> Result<String, MemberError> {
    let member = MemberClient::new(selected, None, VERIFY_TIMEOUT).await?;
    let version = member.git_version().await?;
    member.readyz().await?;
    member.check_credentials().await?;
    Ok(version)
}

// ---------------------------------------------------------------------------------------
// In-process join (`ubernetes up`).

/// Joins a member in-process (used by `ubernetes up`): stores its kubeconfig in a Secret
/// and creates the Cluster. The kubeconfig must embed its credentials. Idempotent: an
/// existing Secret and Cluster are brought up to date.
pub async fn join_local(
    store: &dyn ObjectStore,
    name: &str,
    member_kubeconfig_yaml: &str,
    opts: &JoinOptions,
) -> Result<(), JoinError> {
    validate_name(name)?;
    let invalid = |e: kubeconfig::KubeconfigError| JoinError::InvalidKubeconfig {
        path: "<inline>".into(),
        why: e.0,
    };
    let kc = kubeconfig::parse(member_kubeconfig_yaml).map_err(invalid)?;
    let prepared = prepare(kubeconfig::select(&kc, None).map_err(invalid)?, "<inline>")?;
    ensure_namespace_local(store).await?;
    upsert_local(
        store,
        SECRETS,
        Some(SYSTEM_NAMESPACE),
        secret_object(name, &prepared.yaml),
    )
    .await?;
    let cluster = upsert_local(store, CLUSTERS, None, cluster_object(name, &prepared.server, opts)).await?;
    let uid = cluster
        .pointer("/metadata/uid")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    set_owner_local(store, name, &uid).await
}

fn fed_err(e: ApiError) -> JoinError {
    JoinError::Federation(e.message)
}

async fn ensure_namespace_local(store: &dyn ObjectStore) -> Result<(), JoinError> {
    let ns = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": SYSTEM_NAMESPACE}});
    match store.create(NAMESPACES, ns, MANAGER).await {
        Ok(_) => Ok(()),
        Err(e) if e.reason == "AlreadyExists" => Ok(()),
        Err(e) => Err(fed_err(e)),
    }
}

/// Creates `obj`, or replaces the `spec`/`data`/`type`/labels of the existing object.
async fn upsert_local(store: &dyn ObjectStore, r: Gvr<'_>, ns: Option<&str>, obj: Value) -> Result<Value, JoinError> {
    let name = obj
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    match store.create(r, obj.clone(), MANAGER).await {
        Ok(v) => return Ok(v),
        Err(e) if e.reason == "AlreadyExists" => {}
        Err(e) => return Err(fed_err(e)),
    }
    let update = move |cur: &Value| {
        let mut new = cur.clone();
        for key in ["spec", "data", "type"] {
            if let Some(v) = obj.get(key) {
                new[key] = v.clone();
            }
        }
        if let Some(labels) = obj.pointer("/metadata/labels").and_then(Value::as_object) {
            for (k, v) in labels {
                new["metadata"]["labels"][k] = v.clone();
            }
        }
        (new != *cur).then_some(new)
    };
    store.modify(r, ns, &name, Box::new(update)).await.map_err(fed_err)
}

async fn set_owner_local(store: &dyn ObjectStore, name: &str, uid: &str) -> Result<(), JoinError> {
    if uid.is_empty() {
        return Ok(());
    }
    let refs = owner_reference(name, uid);
    let update = move |cur: &Value| {
        let mut new = cur.clone();
        new["metadata"]["ownerReferences"] = refs.clone();
        (new != *cur).then_some(new)
    };
    let secret = secret_name(name);
    store
        .modify(SECRETS, Some(SYSTEM_NAMESPACE), &secret, Box::new(update))
        .await
        .map(|_| ())
        .map_err(fed_err)
}

// ---------------------------------------------------------------------------------------
// Join over the API (`ubernetes join`).

/// `ubernetes join`: checks the member is reachable with the given credentials, then
/// stores them in a Secret of the federation and creates the Cluster.
pub async fn join(
    federation: kube::Client,
    name: &str,
    member_kubeconfig: &Path,
    context: Option<&str>,
    opts: &JoinOptions,
) -> Result<(), JoinError> {
    validate_name(name)?;
    let prepared = read_member_kubeconfig(member_kubeconfig, context)?;
    verify(&prepared.selected).await?;
    let api = FederationApi::new(federation);
    if api.clusters.get_opt(name).await.map_err(kube_err)?.is_some() {
        return Err(JoinError::AlreadyJoined(name.to_string()));
    }
    api.ensure_namespace().await?;
    api.put_secret(name, &prepared.yaml).await?;
    let cluster = match api.create_cluster(name, &prepared.server, opts).await {
        Ok(c) => c,
        Err(e) => {
            api.delete_secret(&secret_name(name)).await.ok();
            return Err(e);
        }
    };
    api.own_secret(name, cluster.metadata.uid.as_deref().unwrap_or_default())
        .await
}

/// Reads, flattens and checks a member kubeconfig file.
fn read_member_kubeconfig(path: &Path, context: Option<&str>) -> Result<Prepared, JoinError> {
    let shown = path.display().to_string();
    let invalid = |why: String| JoinError::InvalidKubeconfig {
        path: shown.clone(),
        why,
    };
    let text = std::fs::read_to_string(path).map_err(|e| invalid(format!("cannot read it: {e}")))?;
    let kc = kubeconfig::parse(&text).map_err(|e| invalid(e.0))?;
    let selected = kubeconfig::select(&kc, context).map_err(|e| invalid(e.0))?;
    let base = path.parent().unwrap_or(Path::new("."));
    let selected = kubeconfig::embed_files(selected, base).map_err(|e| invalid(e.0))?;
    prepare(selected, &shown)
}

fn kube_err(e: kube::Error) -> JoinError {
    match e {
        kube::Error::Api(s) => JoinError::Federation(format!("{} ({})", s.message, s.code)),
        other => JoinError::Federation(other.to_string()),
    }
}

fn is_status(e: &kube::Error, code: u16) -> bool {
    matches!(e, kube::Error::Api(s) if s.code == code)
}

/// The federation resources that joining touches.
struct FederationApi {
    client: kube::Client,
    clusters: Api<DynamicObject>,
    secrets: Api<k8s_openapi::api::core::v1::Secret>,
    namespaces: Api<k8s_openapi::api::core::v1::Namespace>,
}

impl FederationApi {
    fn new(client: kube::Client) -> Self {
        let gvk = GroupVersionKind::gvk(CLUSTERS.group, CLUSTERS.version, "Cluster");
        let ar = ApiResource::from_gvk_with_plural(&gvk, CLUSTERS.plural);
        Self {
            client: client.clone(),
            clusters: Api::all_with(client.clone(), &ar),
            secrets: Api::namespaced(client.clone(), SYSTEM_NAMESPACE),
            namespaces: Api::all(client),
        }
    }

    /// A client of the member a Cluster points at, from the Secret it refers to.
    async fn member_client(&self, cluster: &DynamicObject) -> Result<MemberClient, JoinError> {
        let at = |p: &str| {
            cluster
                .data
                .pointer(p)
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string()
        };
        let secret_ref = (at("/spec/secretRef/namespace"), at("/spec/secretRef/name"));
        let secrets: Api<k8s_openapi::api::core::v1::Secret> = Api::namespaced(self.client.clone(), &secret_ref.0);
        let secret = secrets.get(&secret_ref.1).await.map_err(kube_err)?;
        let secret = serde_json::to_value(&secret).map_err(|e| JoinError::Other(e.to_string()))?;
        let endpoint = at("/spec/apiEndpoint");
        let endpoint = (!endpoint.is_empty()).then_some(endpoint.as_str());
        Ok(member_api::client_from_secret(&secret, &secret_ref, endpoint, Duration::from_secs(10)).await?)
    }

    async fn ensure_namespace(&self) -> Result<(), JoinError> {
        if self
            .namespaces
            .get_opt(SYSTEM_NAMESPACE)
            .await
            .map_err(kube_err)?
            .is_some()
        {
            return Ok(());
        }
        let ns = serde_json::from_value(json!({"metadata": {"name": SYSTEM_NAMESPACE}}))
            .map_err(|e| JoinError::Other(e.to_string()))?;
        match self.namespaces.create(&PostParams::default(), &ns).await {
            Err(e) if !is_status(&e, 409) => Err(kube_err(e)),
            _ => Ok(()),
        }
    }

    /// Creates the Secret, or replaces one left from an earlier attempt.
    async fn put_secret(&self, name: &str, yaml: &str) -> Result<(), JoinError> {
        let secret = serde_json::from_value(secret_object(name, yaml)).map_err(|e| JoinError::Other(e.to_string()))?;
        match self.secrets.create(&PostParams::default(), &secret).await {
            Ok(_) => Ok(()),
            Err(e) if is_status(&e, 409) => {
                let pp = PatchParams::default();
                let patch = Patch::Merge(secret_object(name, yaml));
                self.secrets
                    .patch(&secret_name(name), &pp, &patch)
                    .await
                    .map(|_| ())
                    .map_err(kube_err)
            }
            Err(e) => Err(kube_err(e)),
        }
    }

    async fn create_cluster(&self, name: &str, server: &str, opts: &JoinOptions) -> Result<DynamicObject, JoinError> {
        let obj: DynamicObject =
            serde_json::from_value(cluster_object(name, server, opts)).map_err(|e| JoinError::Other(e.to_string()))?;
        match self.clusters.create(&PostParams::default(), &obj).await {
            Err(e) if is_status(&e, 409) => Err(JoinError::AlreadyJoined(name.to_string())),
            other => other.map_err(kube_err),
        }
    }

    async fn own_secret(&self, name: &str, uid: &str) -> Result<(), JoinError> {
        if uid.is_empty() {
            return Ok(());
        }
        let patch = Patch::Merge(json!({"metadata": {"ownerReferences": owner_reference(name, uid)}}));
        self.secrets
            .patch(&secret_name(name), &PatchParams::default(), &patch)
            .await
            .map(|_| ())
            .map_err(kube_err)
    }

    /// Deletes a Secret; Ok when it is already gone.
    async fn delete_secret(&self, secret: &str) -> Result<bool, JoinError> {
        match self.secrets.delete(secret, &DeleteParams::default()).await {
            Ok(_) => Ok(true),
            Err(e) if is_status(&e, 404) => Ok(false),
            Err(e) => Err(kube_err(e)),
        }
    }
}

/// `ubernetes unjoin`: removes the Cluster and its Secret.
///
/// Deletes the Secret the Cluster refers to when it lives in `ubernetes-system` (the
/// federation's own), and `ubernetes-system/cluster-<NAME>` in any case. With
/// `remove_propagated`, every object the federation put in the member (those carrying the
/// origin label) is deleted from it as well; otherwise they stay, no longer managed. Returns
/// how many member objects were removed.
pub async fn unjoin(federation: kube::Client, name: &str, remove_propagated: bool) -> Result<usize, JoinError> {
    validate_name(name)?;
    let api = FederationApi::new(federation);
    let cluster = api.clusters.get_opt(name).await.map_err(kube_err)?;
    let mut secrets = vec![secret_name(name)];
    let mut member = None;
    if let Some(c) = &cluster {
        let r = c.data.pointer("/spec/secretRef");
        let ns = r.and_then(|r| r.get("namespace")).and_then(Value::as_str);
        let n = r.and_then(|r| r.get("name")).and_then(Value::as_str);
        if let (Some(SYSTEM_NAMESPACE), Some(n)) = (ns, n)
            && !secrets.iter().any(|s| s == n)
        {
            secrets.push(n.to_string());
        }
        if remove_propagated {
            member = Some(api.member_client(c).await?);
        }
        match api.clusters.delete(name, &DeleteParams::default()).await {
            Err(e) if !is_status(&e, 404) => return Err(kube_err(e)),
            _ => {}
        }
    } else if remove_propagated {
        return Err(JoinError::NotJoined(name.to_string()));
    }
    let mut deleted_secret = false;
    for s in &secrets {
        deleted_secret |= api.delete_secret(s).await?;
    }
    if cluster.is_none() && !deleted_secret {
        return Err(JoinError::NotJoined(name.to_string()));
    }
    let mut removed = 0;
    if let Some(m) = member {
        removed += remove_propagated_objects(m.kube_client()).await?;
        // A reconcile that was in flight when the Cluster went away may still land.
        tokio::time::sleep(Duration::from_secs(2)).await;
        removed += remove_propagated_objects(m.kube_client()).await?;
    }
    Ok(removed)
}

/// Deletes every object carrying the origin label from a member, in every resource that
/// can be listed and deleted there. Returns how many were deleted.
async fn remove_propagated_objects(client: &kube::Client) -> Result<usize, JoinError> {
    let discovery = kube::discovery::Discovery::new(client.clone())
        .run()
        .await
        .map_err(|e| JoinError::Other(format!("discovery of the member failed: {e}")))?;
    let lp = kube::api::ListParams::default().labels(ORIGIN_LABEL);
    let mut removed = 0;
    for group in discovery.groups() {
        for (ar, caps) in group.recommended_resources() {
            if !caps.supports_operation(kube::discovery::verbs::LIST)
                || !caps.supports_operation(kube::discovery::verbs::DELETE)
            {
                continue;
            }
            let api: Api<DynamicObject> = Api::all_with(client.clone(), &ar);
            let Ok(list) = api.list(&lp).await else { continue };
            for o in list.items {
                let Some(n) = o.metadata.name.as_deref() else { continue };
                let scoped: Api<DynamicObject> = match o.metadata.namespace.as_deref() {
                    Some(ns) => Api::namespaced_with(client.clone(), ns, &ar),
                    None => Api::all_with(client.clone(), &ar),
                };
                match scoped.delete(n, &DeleteParams::background()).await {
                    Ok(_) => removed += 1,
                    Err(e) if is_status(&e, 404) => {}
                    Err(e) => {
                        return Err(JoinError::Other(format!(
                            "deleting {} {n} from the member: {e}",
                            ar.kind
                        )));
                    }
                }
            }
        }
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked() {
        assert!(validate_name("member-1").is_ok());
        assert!(validate_name("a.b").is_ok());
        assert!(validate_name("").is_err());
        assert!(validate_name("Member").is_err());
        assert!(validate_name("-a").is_err());
        assert!(validate_name(&"a".repeat(246)).is_err());
    }

    #[test]
    fn cluster_points_at_its_secret() {
        let opts = JoinOptions {
            region: Some("r1".into()),
            zone: None,
            provider: Some(String::new()),
        };
        let c = cluster_object("m1", "https://h:1", &opts);
        assert_eq!(
            c["spec"]["secretRef"],
            json!({"namespace": "ubernetes-system", "name": "cluster-m1"})
        );
        assert_eq!(c["spec"]["region"], "r1");
        assert!(c["spec"].get("zone").is_none() && c["spec"].get("provider").is_none());
        let s = secret_object("m1", "kc");
        assert_eq!(s["type"], "Opaque");
        assert_eq!(s["data"]["kubeconfig"], "a2M=");
    }

    #[test]
    fn errors_read_well() {
        let e = JoinError::InvalidKubeconfig {
            path: "/tmp/x".into(),
            why: "YAML error".into(),
        };
        assert_eq!(e.to_string(), "the cluster kubeconfig /tmp/x is not valid: YAML error");
        let e = JoinError::from(MemberError::Unauthorized("401 Unauthorized".into()));
        assert_eq!(e.to_string(), "the member rejected the credentials (401 Unauthorized)");
    }
}
