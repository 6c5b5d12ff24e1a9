//! The small server behind a LoadBalancer address: HTTP clients get `200 OK` with a JSON
//! body naming the cluster, the Service and the port; anything else gets one line,
//! `cluster=<name> service=<ns>/<name>`. Every read is bounded in size and time.

use crate::MemberError;
use serde_json::json;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio::task::JoinHandle;

/// Most bytes of a request read (the request line and headers; bodies are not needed).
pub const MAX_REQUEST: usize = 16 * 1024;
/// How long a silent client is given before it gets the plain-text line.
const SILENT_CLIENT: Duration = Duration::from_millis(300);
/// Deadline of one connection, start to finish.
const CONNECTION_DEADLINE: Duration = Duration::from_secs(10);
/// Time given to the client to stop sending after the answer (avoids resetting the answer).
const LINGER: Duration = Duration::from_millis(500);
/// Connections served at once per address.
const MAX_CONNECTIONS: usize = 256;

/// Request methods recognised as HTTP.
const METHODS: [&str; 9] = [
    "GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH", "CONNECT", "TRACE",
];

/// Who answers: the cluster and the Service.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    /// Cluster name.
    pub cluster: String,
    /// Namespace of the Service.
    pub namespace: String,
    /// Name of the Service.
    pub name: String,
}

/// What the first bytes of a connection say about its protocol.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sniff {
    /// An HTTP request line (`METHOD `).
    Http,
    /// Something else.
    Other,
    /// Too few bytes to tell.
    NeedMore,
}

/// Classifies the first bytes of a connection.
pub fn sniff(buf: &[u8]) -> Sniff {
    let mut partial = buf.is_empty();
    for m in METHODS {
        let token = [m.as_bytes(), b" "].concat();
        if buf.starts_with(&token) {
            return Sniff::Http;
        }
        partial |= token.starts_with(buf);
    }
    if partial { Sniff::NeedMore } else { Sniff::Other }
}

/// The plain-text answer.
pub fn text_line(id: &Identity) -> String {
    format!("cluster={} service={}/{}\n", id.cluster, id.namespace, id.name)
}

/// Whether a header value is safe to send as is (no control characters).
fn header_safe(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| (0x20..0x7f).contains(&b))
}

/// The HTTP answer to a request whose first bytes are `request` (no body for HEAD).
pub fn http_response(id: &Identity, port: u16, request: &[u8]) -> Vec<u8> {
    let body = json!({
        "cluster": id.cluster,
        "service": format!("{}/{}", id.namespace, id.name),
        "namespace": id.namespace,
        "name": id.name,
        "port": port,
    })
    .to_string()
        + "\n";
    let mut head = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    if header_safe(&id.cluster) {
        head.push_str(&format!("X-Ubernetes-Cluster: {}\r\n", id.cluster));
    }
    head.push_str("\r\n");
    let mut out = head.into_bytes();
    if !request.starts_with(b"HEAD ") {
        out.extend_from_slice(body.as_bytes());
    }
    out
}

/// Whether `buf` holds a complete request head.
fn head_complete(buf: &[u8]) -> bool {
    buf.windows(4).any(|w| w == b"\r\n\r\n") || buf.windows(2).any(|w| w == b"\n\n")
}

/// Reads more bytes into `buf` (up to [`MAX_REQUEST`]) within `wait`; false on EOF, timeout or error.
async fn read_more(stream: &mut TcpStream, buf: &mut Vec<u8>, wait: Duration) -> bool {
    let mut chunk = [0u8; 2048];
    let room = (MAX_REQUEST - buf.len()).min(chunk.len());
    if room == 0 {
        return false;
    }
    match tokio::time::timeout(wait, stream.read(&mut chunk[..room])).await {
        Ok(Ok(n)) if n > 0 => {
            buf.extend_from_slice(&chunk[..n]);
            true
        }
        _ => false,
    }
}

