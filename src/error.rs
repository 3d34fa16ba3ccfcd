//! Failures that are ours, not the caller's: the database is down, a key cannot be read.
//! They are logged once, with their cause chain, where they are turned into a response,
//! and the caller sees only a generic message. Store outages answer 503 (try again),
//! everything else 500.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("storage unavailable")]
    Unavailable(#[source] anyhow::Error),
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

impl AppError {
    pub fn status(&self) -> StatusCode {
        match self {
            AppError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// Logs the full cause chain; call once, where the error becomes a response.
    pub fn log(&self) {
        crate::request_id::note_failure(matches!(self, AppError::Unavailable(_)));
        match self {
            AppError::Unavailable(e) | AppError::Internal(e) => {
                tracing::error!(error = format!("{e:#}"), request_id = ?crate::request_id::current(), "{self}")
            }
        }
    }
}

impl From<sqlx::Error> for AppError {
    fn from(e: sqlx::Error) -> Self {
        match e {
            sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::WorkerCrashed => AppError::Unavailable(e.into()),
            sqlx::Error::Database(ref db) if is_busy(db.as_ref()) => AppError::Unavailable(e.into()),
            other => AppError::Internal(other.into()),
        }
    }
}

impl From<anyhow::Error> for AppError {
    fn from(e: anyhow::Error) -> Self {
        AppError::Internal(e)
    }
}

/// A load condition the client should retry: SQLite's "database is locked" (SQLITE_BUSY
/// = 5, 517) after the busy timeout, and PostgreSQL's serialization failure (40001),
/// deadlock (40P01), and the codes of a server shutting down or refusing connections
/// (57P01-57P03, 53300 too many connections).
fn is_busy(db: &dyn sqlx::error::DatabaseError) -> bool {
    matches!(
        db.code().as_deref(),
        Some("5" | "517" | "40001" | "40P01" | "57P01" | "57P02" | "57P03" | "53300")
    )
}

/// `message`, plus the request's correlation id when there is one.
pub fn with_reference(message: &str) -> String {
    match crate::request_id::current() {
        Some(id) => format!("{message} (Reference: {id})"),
        None => message.to_string(),
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        self.log();
        let status = self.status();
        let message = if status == StatusCode::SERVICE_UNAVAILABLE {
            "The service is temporarily unavailable. Please try again shortly."
        } else {
            "Something went wrong on our side. Please try again."
        };
        // A page a person can read; self-contained (no template, no asset), since what
        // failed may be what renders pages.
        let html = format!(
            "<!doctype html><html lang=\"en\"><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
             <title>{title}</title><h1>{title}</h1><p>{}</p></html>",
            with_reference(message),
            title = if status == StatusCode::SERVICE_UNAVAILABLE { "Temporarily unavailable" } else { "Something went wrong" },
        );
        let mut response = (
            status,
            [
                ("cache-control", "no-store"),
                ("content-type", "text/html; charset=utf-8"),
            ],
            html,
        )
            .into_response();
        if status == StatusCode::SERVICE_UNAVAILABLE {
            response
                .headers_mut()
                .insert("retry-after", axum::http::HeaderValue::from_static("1"));
        }
        response
    }
}
