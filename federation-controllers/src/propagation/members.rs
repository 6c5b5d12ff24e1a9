//! Connections to member clusters: one `kube::Client` (one HTTP/2 connection) per member,
//! built from its credentials Secret; server-side apply; informers on member copies.

use super::render::SOURCE_ANNOTATION;
use apiserver::local::ResourceDesc;
use base64::Engine;
use futures::StreamExt;
use kube::api::{Api, ApiResource, DeleteParams, DynamicObject, Patch, PatchParams};
use parking_lot::Mutex;
use serde_json::Value;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Semaphore, mpsc, watch};

/// Field manager of everything the federation applies to members.
pub const FIELD_MANAGER: &str = "ubernetes";
/// Requests in flight to one member (the rest wait): one busy object cannot starve others.
pub const PER_MEMBER_REQUESTS: usize = 32;

/// A change of a member copy, from a member informer.
#[derive(Debug)]
pub struct MemberEvent {
    /// Member cluster name.
    pub cluster: String,
    /// The federated object it is a copy of (`SOURCE_ANNOTATION`).
    pub source: String,
    /// The copy; None when deleted.
    pub copy: Option<RawCopy>,
}

/// A member copy as delivered, kept serialized (a parsed copy takes about three times the
/// memory, and thousands can wait at once while members report status).
#[derive(Clone, Debug, PartialEq)]
pub struct RawCopy {
    /// Its resourceVersion as a number (None when the member's is not a number).
    pub rv: Option<u64>,
    json: Box<str>,
}

impl RawCopy {
    /// Keeps a copy without its managedFields (the largest part, never read here).
    pub fn of(mut obj: DynamicObject) -> Option<Self> {
        obj.metadata.managed_fields = None;
        let rv = obj.metadata.resource_version.as_deref().and_then(|r| r.parse().ok());
        let json = serde_json::to_string(&obj).ok()?.into_boxed_str();
        Some(Self { rv, json })
    }

    /// Keeps a copy given as JSON.
    pub fn from_value(v: &Value) -> Self {
        let rv = v
            .pointer("/metadata/resourceVersion")
            .and_then(|r| r.as_str())
            .and_then(|r| r.parse().ok());
        Self {
            rv,
            json: v.to_string().into_boxed_str(),
        }
    }

    /// The copy, parsed.
    pub fn value(&self) -> Value {
        serde_json::from_str(&self.json).unwrap_or(Value::Null)
    }
}

/// Where member informers leave copies for the controller. Only the latest state of each
/// (cluster, source) waits: a copy that changes again before the controller took it replaces
/// the older state instead of queueing behind it, so a burst of member status updates costs
/// memory per copy, not per update.
pub struct MemberInbox {
    pending: Mutex<HashMap<(String, String), Option<RawCopy>>>,
    notify: mpsc::UnboundedSender<(String, String)>,
}

impl MemberInbox {
    /// An inbox and the receiver of its notifications (one per newly waiting key).
    pub fn new() -> (Arc<Self>, mpsc::UnboundedReceiver<(String, String)>) {
        let (notify, rx) = mpsc::unbounded_channel();
        let inbox = Arc::new(Self {
            pending: Mutex::new(HashMap::new()),
            notify,
        });
        (inbox, rx)
    }

    /// Leaves the latest state of a copy; false when the controller has gone away.
    pub fn deliver(&self, cluster: String, source: String, copy: Option<RawCopy>) -> bool {
        let key = (cluster, source);
        let fresh = self.pending.lock().insert(key.clone(), copy).is_none();
        !fresh || self.notify.send(key).is_ok()
    }

    /// Takes what waits for a key (None when it was taken already).
    pub fn take(&self, key: &(String, String)) -> Option<MemberEvent> {
        let copy = self.pending.lock().remove(key)?;
        Some(MemberEvent {
            cluster: key.0.clone(),
            source: key.1.clone(),
            copy,
        })
    }
}

/// One connected member.
pub struct Member {
    /// Client of the member (shares one HTTP/2 connection).
    pub client: kube::Client,
    /// resourceVersion of the Secret the client was built from.
    pub secret_rv: String,
    /// Resources with a running informer (`group/plural`).
    pub watched: HashSet<String>,
    /// Namespaces known to exist in the member.
    pub namespaces: HashSet<String>,
    /// Bounds the requests in flight to this member.
    pub permits: Arc<Semaphore>,
    /// Dropping it stops this member's informers (member removed or credentials replaced).
    pub stop: watch::Sender<()>,
}

