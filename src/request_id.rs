//! A correlation id for every request: a short random value in the request's log span,
//! in an `X-Request-Id` response header, and in the body of every 5xx we answer, so a
//! user who reports "something went wrong" hands the operator the one log line to read,
//! while the response itself shows no internals.

use crate::secrets;
use axum::extract::Request;
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use std::sync::Arc;

tokio::task_local! {
    static CURRENT: Arc<str>;
}

/// The id of the request being handled, as request extension.
#[derive(Debug, Clone)]
pub struct RequestId(pub Arc<str>);

/// The id of the request this task is handling, if any.
pub fn current() -> Option<Arc<str>> {
    CURRENT.try_with(Arc::clone).ok()
}

/// Middleware (the outermost layer): names the request and answers with its id.
pub async fn layer(mut request: Request, next: Next) -> Response {
    let id: Arc<str> = secrets::random_id()[..12].into();
    request.extensions_mut().insert(RequestId(id.clone()));
    let mut response = CURRENT.scope(id.clone(), next.run(request)).await;
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert("x-request-id", value);
    }
    response
}
