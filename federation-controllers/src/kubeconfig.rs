//! Member kubeconfigs: parsing (with error messages that never quote the file), flattening
//! to one context with embedded credentials, and the restrictions on kubeconfigs that the
//! federation stores in Secrets.
//!
//! A kubeconfig read from a Secret must be self-contained: file references would read the
//! federation host's files, and exec or auth-provider plugins would run commands on it.

use base64::Engine;
use kube::config::{AuthInfo, Cluster, Context, Kubeconfig, NamedAuthInfo, NamedCluster, NamedContext};
use std::path::Path;

/// The namespace of the federation that holds member credentials.
pub const SYSTEM_NAMESPACE: &str = "ubernetes-system";
/// The key of a member Secret that holds its kubeconfig.
pub const KUBECONFIG_KEY: &str = "kubeconfig";

/// Why a kubeconfig cannot be used. Messages never contain credentials.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct KubeconfigError(pub String);

fn err(msg: impl Into<String>) -> KubeconfigError {
    KubeconfigError(msg.into())
}

/// Parses kubeconfig YAML (or JSON); multiple documents are merged as kubectl does.
///
/// Parse errors report a position and the parser's reason with quoted text masked, since
/// the offending text may be a token.
pub fn parse(text: &str) -> Result<Kubeconfig, KubeconfigError> {
    let docs: Vec<Kubeconfig> = serde_saphyr::from_multiple(text).map_err(|e| err(describe_yaml_error(&e)))?;
    let mut merged = Kubeconfig::default();
    for doc in docs {
        merged = merged
            .merge(doc)
            .map_err(|e| err(format!("cannot merge its documents: {e}")))?;
    }
    Ok(merged)
}

fn describe_yaml_error(e: &serde_saphyr::Error) -> String {
    let first = e.to_string().lines().next().unwrap_or("").to_string();
    let mut why = first.strip_prefix("error: ").unwrap_or(&first).to_string();
    match e.location() {
        Some(l) => {
            let at = format!("line {} column {}: ", l.line(), l.column());
            why = why.strip_prefix(&at).map(str::to_string).unwrap_or(why);
            format!(
                "YAML error at line {}, column {}: {}",
                l.line(),
                l.column(),
                mask_quoted(&why)
            )
        }
        None => format!("YAML error: {}", mask_quoted(&why)),
    }
}

/// Replaces the contents of quoted spans (`"..."`, `'...'`, `` `...` ``) with `…`.
pub fn mask_quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut open: Option<char> = None;
    for c in s.chars() {
        match open {
            Some(q) if c == q => {
                out.push('…');
                out.push(c);
                open = None;
            }
            Some(_) => {}
            None => {
                out.push(c);
                if matches!(c, '"' | '\'' | '`') {
                    open = Some(c);
                }
            }
        }
    }
    if open.is_some() {
        out.push('…');
    }
    out
}

/// The context, cluster and user a kubeconfig selects.
#[derive(Clone, Debug)]
pub struct Selected {
    /// Name of the context.
    pub context_name: String,
    /// The context.
    pub context: Context,
    /// The cluster it names.
    pub cluster: Cluster,
    /// The user it names (anonymous when absent).
    pub user: AuthInfo,
}

impl Selected {
    /// The server URL, as written in the kubeconfig.
    pub fn server(&self) -> Result<&str, KubeconfigError> {
        self.cluster
            .server
            .as_deref()
            .filter(|s| !s.trim().is_empty())
            .ok_or_else(|| {
                err(format!(
                    "cluster {:?} of context {:?} has no server",
                    self.context.cluster, self.context_name
                ))
            })
    }
}

/// Picks `context` (or the current context) and the cluster and user it refers to.
pub fn select(kc: &Kubeconfig, context: Option<&str>) -> Result<Selected, KubeconfigError> {
    let name = match context.or(kc.current_context.as_deref()).filter(|c| !c.is_empty()) {
        Some(n) => n.to_string(),
        None => return Err(err("it has no current-context; choose one with --cluster-context")),
    };
    let ctx = kc
        .contexts
        .iter()
        .find(|c| c.name == name)
        .and_then(|c| c.context.clone())
        .ok_or_else(|| {
            let names: Vec<&str> = kc.contexts.iter().map(|c| c.name.as_str()).collect();
            err(format!("context {name:?} not found (contexts: {})", names.join(", ")))
        })?;
    let cluster = kc
        .clusters
        .iter()
        .find(|c| c.name == ctx.cluster)
        .and_then(|c| c.cluster.clone())
        .ok_or_else(|| err(format!("cluster {:?} of context {name:?} not found", ctx.cluster)))?;
    let user = match &ctx.user {
        Some(u) => kc
            .auth_infos
            .iter()
            .find(|a| &a.name == u)
            .and_then(|a| a.auth_info.clone())
            .ok_or_else(|| err(format!("user {u:?} of context {name:?} not found")))?,
        None => AuthInfo::default(),
    };
    Ok(Selected {
        context_name: name,
        context: ctx,
        cluster,
        user,
    })
}

