//! The relying party's redirect endpoint: a listener on loopback that answers every
//! request to `/callback` and `/post_logout_redirect` with a JSON account of what arrived
//! (method, content type, query and form body), which the browser hands to the module.

use axum::body::Bytes;
use axum::http::{header, HeaderMap, Method, Uri};
use axum::routing::any;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use tokio::task::JoinHandle;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Arrival {
    pub path: String,
    pub method: String,
    pub content_type: Option<String>,
    pub query: Vec<(String, String)>,
    pub form: Vec<(String, String)>,
}

impl Arrival {
    /// A parameter of the response, from the query for GET and the form body for POST.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .chain(self.form.iter())
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn in_query(&self, name: &str) -> bool {
        self.query.iter().any(|(k, _)| k == name)
    }

    /// Every parameter name the response carried.
    pub fn names(&self) -> Vec<&str> {
        self.query
            .iter()
            .chain(self.form.iter())
            .map(|(k, _)| k.as_str())
            .collect()
    }
}

pub struct Listener {
    task: JoinHandle<()>,
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Starts the listener on 127.0.0.1:`port`.
pub async fn start(port: u16) -> anyhow::Result<Listener> {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .map_err(|e| anyhow::anyhow!("callback listener on 127.0.0.1:{port}: {e}"))?;
    Ok(serve(listener))
}

/// Serves on a socket the caller bound, e.g. to port 0 before registering the clients.
pub fn serve(listener: tokio::net::TcpListener) -> Listener {
    // Any path: a redirect to a URI the client never registered must be seen, not lost.
    let app = Router::new().fallback(any(echo));
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Listener { task }
}

fn pairs(raw: &[u8]) -> Vec<(String, String)> {
    url::form_urlencoded::parse(raw)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

async fn echo(method: Method, uri: Uri, headers: HeaderMap, body: Bytes) -> Json<Arrival> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let is_form = content_type
        .as_deref()
        .is_some_and(|c| c.starts_with("application/x-www-form-urlencoded"));
    Json(Arrival {
        path: uri.path().to_string(),
        method: method.to_string(),
        content_type,
        query: pairs(uri.query().unwrap_or("").as_bytes()),
        form: if is_form { pairs(&body) } else { Vec::new() },
    })
}