impl Member {
    /// A member reached through `client`.
    pub fn new(client: kube::Client, secret_rv: String) -> Self {
        Self {
            client,
            secret_rv,
            watched: HashSet::new(),
            namespaces: HashSet::new(),
            permits: Arc::new(Semaphore::new(PER_MEMBER_REQUESTS)),
            stop: watch::channel(()).0,
        }
    }
}

/// The kube-rs description of a resource.
pub fn api_resource(r: &ResourceDesc) -> ApiResource {
    ApiResource {
        group: r.group.clone(),
        version: r.version.clone(),
        api_version: r.api_version(),
        kind: r.kind.clone(),
        plural: r.plural.clone(),
    }
}

/// A dynamic API of `r` in `ns` (ignored for cluster-scoped resources).
pub fn dyn_api(client: &kube::Client, r: &ResourceDesc, ns: &str) -> Api<DynamicObject> {
    let ar = api_resource(r);
    if r.namespaced {
        Api::namespaced_with(client.clone(), ns, &ar)
    } else {
        Api::all_with(client.clone(), &ar)
    }
}

/// Why a member request failed.
#[derive(Debug, thiserror::Error)]
pub enum MemberError {
    /// The member answered with a Status.
    #[error("{message} ({code})")]
    Api {
        /// HTTP status code.
        code: u16,
        /// Status message.
        message: String,
    },
    /// Transport or decoding failure.
    #[error("{0}")]
    Other(String),
    /// No answer in time.
    #[error("timed out")]
    Timeout,
}

impl MemberError {
    fn of(e: kube::Error) -> Self {
        match e {
            kube::Error::Api(s) => MemberError::Api {
                code: s.code,
                message: s.message,
            },
            e => MemberError::Other(e.to_string()),
        }
    }

    /// The member said 404.
    pub fn is_not_found(&self) -> bool {
        matches!(self, MemberError::Api { code: 404, .. })
    }
}

/// One member request with a deadline.
async fn call<T>(
    timeout: Duration,
    request: impl std::future::Future<Output = Result<T, kube::Error>>,
) -> Result<T, MemberError> {
    match tokio::time::timeout(timeout, request).await {
        Ok(r) => r.map_err(MemberError::of),
        Err(_) => Err(MemberError::Timeout),
    }
}

fn to_json(o: DynamicObject) -> Result<Value, MemberError> {
    serde_json::to_value(o).map_err(|e| MemberError::Other(e.to_string()))
}

/// Ok when the object is gone anyway.
fn gone_is_fine<T>(r: Result<T, MemberError>) -> Result<(), MemberError> {
    match r {
        Ok(_) => Ok(()),
        Err(e) if e.is_not_found() => Ok(()),
        Err(e) => Err(e),
    }
}

/// Server-side apply of `obj` to a member (forcing our field manager); returns the copy.
pub async fn ssa(
    client: &kube::Client,
    r: &ResourceDesc,
    ns: &str,
    name: &str,
    obj: &Value,
    timeout: Duration,
) -> Result<Value, MemberError> {
    let api = dyn_api(client, r, ns);
    let params = PatchParams::apply(FIELD_MANAGER).force();
    to_json(call(timeout, api.patch(name, &params, &Patch::Apply(obj))).await?)
}

/// Reads one object from a member; None when it does not exist.
pub async fn get(
    client: &kube::Client,
    r: &ResourceDesc,
    ns: &str,
    name: &str,
    timeout: Duration,
) -> Result<Option<Value>, MemberError> {
    let api = dyn_api(client, r, ns);
    call(timeout, api.get_opt(name)).await?.map(to_json).transpose()
}

/// Deletes one object from a member; Ok when it is already gone.
pub async fn delete(
    client: &kube::Client,
    r: &ResourceDesc,
    ns: &str,
    name: &str,
    timeout: Duration,
) -> Result<(), MemberError> {
    let api = dyn_api(client, r, ns);
    gone_is_fine(call(timeout, api.delete(name, &DeleteParams::background())).await)
}

/// Leaves a copy in the member but no longer the federation's: removes the origin label and
/// the source annotation (a merge patch, so fields the copy holds stay as they are).
pub async fn release(
    client: &kube::Client,
    r: &ResourceDesc,
    ns: &str,
    name: &str,
    timeout: Duration,
) -> Result<(), MemberError> {
    let api = dyn_api(client, r, ns);
    let patch = serde_json::json!({"metadata": {
        "labels": {super::render::ORIGIN_LABEL: null},
        "annotations": {SOURCE_ANNOTATION: null},
    }});
    gone_is_fine(call(timeout, api.patch(name, &PatchParams::default(), &Patch::Merge(&patch))).await)
}