/// Refuses what the federation will not use from a stored kubeconfig: plugins that run
/// commands, references to files, and disabled certificate verification.
pub fn check_self_contained(s: &Selected) -> Result<(), KubeconfigError> {
    let u = &s.user;
    if u.exec.is_some() {
        return Err(err(
            "it uses an exec credential plugin; the federation needs embedded credentials (a token or a client certificate)",
        ));
    }
    if u.auth_provider.is_some() {
        return Err(err(
            "it uses an auth-provider plugin; the federation needs embedded credentials (a token or a client certificate)",
        ));
    }
    let files = [
        ("certificate-authority", s.cluster.certificate_authority.is_some()),
        (
            "client-certificate",
            u.client_certificate.is_some() && u.client_certificate_data.is_none(),
        ),
        ("client-key", u.client_key.is_some() && u.client_key_data.is_none()),
        ("tokenFile", u.token_file.is_some() && u.token.is_none()),
    ];
    if let Some((field, _)) = files.iter().find(|(_, set)| *set) {
        return Err(err(format!(
            "it refers to a file ({field}); credentials must be embedded (use the *-data fields)"
        )));
    }
    check_tls_verified(&s.cluster)
}

fn check_tls_verified(c: &Cluster) -> Result<(), KubeconfigError> {
    if c.insecure_skip_tls_verify == Some(true) {
        return Err(err(
            "it disables verification of the member's serving certificate (insecure-skip-tls-verify); \
             put the member's CA in certificate-authority-data instead",
        ));
    }
    Ok(())
}

fn read_file(base: &Path, path: &str, what: &str) -> Result<Vec<u8>, KubeconfigError> {
    let p = base.join(path);
    std::fs::read(&p).map_err(|e| err(format!("cannot read its {what} file {}: {e}", p.display())))
}

fn b64(data: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(data)
}

/// Embeds the files a selected context refers to (relative to `base`), so that the result
/// is self-contained. Plugins and `insecure-skip-tls-verify` are refused.
pub fn embed_files(mut s: Selected, base: &Path) -> Result<Selected, KubeconfigError> {
    if let Some(path) = s.cluster.certificate_authority.take() {
        s.cluster.certificate_authority_data = Some(b64(&read_file(base, &path, "certificate-authority")?));
    }
    let u = &mut s.user;
    if let Some(path) = u.client_certificate.take()
        && u.client_certificate_data.is_none()
    {
        u.client_certificate_data = Some(b64(&read_file(base, &path, "client-certificate")?));
    }
    if let Some(path) = u.client_key.take()
        && u.client_key_data.is_none()
    {
        u.client_key_data = Some(b64(&read_file(base, &path, "client-key")?).into());
    }
    if let Some(path) = u.token_file.take()
        && u.token.is_none()
    {
        let token = String::from_utf8(read_file(base, &path, "tokenFile")?)
            .map_err(|_| err("its tokenFile is not UTF-8 text"))?;
        u.token = Some(token.trim().to_string().into());
    }
    check_self_contained(&s)?;
    Ok(s)
}

/// A kubeconfig holding only the selected context, its cluster and its user.
pub fn single_context(s: &Selected) -> Kubeconfig {
    let user_name = s
        .context
        .user
        .clone()
        .unwrap_or_else(|| format!("{}-user", s.context_name));
    let mut context = s.context.clone();
    context.user = Some(user_name.clone());
    Kubeconfig {
        clusters: vec![NamedCluster {
            name: s.context.cluster.clone(),
            cluster: Some(s.cluster.clone()),
            ..Default::default()
        }],
        auth_infos: vec![NamedAuthInfo {
            name: user_name,
            auth_info: Some(s.user.clone()),
            ..Default::default()
        }],
        contexts: vec![NamedContext {
            name: s.context_name.clone(),
            context: Some(context),
            ..Default::default()
        }],
        current_context: Some(s.context_name.clone()),
        kind: Some("Config".into()),
        api_version: Some("v1".into()),
        ..Default::default()
    }
}

