//! A correlation id for every request: a short random value in the request's log span,
//! in an `X-Request-Id` response header, and in the body of every 5xx we answer, so a
//! user who reports "something went wrong" hands the operator the one log line to read,
//! while the response itself shows no internals.

use crate::secrets;
use axum::extract::Request;
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

tokio::task_local! {
    static CURRENT: Context;
}

/// What the request's task knows about itself: its id, and the failures it answered
/// with (noted where they are logged, counted by the metrics layer).
#[derive(Clone)]
struct Context {
    id: Arc<str>,
    failures: Arc<Failures>,
}

#[derive(Default)]
struct Failures {
    unavailable: AtomicU32,
    internal: AtomicU32,
}

/// The failures a request answered with: 503s for an unavailable store, and 500s.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Failed {
    pub unavailable: u32,
    pub internal: u32,
}

/// Notes that this request is answering with one of our own failures.
pub fn note_failure(unavailable: bool) {
    let _ = CURRENT.try_with(|c| {
        let counter = match unavailable {
            true => &c.failures.unavailable,
            false => &c.failures.internal,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    });
}

/// The failures noted so far for the request this task is handling.
pub fn failures() -> Failed {
    CURRENT
        .try_with(|c| Failed {
            unavailable: c.failures.unavailable.load(Ordering::Relaxed),
            internal: c.failures.internal.load(Ordering::Relaxed),
        })
        .unwrap_or_default()
}

/// The id of the request being handled, as request extension.
#[derive(Debug, Clone)]
pub struct RequestId(pub Arc<str>);

/// The id of the request this task is handling, if any.
pub fn current() -> Option<Arc<str>> {
    CURRENT.try_with(|c| c.id.clone()).ok()
}

/// Middleware (the outermost layer): names the request and answers with its id.
pub async fn layer(mut request: Request, next: Next) -> Response {
    let id: Arc<str> = secrets::random_id()[..12].into();
    request.extensions_mut().insert(RequestId(id.clone()));
    let context = Context {
        id: id.clone(),
        failures: Arc::default(),
    };
    let mut response = CURRENT.scope(context, next.run(request)).await;
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert("x-request-id", value);
    }
    response
}
