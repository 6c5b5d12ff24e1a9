//! The server's PKI: a CA and a serving certificate generated on first start, and the
//! admin kubeconfig that trusts them.

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose,
    SanType,
};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Errors setting up TLS.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// Certificate generation failed.
    #[error("certificate generation: {0}")]
    Rcgen(#[from] rcgen::Error),
    /// PEM parsing failed.
    #[error("PEM: {0}")]
    Pem(String),
    /// rustls rejected the configuration.
    #[error("TLS configuration: {0}")]
    Rustls(#[from] rustls::Error),
}

/// Files of the server's PKI in its data directory.
#[derive(Clone, Debug)]
pub struct Pki {
    /// CA certificate (PEM).
    pub ca_cert_pem: String,
    /// Serving certificate (PEM).
    pub serving_cert_pem: String,
    /// Serving key (PEM).
    pub serving_key_pem: String,
    /// Admin bearer token.
    pub admin_token: String,
}

fn read(path: &Path) -> Result<Option<String>, TlsError> {
    match std::fs::read_to_string(path) {
        Ok(s) => Ok(Some(s)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(TlsError::Io {
            path: path.into(),
            source,
        }),
    }
}

fn write_private(path: &Path, contents: &str) -> Result<(), TlsError> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let io = |source| TlsError::Io {
        path: path.into(),
        source,
    };
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .mode(0o600)
        .open(path)
        .map_err(io)?;
    f.write_all(contents.as_bytes()).map_err(io)?;
    f.sync_all().map_err(io)
}

fn random_token() -> String {
    use rand::Rng;
    let mut rng = rand::rng();
    (0..40)
        .map(|_| char::from(b"abcdefghijklmnopqrstuvwxyz0123456789"[rng.random_range(0..36)]))
        .collect()
}

impl Pki {
    /// Loads the PKI from `dir`, generating what is missing (CA, serving cert for
    /// `hosts`, admin token).
    pub fn load_or_create(dir: &Path, hosts: &[String]) -> Result<Self, TlsError> {
        let ca_cert_path = dir.join("ca.crt");
        let ca_key_path = dir.join("ca.key");
        let (ca_cert_pem, ca_key_pem) = match (read(&ca_cert_path)?, read(&ca_key_path)?) {
            (Some(c), Some(k)) => (c, k),
            _ => {
                let mut p = CertificateParams::new(Vec::<String>::new())?;
                p.distinguished_name.push(DnType::CommonName, "ubernetes-ca");
                p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
                p.key_usages = vec![
                    KeyUsagePurpose::KeyCertSign,
                    KeyUsagePurpose::CrlSign,
                    KeyUsagePurpose::DigitalSignature,
                ];
                p.not_after = rcgen::date_time_ymd(2036, 1, 1);
                let key = KeyPair::generate()?;
                let cert = p.self_signed(&key)?;
                write_private(&ca_key_path, &key.serialize_pem())?;
                write_private(&ca_cert_path, &cert.pem())?;
                (cert.pem(), key.serialize_pem())
            }
        };
        let cert_path = dir.join("serving.crt");
        let key_path = dir.join("serving.key");
        let (serving_cert_pem, serving_key_pem) = match (read(&cert_path)?, read(&key_path)?) {
            (Some(c), Some(k)) => (c, k),
            _ => {
                let ca_key = KeyPair::from_pem(&ca_key_pem)?;
                let issuer = Issuer::from_ca_cert_pem(&ca_cert_pem, ca_key)?;
                let mut p = CertificateParams::new(Vec::<String>::new())?;
                p.distinguished_name.push(DnType::CommonName, "ubernetes-apiserver");
                let mut names: Vec<String> =
                    vec!["localhost".into(), "127.0.0.1".into(), "kubernetes.default.svc".into()];
                names.extend(hosts.iter().cloned());
                names.sort();
                names.dedup();
                for n in names {
                    let san = match n.parse::<std::net::IpAddr>() {
                        Ok(ip) => SanType::IpAddress(ip),
                        Err(_) => SanType::DnsName(n.as_str().try_into()?),
                    };
                    p.subject_alt_names.push(san);
                }
                p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
                p.not_after = rcgen::date_time_ymd(2035, 1, 1);
                let key = KeyPair::generate()?;
                let cert = p.signed_by(&key, &issuer)?;
                write_private(&key_path, &key.serialize_pem())?;
                write_private(&cert_path, &cert.pem())?;
                (cert.pem(), key.serialize_pem())
            }
        };
        let token_path = dir.join("admin.token");
        let admin_token = match read(&token_path)? {
            Some(t) if !t.trim().is_empty() => t.trim().to_string(),
            _ => {
                let t = random_token();
                write_private(&token_path, &t)?;
                t
            }
        };
        Ok(Self {
            ca_cert_pem,
            serving_cert_pem,
            serving_key_pem,
            admin_token,
        })
    }

    /// A rustls server config (HTTP/2 and HTTP/1.1 via ALPN).
    pub fn server_config(&self) -> Result<Arc<rustls::ServerConfig>, TlsError> {
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(self.serving_cert_pem.as_bytes())
            .collect::<Result<_, _>>()
            .map_err(|e| TlsError::Pem(e.to_string()))?;
        let key =
            PrivateKeyDer::from_pem_slice(self.serving_key_pem.as_bytes()).map_err(|e| TlsError::Pem(e.to_string()))?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut cfg = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_single_cert(certs, key)?;
        cfg.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(Arc::new(cfg))
    }

    /// An admin kubeconfig for `server` (e.g. `https://127.0.0.1:6443`).
    pub fn admin_kubeconfig(&self, server: &str, name: &str) -> String {
        use base64::Engine;
        let ca = base64::engine::general_purpose::STANDARD.encode(&self.ca_cert_pem);
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: {name}\n  cluster:\n    server: {server}\n    certificate-authority-data: {ca}\nusers:\n- name: {name}-admin\n  user:\n    token: {token}\ncontexts:\n- name: {name}\n  context:\n    cluster: {name}\n    user: {name}-admin\n    namespace: default\ncurrent-context: {name}\n",
            token = self.admin_token
        )
    }

    /// Writes the admin kubeconfig (mode 0600).
    pub fn write_admin_kubeconfig(&self, path: &Path, server: &str, name: &str) -> Result<(), TlsError> {
        write_private(path, &self.admin_kubeconfig(server, name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generates_once_and_reloads() {
        let dir = tempfile::tempdir().expect("tempdir");
        let a = Pki::load_or_create(dir.path(), &["example.test".into()]).expect("create");
        let b = Pki::load_or_create(dir.path(), &[]).expect("reload");
        assert_eq!(a.ca_cert_pem, b.ca_cert_pem);
        assert_eq!(a.admin_token, b.admin_token);
        assert!(a.server_config().is_ok());
        let kc = a.admin_kubeconfig("https://127.0.0.1:6443", "ubernetes");
        assert!(kc.contains("token: "));
        assert!(kc.contains("certificate-authority-data: "));
    }
}