/// Serves one connection.
async fn handle(mut stream: TcpStream, id: &Identity, port: u16) {
    let mut buf = Vec::new();
    let mut kind = Sniff::NeedMore;
    while kind == Sniff::NeedMore {
        let wait = if buf.is_empty() {
            SILENT_CLIENT
        } else {
            CONNECTION_DEADLINE
        };
        if !read_more(&mut stream, &mut buf, wait).await {
            kind = Sniff::Other;
            break;
        }
        kind = sniff(&buf);
    }
    let answer = if kind == Sniff::Http {
        while !head_complete(&buf) && read_more(&mut stream, &mut buf, CONNECTION_DEADLINE).await {}
        http_response(id, port, &buf)
    } else {
        text_line(id).into_bytes()
    };
    if stream.write_all(&answer).await.is_err() || stream.shutdown().await.is_err() {
        return;
    }
    // Read what the client still sends (bounded) so closing does not reset the answer.
    let mut sink = [0u8; 4096];
    let mut drained = 0;
    while drained < 64 * 1024 {
        match tokio::time::timeout(LINGER, stream.read(&mut sink)).await {
            Ok(Ok(n)) if n > 0 => drained += n,
            _ => break,
        }
    }
}

/// Accepts connections on `listener` forever, answering as `id`.
pub async fn serve(listener: TcpListener, id: Arc<Identity>) {
    let port = listener.local_addr().map(|a| a.port()).unwrap_or(0);
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        let Ok(permit) = slots.clone().acquire_owned().await else {
            return;
        };
        match listener.accept().await {
            Ok((stream, _)) => {
                let id = id.clone();
                tokio::spawn(async move {
                    let _ = tokio::time::timeout(CONNECTION_DEADLINE, handle(stream, &id, port)).await;
                    drop(permit);
                });
            }
            Err(e) => {
                tracing::debug!(error = %e, "accepting a connection");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

/// Binds a TCP listener on `addr`.
pub async fn bind(addr: SocketAddr) -> Result<TcpListener, MemberError> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| MemberError::Bind { addr, source })
}

/// A running responder; dropping it stops listening.
#[derive(Debug)]
pub struct Responder {
    addr: SocketAddr,
    task: JoinHandle<()>,
}

impl Responder {
    /// Starts answering on `listener`.
    pub fn spawn(listener: TcpListener, id: Identity) -> Result<Self, MemberError> {
        let addr = listener.local_addr().map_err(|source| MemberError::Bind {
            addr: ([0, 0, 0, 0], 0).into(),
            source,
        })?;
        let task = tokio::spawn(serve(listener, Arc::new(id)));
        Ok(Self { addr, task })
    }

    /// Binds `addr` and starts answering there.
    pub async fn start(addr: SocketAddr, id: Identity) -> Result<Self, MemberError> {
        Self::spawn(bind(addr).await?, id)
    }

    /// The address answered on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for Responder {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id() -> Identity {
        Identity {
            cluster: "m1".into(),
            namespace: "default".into(),
            name: "web".into(),
        }
    }

    #[test]
    fn sniffs_http_methods() {
        assert_eq!(sniff(b""), Sniff::NeedMore);
        assert_eq!(sniff(b"GE"), Sniff::NeedMore);
        assert_eq!(sniff(b"GET"), Sniff::NeedMore);
        assert_eq!(sniff(b"GET /"), Sniff::Http);
        assert_eq!(sniff(b"POST /x HTTP/1.1"), Sniff::Http);
        assert_eq!(sniff(b"hello"), Sniff::Other);
        assert_eq!(sniff(b"\x16\x03\x01"), Sniff::Other);
        assert_eq!(sniff(b"GETX"), Sniff::Other);
    }

    #[test]
    fn answers() {
        assert_eq!(text_line(&id()), "cluster=m1 service=default/web\n");
        let r = String::from_utf8(http_response(&id(), 80, b"GET / HTTP/1.1\r\n\r\n")).unwrap_or_default();
        assert!(r.starts_with("HTTP/1.1 200 OK\r\n"));
        assert!(r.contains("Connection: close\r\n"));
        assert!(r.contains("\"service\":\"default/web\"") && r.contains("\"port\":80"));
        let head = String::from_utf8(http_response(&id(), 80, b"HEAD / HTTP/1.1\r\n\r\n")).unwrap_or_default();
        assert!(head.ends_with("\r\n\r\n"));
        let evil = Identity {
            cluster: "a\r\nX: y".into(),
            ..id()
        };
        assert!(!String::from_utf8_lossy(&http_response(&evil, 1, b"GET ")).contains("X-Ubernetes-Cluster"));
    }
}
