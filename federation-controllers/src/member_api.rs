//! Talking to a member cluster's API: a client built from a self-contained kubeconfig,
//! requests bounded by a timeout, and failures mapped to messages that say what is wrong
//! (unreachable, untrusted certificate, rejected credentials, not ready) without ever
//! containing credentials.

use crate::kubeconfig::{self, KUBECONFIG_KEY, KubeconfigError, Selected};
use base64::Engine;
use http::{Request, header};
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::error::Error as StdError;
use std::time::Duration;

/// The message for a serving certificate the kubeconfig's CA does not sign.
pub const UNTRUSTED_CERT: &str =
    "the member's serving certificate is not trusted by the CA in the kubeconfig (certificate verify failed)";

/// Why a request to a member failed. Each variant maps to a Ready condition reason.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum MemberError {
    /// The stored or given kubeconfig cannot be used.
    #[error("the kubeconfig cannot be used: {0}")]
    InvalidKubeconfig(String),
    /// No connection could be made (refused, timed out, no route, name not resolved).
    #[error("cannot reach {url}: {why}")]
    Unreachable {
        /// Server URL.
        url: String,
        /// What happened.
        why: String,
    },
    /// The TLS handshake failed (for example the serving certificate is not trusted).
    #[error("cannot connect securely to {url}: {why}")]
    Tls {
        /// Server URL.
        url: String,
        /// What happened.
        why: String,
    },
    /// The member answered 401 or 403, or refused the client certificate.
    #[error("the member rejected the credentials ({0})")]
    Unauthorized(String),
    /// `/readyz` answered but not with `ok`.
    #[error("{url}/readyz reports the member is not ready: {why}")]
    NotReady {
        /// Server URL.
        url: String,
        /// Failing checks or status.
        why: String,
    },
    /// Any other failed request.
    #[error("request to {url} failed: {why}")]
    Failed {
        /// Server URL.
        url: String,
        /// What happened.
        why: String,
    },
}

impl MemberError {
    /// The Ready condition reason for this failure.
    pub fn reason(&self) -> &'static str {
        match self {
            MemberError::InvalidKubeconfig(_) => "InvalidKubeconfig",
            MemberError::Unreachable { .. } | MemberError::Tls { .. } => "ClusterNotReachable",
            MemberError::Unauthorized(_) => "InvalidCredentials",
            MemberError::NotReady { .. } | MemberError::Failed { .. } => "ClusterNotReady",
        }
    }
}

impl From<KubeconfigError> for MemberError {
    fn from(e: KubeconfigError) -> Self {
        MemberError::InvalidKubeconfig(e.0)
    }
}

/// A client of one member cluster.
#[derive(Clone)]
pub struct MemberClient {
    client: kube::Client,
    url: String,
    timeout: Duration,
}

impl std::fmt::Debug for MemberClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemberClient")
            .field("url", &self.url)
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl MemberClient {
    /// Builds a client from a self-contained selection; `endpoint` overrides its server.
    /// Each request (and connection attempt) gives up after `timeout`.
    pub async fn new(sel: &Selected, endpoint: Option<&str>, timeout: Duration) -> Result<Self, MemberError> {
        kubeconfig::check_self_contained(sel)?;
        let mut sel = sel.clone();
        if let Some(ep) = endpoint.filter(|e| !e.trim().is_empty()) {
            sel.cluster.server = Some(ep.trim().to_string());
        }
        let url = kubeconfig::display_url(sel.server()?);
        let kc = kubeconfig::single_context(&sel);
        let mut config = kube::Config::from_custom_kubeconfig(kc, &Default::default())
            .await
            .map_err(|e| MemberError::InvalidKubeconfig(mask_kubeconfig_error(&e)))?;
        config.connect_timeout = Some(timeout);
        config.read_timeout = None;
        config.default_retry = false;
        let client = build_client(&config, timeout).map_err(|e| classify(&e, &url))?;
        Ok(Self { client, url, timeout })
    }

    /// The underlying client, for requests beyond the probes (no timeout is applied).
    pub fn kube_client(&self) -> &kube::Client {
        &self.client
    }

    /// The server URL (for messages).
    pub fn url(&self) -> &str {
        &self.url
    }

    async fn text(&self, path: &str, accept: Option<&str>) -> Result<String, MemberError> {
        let mut req = Request::get(path);
        if let Some(a) = accept {
            req = req.header(header::ACCEPT, a);
        }
        let req = req.body(Vec::new()).map_err(|e| self.failed(e.to_string()))?;
        match tokio::time::timeout(self.timeout, self.client.request_text(req)).await {
            Ok(Ok(text)) => Ok(text),
            Ok(Err(e)) => Err(classify(&e, &self.url)),
            Err(_) => Err(MemberError::Unreachable {
                url: self.url.clone(),
                why: format!("no answer within {} (timed out)", human_duration(self.timeout)),
            }),
        }
    }

    fn failed(&self, why: String) -> MemberError {
        MemberError::Failed {
            url: self.url.clone(),
            why,
        }
    }

    /// GETs `path` and decodes the JSON answer.
    pub async fn get_json<T: DeserializeOwned>(&self, path: &str, accept: Option<&str>) -> Result<T, MemberError> {
        let text = self.text(path, accept).await?;
        serde_json::from_str(&text).map_err(|e| self.failed(format!("GET {path}: unexpected answer: {e}")))
    }

    /// `GET /readyz`: Ok when the member answers `ok`.
    pub async fn readyz(&self) -> Result<(), MemberError> {
        let not_ready = |why: String| MemberError::NotReady {
            url: self.url.clone(),
            why,
        };
        match self.text("/readyz", None).await {
            Ok(body) if body.trim() == "ok" => Ok(()),
            Ok(body) => Err(not_ready(summarize_health(&body))),
            Err(MemberError::Failed { why, .. }) => Err(not_ready(why)),
            Err(e) => Err(e),
        }
    }

    /// `GET /version`: the member's `gitVersion`.
    pub async fn git_version(&self) -> Result<String, MemberError> {
        let v: serde_json::Value = self.get_json("/version", None).await?;
        v.get("gitVersion")
            .and_then(|g| g.as_str())
            .map(str::to_string)
            .ok_or_else(|| self.failed("GET /version: no gitVersion".into()))
    }

    /// `GET /api`: an authenticated request, to check the credentials (health and version
    /// endpoints may answer anonymous requests).
    pub async fn check_credentials(&self) -> Result<(), MemberError> {
        self.get_json::<serde_json::Value>("/api", None).await.map(|_| ())
    }
}

