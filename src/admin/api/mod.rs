//! The admin API: JSON under `/admin/api/v1`, for callers holding a `gatehouse:admin`
//! access token (see `auth`). One file per resource; the OpenAPI 3.1 document is
//! generated from the handlers' annotations and served at `/admin/api/v1/openapi.json`.

pub mod audit;
pub mod auth;
pub mod clients;
pub mod error;
pub mod keys;
pub mod users;

use crate::state::AppState;
use axum::http::{header, HeaderValue, Method};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, patch, post, MethodRouter};
use axum::{Json, Router};
use tower_http::set_header::SetResponseHeaderLayer;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

/// Where the admin API lives; also the `aud` its tokens must carry (after the issuer).
pub const BASE: &str = "/admin/api/v1";

/// Every admin route, in one table: the router is built from it and a test compares it
/// with the OpenAPI document.
fn endpoints() -> Vec<(Method, &'static str, MethodRouter<AppState>)> {
    vec![
        (Method::GET, "/admin/api/v1/openapi.json", get(openapi_json)),
        (Method::GET, "/admin/api/v1/clients", get(clients::list)),
        (Method::POST, "/admin/api/v1/clients", post(clients::create)),
        (Method::GET, "/admin/api/v1/clients/{client_id}", get(clients::show)),
        (
            Method::PATCH,
            "/admin/api/v1/clients/{client_id}",
            patch(clients::update),
        ),
        (
            Method::DELETE,
            "/admin/api/v1/clients/{client_id}",
            delete(clients::delete),
        ),
        (
            Method::POST,
            "/admin/api/v1/clients/{client_id}/secret",
            post(clients::rotate_secret),
        ),
        (Method::GET, "/admin/api/v1/keys", get(keys::list)),
        (Method::POST, "/admin/api/v1/keys", post(keys::rotate)),
        (Method::POST, "/admin/api/v1/keys/{kid}/retire", post(keys::retire)),
        (Method::GET, "/admin/api/v1/audit", get(audit::list)),
        (Method::GET, "/admin/api/v1/users", get(users::search)),
        (Method::POST, "/admin/api/v1/users", post(users::create)),
        (Method::PATCH, "/admin/api/v1/users/{user_id}", patch(users::update)),
        (Method::GET, "/admin/api/v1/users/{user_id}", get(users::show)),
        (Method::DELETE, "/admin/api/v1/users/{user_id}", delete(users::delete)),
        (
            Method::POST,
            "/admin/api/v1/users/{user_id}/sessions/end",
            post(users::end_sessions),
        ),
        (
            Method::POST,
            "/admin/api/v1/users/{user_id}/disable",
            post(users::disable),
        ),
        (
            Method::POST,
            "/admin/api/v1/users/{user_id}/enable",
            post(users::enable),
        ),
        (
            Method::POST,
            "/admin/api/v1/users/{user_id}/password-reset",
            post(users::password_reset),
        ),
        (Method::GET, "/admin/api/v1/users/{user_id}/grants", get(users::grants)),
        (
            Method::GET,
            "/admin/api/v1/users/{user_id}/identities",
            get(users::identities),
        ),
        (
            Method::DELETE,
            "/admin/api/v1/users/{user_id}/identities/{identity_id}",
            delete(users::unlink_identity),
        ),
        (
            Method::DELETE,
            "/admin/api/v1/users/{user_id}/grants/{grant_id}",
            delete(users::revoke_grant),
        ),
    ]
}

/// The admin routes, merged into the app's one route table.
pub fn routes() -> Router<AppState> {
    endpoints()
        .into_iter()
        .fold(Router::new(), |router, (_, path, handler)| router.route(path, handler))
        // Anything else under the API is a JSON 404, not the HTML page.
        .route("/admin/api/v1/{*rest}", axum::routing::any(unknown))
        // Answers carry secrets (a new client secret) and live state: never cached.
        .layer(SetResponseHeaderLayer::overriding(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        ))
}

async fn unknown() -> error::ApiError {
    error::ApiError::not_found("there is no such admin API endpoint; see /admin/api/v1/openapi.json")
}

/// (method, path) of every admin route, as the router has them.
pub fn route_table() -> Vec<(Method, &'static str)> {
    endpoints()
        .into_iter()
        .map(|(method, path, _)| (method, path))
        .collect()
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Gatehouse admin API",
        version = "1",
        description = "Administration of clients, keys and users, and the audit trail. Every call but this document needs a \
            bearer access token from Gatehouse's /token (client credentials) with the gatehouse:admin \
            scope and the audience {issuer}/admin/api/v1."
    ),
    paths(
        openapi_json,
        clients::list,
        clients::create,
        clients::show,
        clients::update,
        clients::delete,
        clients::rotate_secret,
        keys::list,
        keys::rotate,
        keys::retire,
        users::search,
        users::create,
        users::update,
        users::show,
        users::delete,
        users::end_sessions,
        users::disable,
        users::enable,
        users::password_reset,
        users::grants,
        users::revoke_grant,
        users::identities,
        users::unlink_identity,
        audit::list,
    ),
    components(schemas(error::ErrorBody)),
    modifiers(&BearerScheme),
    security(("bearer" = ["gatehouse:admin"])),
    tags(
        (name = "clients", description = "Registered relying parties"),
        (name = "keys", description = "Signing keys"),
        (name = "users", description = "User accounts"),
        (name = "audit", description = "The audit trail"),
        (name = "meta", description = "This document"),
    )
)]
struct Doc;

struct BearerScheme;

impl Modify for BearerScheme {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some("A Gatehouse access token with the gatehouse:admin scope"))
                    .build(),
            ),
        );
    }
}

/// The OpenAPI document, generated from the code.
pub fn openapi() -> utoipa::openapi::OpenApi {
    Doc::openapi()
}

#[utoipa::path(get, path = "/admin/api/v1/openapi.json", tag = "meta", security(()),
    responses((status = 200, description = "This OpenAPI 3.1 document", content_type = "application/json")))]
async fn openapi_json() -> Response {
    Json(openapi()).into_response()
}