/// Serializes a kubeconfig as YAML (credentials included: only for storing in a Secret).
pub fn to_yaml(kc: &Kubeconfig) -> Result<String, KubeconfigError> {
    serde_saphyr::to_string(kc).map_err(|e| err(format!("cannot serialize the kubeconfig: {e}")))
}

/// A URL for messages: the server without any user-info part.
pub fn display_url(server: &str) -> String {
    let s = server.trim().trim_end_matches('/');
    match s.split_once("://") {
        Some((scheme, rest)) => {
            let (authority, path) = rest.split_once('/').map_or((rest, ""), |(a, p)| (a, p));
            let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
            if path.is_empty() {
                format!("{scheme}://{host}")
            } else {
                format!("{scheme}://{host}/{path}")
            }
        }
        None => s.rsplit_once('@').map_or(s, |(_, h)| h).to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KC: &str = "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: https://127.0.0.1:1234\n    certificate-authority-data: Q0E=\nusers:\n- name: u\n  user:\n    token: s3cr3t-token\ncontexts:\n- name: ctx\n  context:\n    cluster: c\n    user: u\n    namespace: default\ncurrent-context: ctx\n";

    #[test]
    fn parses_and_selects_current_context() {
        let kc = parse(KC).expect("parse");
        let s = select(&kc, None).expect("select");
        assert_eq!(s.server().expect("server"), "https://127.0.0.1:1234");
        assert!(check_self_contained(&s).is_ok());
    }

    #[test]
    fn unknown_context_lists_the_known_ones() {
        let kc = parse(KC).expect("parse");
        let e = select(&kc, Some("nope")).expect_err("missing");
        assert!(e.0.contains("\"nope\" not found (contexts: ctx)"), "{e}");
    }

    #[test]
    fn parse_errors_do_not_quote_the_file() {
        let bad = "apiVersion: v1\nusers:\n- name: u\n  user:\n    token: [s3cr3t-token\n";
        let e = parse(bad).expect_err("malformed");
        assert!(!e.0.contains("s3cr3t"), "{e}");
        let bad = "clusters: \"s3cr3t-token\"\n";
        let e = parse(bad).expect_err("wrong type");
        assert!(!e.0.contains("s3cr3t"), "{e}");
        assert!(e.0.contains("line"), "{e}");
    }

    #[test]
    fn masks_quoted_text() {
        assert_eq!(
            mask_quoted(r#"invalid type: string "abc", expected a map"#),
            r#"invalid type: string "…", expected a map"#
        );
        assert_eq!(mask_quoted("unterminated 'abc"), "unterminated '…");
    }

    #[test]
    fn refuses_plugins_files_and_insecure() {
        let with = |extra: &str| {
            let text = KC.replace("    token: s3cr3t-token\n", extra);
            check_self_contained(&select(&parse(&text).expect("parse"), None).expect("select"))
        };
        assert!(with("    exec:\n      command: aws\n      apiVersion: client.authentication.k8s.io/v1\n").is_err());
        assert!(with("    tokenFile: /etc/token\n").is_err());
        assert!(with("    client-certificate: a.crt\n    client-key: a.key\n").is_err());
        let insecure = KC.replace("certificate-authority-data: Q0E=", "insecure-skip-tls-verify: true");
        let s = select(&parse(&insecure).expect("parse"), None).expect("select");
        assert!(
            check_self_contained(&s)
                .expect_err("insecure")
                .0
                .contains("insecure-skip-tls-verify")
        );
    }

    #[test]
    fn embeds_files_and_round_trips() {
        let dir = std::env::temp_dir().join(format!("ubernetes-kc-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        std::fs::write(dir.join("ca.crt"), "CA").expect("write");
        std::fs::write(dir.join("token"), "tok\n").expect("write");
        let text = KC
            .replace("certificate-authority-data: Q0E=", "certificate-authority: ca.crt")
            .replace("token: s3cr3t-token", "tokenFile: token");
        let s = embed_files(select(&parse(&text).expect("parse"), None).expect("select"), &dir).expect("embed");
        let yaml = to_yaml(&single_context(&s)).expect("yaml");
        let back = select(&parse(&yaml).expect("reparse"), None).expect("select");
        assert_eq!(back.cluster.certificate_authority_data.as_deref(), Some("Q0E="));
        assert!(back.user.token.is_some());
        assert!(check_self_contained(&back).is_ok());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn urls_lose_user_info() {
        assert_eq!(display_url("https://u:p@host:6443/"), "https://host:6443");
        assert_eq!(display_url("https://host:6443/prefix"), "https://host:6443/prefix");
    }
}