/// A `kube::Client` over a hyper client that speaks HTTP/2 when the member offers it
/// (one multiplexed connection per member) and HTTP/1.1 otherwise, with kube's base-URI,
/// auth and header layers. Unlike kube's default stack it has no tracing layer that
/// logs every failed request at ERROR (a down member would log one per probe), and no
/// retries (a probe is retried by the next probe).
fn build_client(config: &kube::Config, connect_timeout: Duration) -> Result<kube::Client, kube::Error> {
    use kube::client::ConfigExt;
    use tower::ServiceBuilder;
    let mut http = hyper_util::client::legacy::connect::HttpConnector::new();
    http.enforce_http(false);
    http.set_connect_timeout(Some(connect_timeout));
    http.set_nodelay(true);
    let builder = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(config.rustls_client_config()?)
        .https_or_http();
    let builder = match &config.tls_server_name {
        Some(name) => {
            let name = rustls::pki_types::ServerName::try_from(name.clone())
                .map_err(|e| kube::Error::RustlsTls(kube::client::RustlsTlsError::InvalidServerName(e)))?;
            builder.with_server_name_resolver(hyper_rustls::FixedServerNameResolver::new(name))
        }
        None => builder,
    };
    let https = builder.enable_http1().enable_http2().wrap_connector(http);
    let hyper = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .pool_idle_timeout(Duration::from_secs(90))
        .build::<_, kube::client::Body>(https);
    let service = ServiceBuilder::new()
        .layer(config.base_uri_layer())
        .option_layer(config.auth_layer()?)
        .layer(config.extra_headers_layer()?)
        .map_err(|e: hyper_util::client::legacy::Error| Box::new(e) as tower::BoxError)
        .service(hyper);
    Ok(kube::Client::new(service, config.default_namespace.clone()))
}

/// Builds a member client from the kubeconfig in a federation Secret (`data.kubeconfig`),
/// refusing kubeconfigs that are not self-contained (exec or auth-provider plugins, file
/// references, disabled certificate verification). `secret_name` is for messages;
/// `endpoint` overrides the kubeconfig's server.
pub async fn client_from_secret(
    secret: &Value,
    (ns, name): &(String, String),
    endpoint: Option<&str>,
    timeout: Duration,
) -> Result<MemberClient, MemberError> {
    let invalid = |why: String| MemberError::InvalidKubeconfig(format!("secret {ns}/{name}: {why}"));
    let encoded = secret
        .pointer(&format!("/data/{KUBECONFIG_KEY}"))
        .and_then(Value::as_str)
        .ok_or_else(|| invalid(format!("no key {KUBECONFIG_KEY:?}")))?;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .map_err(|_| invalid(format!("key {KUBECONFIG_KEY:?} is not valid base64")))?;
    let text = String::from_utf8(bytes).map_err(|_| invalid("the kubeconfig is not UTF-8 text".into()))?;
    let kc = kubeconfig::parse(&text).map_err(|e| invalid(e.0))?;
    let sel = kubeconfig::select(&kc, None).map_err(|e| invalid(e.0))?;
    match MemberClient::new(&sel, endpoint, timeout).await {
        Err(MemberError::InvalidKubeconfig(why)) => Err(invalid(why)),
        other => other,
    }
}

