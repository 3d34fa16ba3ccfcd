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

/// SQLite's "database is locked" (SQLITE_BUSY = 5) after the busy timeout: a load
/// condition, so the client should retry.
fn is_busy(db: &dyn sqlx::error::DatabaseError) -> bool {
    matches!(db.code().as_deref(), Some("5") | Some("517"))
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
        (status, [("cache-control", "no-store")], with_reference(message)).into_response()
    }
}
