//! One keep-alive HTTP/1.1 connection per virtual user, as a browser or an SDK holds one.
//! hyper's connection-level client adds no pool or per-request allocation of its own, so
//! the generator spends as little as possible of the two cores it shares with the server.

use anyhow::{bail, Context};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::header::{HeaderMap, HeaderName, HeaderValue};
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use std::net::SocketAddr;

pub struct Response {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Response {
    pub fn location(&self) -> Option<&str> {
        self.headers.get(hyper::header::LOCATION)?.to_str().ok()
    }

    pub fn json(&self) -> anyhow::Result<serde_json::Value> {
        serde_json::from_slice(&self.body).context("response is not JSON")
    }

    /// A short description for error reports.
    pub fn describe(&self) -> String {
        let body = String::from_utf8_lossy(&self.body);
        format!("{} {}", self.status, body.chars().take(200).collect::<String>())
    }
}

pub struct Conn {
    addr: SocketAddr,
    host: HeaderValue,
    sender: Option<SendRequest<Full<Bytes>>>,
}

impl Conn {
    pub fn new(addr: SocketAddr) -> Self {
        let host = HeaderValue::from_str(&addr.to_string()).expect("socket address is a valid header");
        Self {
            addr,
            host,
            sender: None,
        }
    }

    async fn connect(&mut self) -> anyhow::Result<&mut SendRequest<Full<Bytes>>> {
        if self.sender.as_ref().is_none_or(|s| s.is_closed()) {
            let stream = tokio::net::TcpStream::connect(self.addr)
                .await
                .with_context(|| format!("connect {}", self.addr))?;
            stream.set_nodelay(true)?;
            let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
            tokio::spawn(async move {
                let _ = connection.await;
            });
            self.sender = Some(sender);
        }
        let sender = self.sender.as_mut().expect("connected above");
        sender.ready().await.context("connection not ready")?;
        Ok(sender)
    }

    pub async fn send(
        &mut self,
        method: Method,
        path: &str,
        headers: &[(HeaderName, &str)],
        body: Option<&str>,
    ) -> anyhow::Result<Response> {
        let mut builder = Request::builder()
            .method(method)
            .uri(path)
            .header(hyper::header::HOST, self.host.clone());
        for (name, value) in headers {
            builder = builder.header(name, *value);
        }
        let body = match body {
            Some(form) => {
                builder = builder.header(hyper::header::CONTENT_TYPE, "application/x-www-form-urlencoded");
                Full::new(Bytes::copy_from_slice(form.as_bytes()))
            }
            None => Full::new(Bytes::new()),
        };
        let request = builder.body(body)?;
        let sender = self.connect().await?;
        let response = match sender.send_request(request).await {
            Ok(r) => r,
            Err(e) => {
                self.sender = None;
                bail!("request failed: {e}");
            }
        };
        let (parts, body) = response.into_parts();
        let body = body.collect().await.context("reading the body")?.to_bytes();
        Ok(Response {
            status: parts.status,
            headers: parts.headers,
            body,
        })
    }

    pub async fn get(&mut self, path: &str, headers: &[(HeaderName, &str)]) -> anyhow::Result<Response> {
        self.send(Method::GET, path, headers, None).await
    }

    pub async fn post(&mut self, path: &str, headers: &[(HeaderName, &str)], form: &str) -> anyhow::Result<Response> {
        self.send(Method::POST, path, headers, Some(form)).await
    }
}