fn human_duration(d: Duration) -> String {
    if d.subsec_millis() == 0 {
        format!("{}s", d.as_secs())
    } else {
        format!("{}ms", d.as_millis())
    }
}

/// The failing checks of a health answer (`[-]etcd failed: ...`), or its first line.
pub fn summarize_health(body: &str) -> String {
    let failing: Vec<&str> = body.lines().map(str::trim).filter(|l| l.starts_with("[-]")).collect();
    let s = if failing.is_empty() {
        body.lines().next().unwrap_or("").trim().to_string()
    } else {
        failing.join(", ")
    };
    truncate(&s, 300)
}

fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

/// Kubeconfig loading errors name fields and decoding problems, never values; parse
/// errors could quote the input, so quoted spans are masked anyway.
fn mask_kubeconfig_error(e: &kube::config::KubeconfigError) -> String {
    kubeconfig::mask_quoted(&e.to_string())
}

/// Maps a client error to what went wrong, for an operator.
pub fn classify(e: &kube::Error, url: &str) -> MemberError {
    match e {
        kube::Error::Api(s) => classify_status(s.code, &s.reason, &s.message, url),
        kube::Error::Auth(_) => MemberError::InvalidKubeconfig("its credentials cannot be used".into()),
        kube::Error::RustlsTls(t) => MemberError::InvalidKubeconfig(format!("its TLS settings cannot be used: {t}")),
        kube::Error::InferKubeconfig(k) => MemberError::InvalidKubeconfig(mask_kubeconfig_error(k)),
        other => classify_transport(other, url),
    }
}

/// Maps an HTTP error status.
pub fn classify_status(code: u16, reason: &str, message: &str, url: &str) -> MemberError {
    match code {
        401 => MemberError::Unauthorized("401 Unauthorized".into()),
        403 => MemberError::Unauthorized("403 Forbidden".into()),
        _ => {
            let what = if reason.is_empty() {
                http_text(code)
            } else {
                reason.to_string()
            };
            let msg = truncate(message.lines().next().unwrap_or("").trim(), 300);
            let why = if msg.is_empty() {
                format!("{code} {what}")
            } else {
                format!("{code} {what}: {msg}")
            };
            MemberError::Failed {
                url: url.to_string(),
                why,
            }
        }
    }
}

fn http_text(code: u16) -> String {
    http::StatusCode::from_u16(code)
        .ok()
        .and_then(|c| c.canonical_reason())
        .unwrap_or("")
        .to_string()
}

