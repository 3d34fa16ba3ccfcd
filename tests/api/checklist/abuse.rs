//! Checklist section F, abuse: oversized and deeply nested input before any
//! authentication (F6). Each must be refused with a 4xx (a protocol error redirect to the
//! client's registered URI counts for /authorize), never a 5xx, and the server must keep
//! answering afterwards.

use super::*;
use crate::on_both_backends;

/// The server still answers normal requests.
pub(super) async fn still_serving(app: &TestApp, after: &str) {
    let health = reqwest::get(app.url("/healthz"))
        .await
        .expect("the server still answers");
    assert_eq!(health.status(), 200, "after {after}");
    let login = app.browser().get("/login").await;
    assert_eq!(login.status(), 200, "after {after}");
}

/// Writes `request` to Gatehouse over a plain TCP connection; the response's status.
async fn raw_status(app: &TestApp, request: &str) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(app.base.trim_start_matches("http://"))
        .await
        .unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut head = Vec::new();
    let mut chunk = [0u8; 1024];
    while !head.windows(2).any(|w| w == b"\r\n") {
        let n = stream.read(&mut chunk).await.expect("a response");
        assert!(n > 0, "the connection closed without a response");
        head.extend_from_slice(&chunk[..n]);
    }
    let line = String::from_utf8_lossy(&head)
        .lines()
        .next()
        .unwrap_or_default()
        .to_string();
    line.split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP status line: {line:?}"))
}

/// A 4xx, or a redirect to the client's registered redirect URI with `error`.
fn refused(status: u16, location: Option<&str>, redirect_uri: &str) -> bool {
    (400..500).contains(&status)
        || (status == 302 && location.is_some_and(|l| l.starts_with(redirect_uri) && query_param(l, "error").is_some()))
}

/// `[[[[…]]]]` nested `depth` times, and the same inside an otherwise valid claims request.
fn nested_claims(depth: usize) -> String {
    format!(
        r#"{{"id_token":{{"email":{{"essential":true,"value":{}{}}}}}}}"#,
        "[".repeat(depth),
        "]".repeat(depth)
    )
}

on_both_backends! {
    async fn f6_a_huge_uri_is_refused_with_a_4xx(app) {
        let padding = "a".repeat(100 * 1024);
        let (url, _) = app.authorize_url(&app.client, &[("padding", padding.as_str())]);
        let target = url.strip_prefix(&app.base).unwrap();
        assert!(target.len() > 100 * 1024);
        // Sent over a plain socket: HTTP clients refuse to build such a URI at all.
        let status = raw_status(&app, &format!("GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")).await;
        assert!((400..500).contains(&status), "a 100 KB URI got {status}");
        still_serving(&app, "a 100 KB URI").await;
    }

    async fn f6_too_many_headers_are_refused_with_a_4xx(app) {
        let mut request = reqwest::Client::new().get(app.url("/login"));
        for i in 0..200 {
            request = request.header(format!("x-h{i}"), "1");
        }
        let status = request.send().await.expect("an answer").status().as_u16();
        assert!((400..500).contains(&status), "200 headers got {status}");
        still_serving(&app, "200 headers").await;
    }

    async fn f6_deeply_nested_claims_json_is_refused_not_a_5xx(app) {
        // In the query string (percent-encoded, under the URI limit).
        let claims = nested_claims(4000);
        let (url, _) = app.authorize_url(&app.client, &[("claims", claims.as_str())]);
        assert!(url.len() < 60 * 1024, "stays under the URI limit: {}", url.len());
        let response = app.browser().get(&url).await;
        let status = response.status().as_u16();
        let to = location(response.headers());
        assert!(refused(status, to.as_deref(), &app.client.redirect_uri), "GET: {status} {to:?}");
        still_serving(&app, "nested claims in the query").await;

        // In a form POST to /authorize, raw brackets, under the body limit.
        let (url, _) = app.authorize_url(&app.client, &[]);
        let query = url.split_once('?').unwrap().1.to_string();
        let body = format!("{query}&claims={}", nested_claims(7000));
        assert!(body.len() < 16 * 1024);
        let response = app.browser().http.post(app.url("/authorize"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body).send().await.unwrap();
        let status = response.status().as_u16();
        let to = location(response.headers());
        assert!(refused(status, to.as_deref(), &app.client.redirect_uri), "POST: {status} {to:?}");
        still_serving(&app, "nested claims in a form").await;
    }
}