/// A client for a member from its credentials Secret (`data.kubeconfig`).
pub async fn client_from_secret(secret: &Value, timeout: Duration) -> Result<kube::Client, String> {
    let b64 = secret
        .pointer("/data/kubeconfig")
        .and_then(|v| v.as_str())
        .ok_or("the Secret has no kubeconfig key")?;
    let raw = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .map_err(|_| "the kubeconfig is not base64".to_string())?;
    let text = String::from_utf8(raw).map_err(|_| "the kubeconfig is not UTF-8".to_string())?;
    let kc = kube::config::Kubeconfig::from_yaml(&text).map_err(|_| "the kubeconfig is not valid".to_string())?;
    // Whoever can write this Secret must not be able to make the federation run a command
    // or read its files: plugins and file references are refused.
    let unsafe_auth = kc.auth_infos.iter().filter_map(|a| a.auth_info.as_ref()).any(|i| {
        i.exec.is_some()
            || i.auth_provider.is_some()
            || i.token_file.is_some()
            || i.client_certificate.is_some()
            || i.client_key.is_some()
    });
    if unsafe_auth {
        return Err(
            "the kubeconfig uses an exec/auth-provider plugin or file references, which are refused".to_string(),
        );
    }
    let mut cfg = kube::Config::from_custom_kubeconfig(kc, &Default::default())
        .await
        .map_err(|e| format!("unusable kubeconfig: {e}"))?;
    cfg.read_timeout = Some(timeout.max(Duration::from_secs(300)));
    cfg.connect_timeout = Some(timeout);
    kube::Client::try_from(cfg).map_err(|e| format!("cannot build a client: {e}"))
}

/// Runs an informer on the copies (objects carrying `label`) of one resource in a member
/// and forwards their changes until the receiver goes away.
pub fn spawn_informer(
    client: kube::Client,
    r: &ResourceDesc,
    cluster: String,
    label: String,
    inbox: Arc<MemberInbox>,
    mut stop: watch::Receiver<()>,
) {
    let api: Api<DynamicObject> = Api::all_with(client, &api_resource(r));
    let cfg = kube::runtime::watcher::Config::default().labels(&label);
    tokio::spawn(async move {
        // Backoff between failed (re)connections: a member that is down must not make this
        // loop spin.
        let mut stream = kube::runtime::WatchStreamExt::default_backoff(kube::runtime::watcher(api, cfg)).boxed();
        loop {
            use kube::runtime::watcher::Event;
            let ev = tokio::select! {
                ev = stream.next() => match ev {
                    Some(ev) => ev,
                    None => return,
                },
                _ = stop.changed() => return,
            };
            let (obj, deleted) = match ev {
                Ok(Event::Apply(o) | Event::InitApply(o)) => (o, false),
                Ok(Event::Delete(o)) => (o, true),
                Ok(_) => continue,
                Err(e) => {
                    tracing::debug!(%cluster, error = %e, "member watch error");
                    continue;
                }
            };
            let Some(source) = obj
                .metadata
                .annotations
                .as_ref()
                .and_then(|a| a.get(SOURCE_ANNOTATION))
                .cloned()
            else {
                continue;
            };
            let copy = if deleted { None } else { RawCopy::of(obj) };
            if !inbox.deliver(cluster.clone(), source, copy) {
                return;
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_inbox_keeps_only_the_latest_state_per_copy() {
        let (inbox, mut rx) = MemberInbox::new();
        for rv in 1..=5 {
            let copy = RawCopy::from_value(&json!({"rv": rv}));
            assert!(inbox.deliver("m1".into(), "apps/deployments/ns/web".into(), Some(copy)));
        }
        assert!(inbox.deliver("m2".into(), "apps/deployments/ns/web".into(), None));
        let mut keys = Vec::new();
        while let Ok(k) = rx.try_recv() {
            keys.push(k);
        }
        assert_eq!(keys.len(), 2, "one notification per waiting copy");
        let first = inbox.take(&keys[0]).expect("waiting");
        assert_eq!(first.copy.map(|c| c.value()), Some(json!({"rv": 5})));
        assert!(inbox.take(&keys[0]).is_none(), "taken once");
        let second = inbox.take(&keys[1]).expect("waiting");
        assert_eq!((second.cluster.as_str(), second.copy), ("m2", None));
    }
}