/// What a connection-level error means, found by walking its sources.
pub fn classify_transport(e: &(dyn StdError + 'static), url: &str) -> MemberError {
    let mut cur: Option<&(dyn StdError + 'static)> = Some(e);
    let mut deepest = e.to_string();
    let mut dns = false;
    for _ in 0..16 {
        let Some(err) = cur else { break };
        if let Some(found) = classify_one(err, url) {
            return found;
        }
        let text = err.to_string();
        dns |= text.contains("dns error") || text.contains("failed to lookup address");
        deepest = text;
        cur = err.source();
    }
    if dns {
        return MemberError::Unreachable {
            url: url.to_string(),
            why: "its host name cannot be resolved".into(),
        };
    }
    MemberError::Failed {
        url: url.to_string(),
        why: deepest,
    }
}

fn classify_one(err: &(dyn StdError + 'static), url: &str) -> Option<MemberError> {
    if let Some(t) = err.downcast_ref::<rustls::Error>() {
        return Some(classify_tls(t, url));
    }
    let io = err.downcast_ref::<std::io::Error>()?;
    if let Some(t) = io.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) {
        return Some(classify_tls(t, url));
    }
    if let Some(inner) = io.get_ref()
        && let Some(found) = classify_transport_inner(inner, url)
    {
        return Some(found);
    }
    io_reason(io.kind()).map(|why| MemberError::Unreachable {
        url: url.to_string(),
        why: why.into(),
    })
}

fn classify_transport_inner(inner: &(dyn StdError + Send + Sync + 'static), url: &str) -> Option<MemberError> {
    match classify_transport(inner, url) {
        MemberError::Failed { .. } => None,
        other => Some(other),
    }
}

/// Connection failures by I/O error kind.
pub fn io_reason(kind: std::io::ErrorKind) -> Option<&'static str> {
    use std::io::ErrorKind as K;
    Some(match kind {
        K::ConnectionRefused => "connection refused",
        K::TimedOut => "connection timed out",
        K::ConnectionReset => "connection reset by the member",
        K::ConnectionAborted => "connection aborted",
        K::HostUnreachable => "no route to host",
        K::NetworkUnreachable => "network unreachable",
        K::AddrNotAvailable => "address not available",
        K::NotConnected | K::BrokenPipe | K::UnexpectedEof => "connection closed by the member",
        _ => return None,
    })
}

/// TLS failures: certificate problems on either side, or another handshake error.
pub fn classify_tls(e: &rustls::Error, url: &str) -> MemberError {
    use rustls::{AlertDescription as A, CertificateError as C};
    let tls = |why: String| MemberError::Tls {
        url: url.to_string(),
        why,
    };
    match e {
        rustls::Error::InvalidCertificate(c) => match c {
            C::UnknownIssuer | C::BadSignature => tls(UNTRUSTED_CERT.into()),
            C::NotValidForName | C::NotValidForNameContext { .. } => tls(format!(
                "the member's serving certificate is not valid for {url} (certificate verify failed)"
            )),
            C::Expired | C::ExpiredContext { .. } | C::NotValidYet | C::NotValidYetContext { .. } => tls(
                "the member's serving certificate has expired or is not yet valid (certificate verify failed)".into(),
            ),
            other => tls(format!(
                "the member's serving certificate is invalid: {other:?} (certificate verify failed)"
            )),
        },
        rustls::Error::AlertReceived(
            a @ (A::BadCertificate
            | A::UnknownCA
            | A::CertificateUnknown
            | A::CertificateRequired
            | A::AccessDenied
            | A::CertificateRevoked
            | A::CertificateExpired),
        ) => MemberError::Unauthorized(format!("TLS alert {a:?}: client certificate refused")),
        other => tls(format!("TLS handshake failed: {other}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const URL: &str = "https://127.0.0.1:1";

    #[test]
    fn statuses_map_to_reasons() {
        let e = classify_status(401, "Unauthorized", "Unauthorized", URL);
        assert_eq!(e.to_string(), "the member rejected the credentials (401 Unauthorized)");
        assert_eq!(e.reason(), "InvalidCredentials");
        assert_eq!(
            classify_status(403, "Forbidden", "x", URL).reason(),
            "InvalidCredentials"
        );
        let e = classify_status(500, "", "boom\nmore", URL);
        assert_eq!(
            e.to_string(),
            "request to https://127.0.0.1:1 failed: 500 Internal Server Error: boom"
        );
        assert_eq!(e.reason(), "ClusterNotReady");
    }

    #[test]
    fn refused_connections_are_unreachable() {
        let io = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        let e = classify_transport(&io, URL);
        assert_eq!(e.to_string(), "cannot reach https://127.0.0.1:1: connection refused");
        assert_eq!(e.reason(), "ClusterNotReachable");
    }

    #[test]
    fn wrapped_tls_errors_are_found() {
        let tls = rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer);
        let io = std::io::Error::new(std::io::ErrorKind::InvalidData, tls);
        let e = classify_transport(&io, URL);
        assert_eq!(
            e.to_string(),
            format!("cannot connect securely to {URL}: {UNTRUSTED_CERT}")
        );
        let alert = rustls::Error::AlertReceived(rustls::AlertDescription::BadCertificate);
        assert_eq!(classify_tls(&alert, URL).reason(), "InvalidCredentials");
    }

    #[test]
    fn health_bodies_are_summarized() {
        assert_eq!(
            summarize_health("[+]ping ok\n[-]etcd failed: reason withheld\nreadyz check failed"),
            "[-]etcd failed: reason withheld"
        );
        assert_eq!(summarize_health("starting\n"), "starting");
        assert!(summarize_health(&"x".repeat(1000)).len() < 320);
    }

    #[tokio::test]
    async fn broken_secrets_say_why_without_contents() {
        let key = ("ubernetes-system".to_string(), "cluster-m1".to_string());
        let t = Duration::from_secs(1);
        let e = client_from_secret(&serde_json::json!({"data": {}}), &key, None, t)
            .await
            .expect_err("no key");
        assert_eq!(
            e.to_string(),
            "the kubeconfig cannot be used: secret ubernetes-system/cluster-m1: no key \"kubeconfig\""
        );
        let bad = base64::engine::general_purpose::STANDARD.encode("users: \"s3cr3t\"");
        let e = client_from_secret(&serde_json::json!({"data": {"kubeconfig": bad}}), &key, None, t)
            .await
            .expect_err("bad yaml");
        assert!(!e.to_string().contains("s3cr3t"), "{e}");
        assert_eq!(e.reason(), "InvalidKubeconfig");
    }
}
