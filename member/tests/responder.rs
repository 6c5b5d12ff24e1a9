//! The LoadBalancer responder over real sockets: HTTP clients, silent clients, other bytes.

use member::responder::{Identity, MAX_REQUEST, Responder};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn identity() -> Identity {
    Identity {
        cluster: "m1".into(),
        namespace: "shop".into(),
        name: "web".into(),
    }
}

async fn start() -> Responder {
    let addr: SocketAddr = ([127, 0, 0, 1], 0).into();
    match Responder::start(addr, identity()).await {
        Ok(r) => r,
        Err(e) => panic!("binding: {e}"),
    }
}

/// Connects, sends `request`, reads the whole answer (the server closes).
async fn exchange(addr: SocketAddr, request: &[u8]) -> String {
    let mut s = TcpStream::connect(addr).await.expect("connect");
    s.write_all(request).await.expect("write");
    let mut out = Vec::new();
    tokio::time::timeout(Duration::from_secs(15), s.read_to_end(&mut out))
        .await
        .expect("answer in time")
        .expect("read");
    String::from_utf8_lossy(&out).into_owned()
}

#[tokio::test]
async fn http_clients_get_200_naming_cluster_service_and_port() {
    let r = start().await;
    let answer = exchange(r.addr(), b"GET / HTTP/1.1\r\nHost: x\r\nUser-Agent: test\r\n\r\n").await;
    assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
    assert!(answer.contains("Connection: close\r\n"));
    let body = answer.split("\r\n\r\n").nth(1).unwrap_or_default();
    let v: serde_json::Value = serde_json::from_str(body).expect("JSON body");
    assert_eq!(v["cluster"], "m1");
    assert_eq!(v["service"], "shop/web");
    assert_eq!(v["port"], r.addr().port());
}

#[tokio::test]
async fn http_request_split_over_writes_and_with_a_body() {
    let r = start().await;
    let mut s = TcpStream::connect(r.addr()).await.expect("connect");
    s.write_all(b"PO").await.expect("write");
    tokio::time::sleep(Duration::from_millis(50)).await;
    s.write_all(b"ST /x HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello")
        .await
        .expect("write");
    let mut out = Vec::new();
    s.read_to_end(&mut out).await.expect("read");
    assert!(String::from_utf8_lossy(&out).starts_with("HTTP/1.1 200 OK"));
}

#[tokio::test]
async fn silent_clients_get_the_line() {
    let r = start().await;
    let mut s = TcpStream::connect(r.addr()).await.expect("connect");
    let mut out = String::new();
    s.read_to_string(&mut out).await.expect("read");
    assert_eq!(out, "cluster=m1 service=shop/web\n");
}

#[tokio::test]
async fn other_protocols_get_the_line() {
    let r = start().await;
    assert_eq!(exchange(r.addr(), b"hello\n").await, "cluster=m1 service=shop/web\n");
    assert_eq!(
        exchange(r.addr(), &[0x16, 0x03, 0x01, 0x00, 0xff]).await,
        "cluster=m1 service=shop/web\n"
    );
}

#[tokio::test]
async fn oversized_headers_are_bounded() {
    let r = start().await;
    let mut req = b"GET / HTTP/1.1\r\nX-Big: ".to_vec();
    req.extend(std::iter::repeat_n(b'a', MAX_REQUEST * 2));
    let addr = r.addr();
    // The server stops reading at MAX_REQUEST; the client may see a reset while still writing.
    let client = tokio::spawn(async move {
        let mut s = TcpStream::connect(addr).await.expect("connect");
        let _ = s.write_all(&req).await;
        let mut out = Vec::new();
        let _ = s.read_to_end(&mut out).await;
        out
    });
    let out = tokio::time::timeout(Duration::from_secs(15), client)
        .await
        .expect("in time")
        .expect("task");
    assert!(out.is_empty() || out.starts_with(b"HTTP/1.1 200 OK"));
    // Still serving.
    assert!(
        exchange(addr, b"GET / HTTP/1.0\r\n\r\n")
            .await
            .starts_with("HTTP/1.1 200 OK")
    );
}

#[tokio::test]
async fn dropping_the_responder_stops_listening() {
    let r = start().await;
    let addr = r.addr();
    drop(r);
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(TcpStream::connect(addr).await.is_err());
}

#[tokio::test]
async fn binds_loopback_addresses_beyond_127_0_0_1() {
    let addr: SocketAddr = ([127, 201, 7, 9], 0).into();
    let r = Responder::start(addr, identity()).await.expect("bind 127.201.7.9");
    assert!(
        exchange(r.addr(), b"GET / HTTP/1.1\r\n\r\n")
            .await
            .contains("\"cluster\":\"m1\"")
    );
}
