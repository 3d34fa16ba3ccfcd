//! The admin API's JSON errors: `{"error", "error_description", "field"?}` with the status
//! that fits (400 malformed, 404 unknown, 409 conflicting, 422 breaking a rule). Bearer
//! token failures are OAuth's own (RFC 6750) and come from `auth`.

use crate::admin::clients::ClientError;
use crate::admin::keys::KeyError;
use crate::admin::users::UserError;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;

#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    error: &'static str,
    description: String,
    field: Option<&'static str>,
}

/// An error answer.
#[derive(Serialize, ToSchema)]
pub struct ErrorBody {
    /// `invalid_request`, `not_found`, `conflict`, `server_error`, or an RFC 6750 code
    /// (`invalid_token`, `insufficient_scope`).
    pub error: String,
    pub error_description: String,
    /// The request field at fault, when one is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

impl ApiError {
    pub fn new(status: StatusCode, error: &'static str, description: impl Into<String>) -> ApiError {
        ApiError {
            status,
            error,
            description: description.into(),
            field: None,
        }
    }

    pub fn invalid(field: &'static str, description: impl Into<String>) -> ApiError {
        ApiError {
            field: Some(field),
            ..ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_request", description)
        }
    }

    pub fn not_found(description: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", description)
    }

    pub fn conflict(description: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::CONFLICT, "conflict", description)
    }

    /// Logs the detail once and answers a generic 500.
    pub fn internal(e: impl Into<anyhow::Error>) -> ApiError {
        let e = crate::error::AppError::from(e.into());
        e.log();
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            crate::error::with_reference("internal error"),
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: self.error.into(),
            error_description: self.description,
            field: self.field.map(str::to_string),
        };
        let mut response = (self.status, Json(body)).into_response();
        response
            .headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        response
    }
}

impl From<ClientError> for ApiError {
    fn from(e: ClientError) -> Self {
        match e {
            ClientError::Invalid(e) => ApiError::invalid(e.field, e.message),
            ClientError::NotFound(_) => ApiError::not_found(e.to_string()),
            ClientError::Conflict(message) => ApiError::conflict(message),
            ClientError::Internal(e) => ApiError::internal(e),
        }
    }
}

impl From<KeyError> for ApiError {
    fn from(e: KeyError) -> Self {
        match e {
            KeyError::NotFound(_) => ApiError::not_found(e.to_string()),
            KeyError::Refused(message) => ApiError::conflict(message),
            KeyError::Internal(e) => ApiError::internal(e),
        }
    }
}

impl From<UserError> for ApiError {
    fn from(e: UserError) -> Self {
        match e {
            UserError::Invalid(e) => ApiError::invalid(e.field, e.message),
            UserError::NotFound(_) => ApiError::not_found(e.to_string()),
            UserError::Conflict(message) => ApiError::conflict(message),
            UserError::App(e) => e.into(),
        }
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> Self {
        ApiError::internal(e)
    }
}

impl From<crate::error::AppError> for ApiError {
    fn from(e: crate::error::AppError) -> Self {
        e.log();
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            crate::error::with_reference("internal error"),
        )
    }
}

impl From<JsonRejection> for ApiError {
    fn from(e: JsonRejection) -> Self {
        ApiError::new(e.status(), "invalid_request", e.body_text())
    }
}

impl From<QueryRejection> for ApiError {
    fn from(e: QueryRejection) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, "invalid_request", e.body_text())
    }
}

/// A JSON body whose rejection is one of our JSON errors.
#[derive(axum::extract::FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub struct Body<T>(pub T);

/// A query string whose rejection is one of our JSON errors.
#[derive(axum::extract::FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub struct Query<T>(pub T);
