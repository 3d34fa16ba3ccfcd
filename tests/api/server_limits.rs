//! The HTTP server's own limits (src/serve.rs): a request head larger than
//! `http.max_head_bytes` is answered 431 (checklist F6), a client that never finishes
//! its headers is disconnected after `http.header_read_timeout_secs`, and connections
//! beyond `http.max_connections` wait until one closes (F7). The server keeps answering
//! others throughout.

use crate::helpers::*;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A bound on waits for something the server should do promptly, so a regression fails
/// instead of hanging the suite. Not a performance assertion.
const PATIENCE: Duration = Duration::from_secs(30);

async fn connect(app: &TestApp) -> TcpStream {
    TcpStream::connect(app.base.trim_start_matches("http://"))
        .await
        .unwrap()
}

async fn healthy(app: &TestApp) {
    let health = reqwest::get(app.url("/healthz")).await.expect("the server answers");
    assert_eq!(health.status(), 200);
}

#[tokio::test]
async fn f6_a_request_head_over_the_limit_is_refused_with_431() {
    let app = spawn_app(Backend::Sqlite).await.expect("sqlite app");
    let http = reqwest::Client::new();
    let big = "a".repeat(100 * 1024);
    for (case, name, value) in [
        ("a 100 KB cookie", "cookie", format!("gatehouse_session={big}")),
        ("a 100 KB custom header", "x-padding", big.clone()),
    ] {
        let response = http.get(app.url("/login")).header(name, value).send().await;
        // hyper answers 431 before closing; a client still writing may see the close.
        match response {
            Ok(r) => assert_eq!(r.status(), 431, "{case}"),
            Err(e) => assert!(e.is_request() || e.is_connect() || e.is_body(), "{case}: {e}"),
        }
        healthy(&app).await;
    }
    // A realistic head (several cookies, a long user agent) is well within the limit.
    let cookies = (0..8)
        .map(|i| format!("c{i}={}", "v".repeat(200)))
        .collect::<Vec<_>>()
        .join("; ");
    let response = http
        .get(app.url("/login"))
        .header("cookie", cookies)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn f7_a_client_that_never_finishes_its_headers_is_disconnected() {
    let app = spawn_app_with(Backend::Sqlite, |raw| raw.http.header_read_timeout_secs = 1)
        .await
        .expect("sqlite app");
    let mut slow = connect(&app).await;
    slow.write_all(b"GET /login HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        .await
        .unwrap();
    let mut buf = [0u8; 1024];
    let read = tokio::time::timeout(PATIENCE, slow.read(&mut buf))
        .await
        .expect("the server closes the connection instead of waiting forever");
    match read {
        // Closed, possibly after a 408 the server writes first.
        Ok(n) => {
            let text = String::from_utf8_lossy(&buf[..n]);
            assert!(n == 0 || text.starts_with("HTTP/1.1 408"), "{text}");
        }
        Err(e) => assert_eq!(e.kind(), std::io::ErrorKind::ConnectionReset, "{e}"),
    }
    healthy(&app).await;
}

#[tokio::test]
async fn f7_connections_beyond_the_cap_wait_until_one_closes() {
    let app = spawn_app_with(Backend::Sqlite, |raw| raw.http.max_connections = 2)
        .await
        .expect("sqlite app");
    // Two idle connections hold both places.
    let first = connect(&app).await;
    let second = connect(&app).await;
    // Let the server accept them before the third arrives.
    let mut probe = connect(&app).await;
    probe
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut buf = vec![0u8; 1024];
    let early = tokio::time::timeout(Duration::from_millis(500), probe.read(&mut buf)).await;
    assert!(early.is_err(), "a third connection is served while the cap is reached");
    drop(first);
    let n = tokio::time::timeout(PATIENCE, probe.read(&mut buf))
        .await
        .expect("served once a place is free")
        .unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
    drop(second);
}

/// H2: a 5xx names a correlation id (the `X-Request-Id` the response carries) so an
/// operator finds the one log line, and shows nothing else of what went wrong. The
/// account page is a hosted page, `/token` an OAuth endpoint (`server_error`'s
/// description carries the reference there).
#[tokio::test]
async fn h2_a_5xx_carries_a_correlation_id_and_nothing_internal() {
    let app = spawn_app(Backend::Sqlite).await.expect("sqlite app");
    let browser = signed_in_browser(&app, "alice", PASSWORD).await;
    let (code, verifier) = app.code_for(&app.client).await;
    for table in ["sessions", "authorization_codes"] {
        sqlx::query(&format!("ALTER TABLE {table} RENAME TO {table}_gone"))
            .execute(app.store.pool())
            .await
            .unwrap();
    }
    let responses = [
        ("account page", browser.get("/account").await),
        ("token endpoint", app.redeem(&app.client, &code, &verifier).await),
    ];
    for (case, response) in responses {
        assert!(response.status().is_server_error(), "{case}: {}", response.status());
        let id = response.headers()["x-request-id"].to_str().unwrap().to_string();
        assert_eq!(id.len(), 12, "{case}: {id}");
        let body = response.text().await.unwrap();
        assert!(body.contains(&format!("Reference: {id}")), "{case}: {body}");
        assert!(!body.to_lowercase().contains("sql"), "{case}: {body}");
    }
    // Every answer has an id, and no two share one.
    let a = reqwest::get(app.url("/healthz")).await.unwrap();
    let b = reqwest::get(app.url("/healthz")).await.unwrap();
    assert_ne!(a.headers()["x-request-id"], b.headers()["x-request-id"]);
}
