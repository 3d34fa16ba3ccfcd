//! The relying party's redirect endpoint: a listener on loopback that answers every
//! request to `/callback` and `/post_logout_redirect` with a JSON account of what arrived
//! (method, content type, query and form body), which the browser hands to the module.
//! POSTs to `/backchannel_logout` are the OP's back-channel logout requests: kept in the
//! listener's [`Inbox`] for the module that waits for one, and answered 200 as the RP
//! must (OpenID Connect Back-Channel Logout 1.0 §2.8).
//! GETs to a path a module has published in the listener's [`Documents`] are answered
//! with that document: what the OP fetches from the RP in the dynamic plan (the RP's JWK
//! Set at `jwks_uri`, a `sector_identifier_uri` document, a request object at `request_uri`).

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, Method, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::Notify;
use tokio::task::JoinHandle;

/// Where the RP's back-channel logout endpoint is, on the listener.
pub const BACKCHANNEL_PATH: &str = "/backchannel_logout";

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

/// The back-channel logout requests received so far, shared by every module.
#[derive(Clone, Default)]
pub struct Inbox {
    arrivals: Arc<Mutex<Vec<Arrival>>>,
    arrived: Arc<Notify>,
}

impl Inbox {
    fn push(&self, arrival: Arrival) {
        if let Ok(mut all) = self.arrivals.lock() {
            all.push(arrival);
        }
        self.arrived.notify_waiters();
    }

    /// Waits up to `limit` for a request that `wanted` accepts, and takes it.
    pub async fn wait_for(&self, limit: Duration, wanted: impl Fn(&Arrival) -> bool) -> Option<Arrival> {
        let deadline = Instant::now() + limit;
        loop {
            // Registered before looking, so an arrival between the look and the wait wakes us.
            let notified = self.arrived.notified();
            if let Ok(mut all) = self.arrivals.lock() {
                if let Some(at) = all.iter().position(&wanted) {
                    return Some(all.remove(at));
                }
            }
            let left = deadline.checked_duration_since(Instant::now())?;
            let _ = tokio::time::timeout(left, notified).await;
        }
    }
}

/// A document the listener serves: its content type and body.
#[derive(Debug, Clone)]
pub struct Document {
    pub content_type: String,
    pub body: Vec<u8>,
}

/// What the listener serves to the OP, by path, shared by every module. Each module
/// publishes under a path of its own (see [`Documents::prefix`]).
#[derive(Clone, Default)]
pub struct Documents {
    served: Arc<Mutex<std::collections::HashMap<String, Document>>>,
    fetches: Arc<Mutex<std::collections::HashMap<String, usize>>>,
}

impl Documents {
    /// A fresh path prefix for one module's documents, e.g. `/rp/Xy3…`.
    pub fn prefix() -> String {
        format!("/rp/{}", crate::jose::random_token(12))
    }

    /// Serves `body` at `path` (replacing what was there).
    pub fn publish(&self, path: &str, content_type: &str, body: impl Into<Vec<u8>>) {
        if let Ok(mut served) = self.served.lock() {
            served.insert(
                path.to_string(),
                Document {
                    content_type: content_type.to_string(),
                    body: body.into(),
                },
            );
        }
    }

    /// Stops serving everything under `prefix`.
    pub fn withdraw(&self, prefix: &str) {
        if let Ok(mut served) = self.served.lock() {
            served.retain(|path, _| !path.starts_with(prefix));
        }
    }

    /// How many times the OP fetched `path`.
    pub fn fetches(&self, path: &str) -> usize {
        self.fetches.lock().ok().and_then(|f| f.get(path).copied()).unwrap_or(0)
    }

    fn get(&self, path: &str) -> Option<Document> {
        let found = self.served.lock().ok()?.get(path).cloned();
        if found.is_some() {
            if let Ok(mut fetches) = self.fetches.lock() {
                *fetches.entry(path.to_string()).or_insert(0) += 1;
            }
        }
        found
    }
}

#[derive(Clone, Default)]
struct Shared {
    inbox: Inbox,
    documents: Documents,
}

pub struct Listener {
    task: JoinHandle<()>,
    pub inbox: Inbox,
    pub documents: Documents,
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
    let shared = Shared::default();
    let app = Router::new().fallback(any(echo)).with_state(shared.clone());
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Listener {
        task,
        inbox: shared.inbox,
        documents: shared.documents,
    }
}

fn pairs(raw: &[u8]) -> Vec<(String, String)> {
    url::form_urlencoded::parse(raw)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

async fn echo(State(shared): State<Shared>, method: Method, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    if method == Method::GET {
        if let Some(doc) = shared.documents.get(uri.path()) {
            return (
                [
                    (header::CONTENT_TYPE, doc.content_type),
                    (header::CACHE_CONTROL, "no-cache".to_string()),
                ],
                doc.body,
            )
                .into_response();
        }
    }
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let is_form = content_type
        .as_deref()
        .is_some_and(|c| c.starts_with("application/x-www-form-urlencoded"));
    let arrival = Arrival {
        path: uri.path().to_string(),
        method: method.to_string(),
        content_type,
        query: pairs(uri.query().unwrap_or("").as_bytes()),
        form: if is_form { pairs(&body) } else { Vec::new() },
    };
    if arrival.path == BACKCHANNEL_PATH && method == Method::POST {
        shared.inbox.push(arrival);
        // §2.8: 200 OK, and the response must not be cached.
        return ([(header::CACHE_CONTROL, "no-store")], "").into_response();
    }
    Json(arrival).into_response()
}
