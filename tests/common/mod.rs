//! Test harness: starts real `ubernetes` processes on 127.0.0.1 and gives tests
//! kubectl, kube-rs clients and raw HTTPS access to them.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// A running `ubernetes serve` with its own data directory.
pub struct Server {
    /// Data directory (store, PKI, admin.kubeconfig).
    pub dir: tempfile::TempDir,
    /// Port it listens on (kept across restarts).
    pub port: u16,
    /// Path of admin.kubeconfig.
    pub kubeconfig: PathBuf,
    /// kubectl's discovery cache directory for this server.
    pub cache_dir: tempfile::TempDir,
    child: Option<Child>,
}

fn binary() -> &'static str {
    env!("CARGO_BIN_EXE_ubernetes")
}

fn spawn(dir: &Path, port: u16) -> (Child, u16) {
    let mut child = Command::new(binary())
        .args(["serve", "--data-dir"])
        .arg(dir)
        .args(["--secure-port", &port.to_string()])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start ubernetes serve");
    let stdout = child.stdout.take().expect("stdout piped");
    let mut line = String::new();
    let mut reader = BufReader::new(stdout);
    reader.read_line(&mut line).expect("read the serving line");
    let addr = line
        .split_whitespace()
        .find(|w| w.starts_with("https://"))
        .unwrap_or_else(|| panic!("unexpected first line from server: {line:?}"));
    let port = addr
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("port in serving line");
    // Keep draining stdout so the server never blocks on a full pipe.
    std::thread::spawn(move || for _ in reader.lines() {});
    (child, port)
}

impl Server {
    /// Starts a fresh server on a free port.
    pub fn start() -> Server {
        let dir = tempfile::tempdir().expect("tempdir");
        let (child, port) = spawn(dir.path(), 0);
        let kubeconfig = dir.path().join("admin.kubeconfig");
        Server {
            dir,
            port,
            kubeconfig,
            cache_dir: tempfile::tempdir().expect("tempdir"),
            child: Some(child),
        }
    }

    /// `https://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("https://127.0.0.1:{}", self.port)
    }

    /// The admin bearer token.
    pub fn token(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("admin.token"))
            .expect("token")
            .trim()
            .to_string()
    }

    /// The CA certificate (PEM).
    pub fn ca_pem(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("ca.crt")).expect("ca")
    }

    /// Kills the process with SIGKILL (no chance to flush anything).
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts the process again on the same data directory and port.
    pub fn restart(&mut self) {
        self.kill9();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            // The port may linger briefly after the kill.
            let attempt = std::panic::catch_unwind(|| spawn(self.dir.path(), self.port));
            match attempt {
                Ok((child, _)) => {
                    self.child = Some(child);
                    return;
                }
                Err(_) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(200)),
                Err(e) => std::panic::resume_unwind(e),
            }
        }
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        self.child.as_mut().is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    /// A kube-rs client from the admin kubeconfig.
    pub async fn client(&self) -> kube::Client {
        let kc = kube::config::Kubeconfig::read_from(&self.kubeconfig).expect("read kubeconfig");
        let cfg = kube::Config::from_custom_kubeconfig(kc, &Default::default())
            .await
            .expect("kubeconfig");
        kube::Client::try_from(cfg).expect("client")
    }

    /// Runs the machine's kubectl against this server.
    pub fn kubectl(&self, args: &[&str]) -> Output {
        self.kubectl_with("kubectl", args, None)
    }

    /// Runs a given kubectl binary, optionally with stdin.
    pub fn kubectl_with(&self, bin: &str, args: &[&str], stdin: Option<&str>) -> Output {
        use std::io::Write;
        let mut cmd = Command::new(bin);
        cmd.args(args)
            .env("KUBECONFIG", &self.kubeconfig)
            .env("KUBECACHEDIR", self.cache_dir.path())
            .stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().unwrap_or_else(|e| panic!("run {bin}: {e}"));
        if let Some(input) = stdin {
            child
                .stdin
                .take()
                .expect("stdin")
                .write_all(input.as_bytes())
                .expect("write stdin");
        }
        child.wait_with_output().expect("kubectl output")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// stdout of a successful command, or a panic with its stderr.
pub fn ok(out: Output) -> String {
    assert!(
        out.status.success(),
        "command failed ({}):\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Sends a raw request with the admin token; returns (status, body).
pub async fn raw(
    client: &kube::Client,
    method: &str,
    path: &str,
    content_type: Option<&str>,
    body: Vec<u8>,
) -> (u16, serde_json::Value) {
    let mut b = http::Request::builder().method(method).uri(path);
    if let Some(ct) = content_type {
        b = b.header("Content-Type", ct);
    }
    let req = b.body(body).expect("request");
    let resp = client.send(req.map(kube::client::Body::from)).await.expect("send");
    let status = resp.status().as_u16();
    let bytes = http_body_util::BodyExt::collect(resp.into_body())
        .await
        .expect("body")
        .to_bytes();
    let v = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| serde_json::Value::String(String::from_utf8_lossy(&bytes).into_owned()));
    (status, v)
}

impl Server {
    /// A `Command` for a kubectl binary aimed at this server (KUBECONFIG and
    /// cache directory set, stdin closed, stdout/stderr piped), for callers that
    /// need a background process such as `kubectl get -w`.
    pub fn kubectl_command(&self, bin: &str, args: &[&str]) -> Command {
        let mut cmd = Command::new(bin);
        cmd.args(args)
            .env("KUBECONFIG", &self.kubeconfig)
            .env("KUBECACHEDIR", self.cache_dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        cmd
    }

    /// A kube-rs client that trusts the server's CA but sends no credentials.
    pub async fn anonymous_client(&self) -> kube::Client {
        let kc = kube::config::Kubeconfig::read_from(&self.kubeconfig).expect("read kubeconfig");
        let mut cfg = kube::Config::from_custom_kubeconfig(kc, &Default::default())
            .await
            .expect("kubeconfig");
        cfg.auth_info = Default::default();
        kube::Client::try_from(cfg).expect("client")
    }
}

/// Like [`raw`], with extra request headers; also returns the response's
/// Content-Type. Transport errors are returned, not panicked on, so callers can
/// probe the server with hostile input.
pub async fn raw_with_headers(
    client: &kube::Client,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Vec<u8>,
) -> Result<(u16, String, serde_json::Value), kube::Error> {
    let mut b = http::Request::builder().method(method).uri(path);
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    let req = b.body(body).expect("request");
    let resp = client.send(req.map(kube::client::Body::from)).await?;
    let status = resp.status().as_u16();
    let content_type = resp
        .headers()
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let bytes = http_body_util::BodyExt::collect(resp.into_body()).await?.to_bytes();
    let v = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| serde_json::Value::String(String::from_utf8_lossy(&bytes).into_owned()));
    Ok((status, content_type, v))
}
