//! The admin console at `/admin`: server-rendered pages for a signed-in user with the
//! admin role (`guard`), in the hosted pages' style and under their CSP. Every change
//! calls the same `crate::admin` service function as the admin API and records the same
//! audit event, so the two doors cannot drift apart.

pub mod audit;
pub mod client_form;
pub mod clients;
pub mod dashboard;
pub mod guard;
pub mod keys;
pub mod user_changes;
pub mod users;

use crate::state::AppState;
use axum::routing::{get, post};
use axum::Router;

/// The console's routes, merged into the app's one route table.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin", get(dashboard::show))
        .route("/admin/clients", get(clients::list).post(clients::create))
        .route("/admin/clients/new", get(clients::new))
        .route("/admin/clients/{id}", get(clients::show).post(clients::update))
        .route("/admin/clients/{id}/secret", post(clients::rotate_secret))
        .route("/admin/clients/{id}/delete", post(clients::delete))
        .route("/admin/users", get(users::search))
        .route("/admin/users/{id}", get(users::show))
        .route("/admin/users/{id}/disable", post(user_changes::disable))
        .route("/admin/users/{id}/enable", post(user_changes::enable))
        .route("/admin/users/{id}/sessions/end", post(user_changes::end_sessions))
        .route("/admin/users/{id}/password-reset", post(user_changes::password_reset))
        .route(
            "/admin/users/{id}/grants/{grant_id}/revoke",
            post(user_changes::revoke_grant),
        )
        .route(
            "/admin/users/{id}/identities/{identity_id}/unlink",
            post(user_changes::unlink_identity),
        )
        .route("/admin/users/{id}/delete", post(user_changes::delete))
        .route("/admin/keys", get(keys::list))
        .route("/admin/keys/rotate", post(keys::rotate))
        .route("/admin/keys/{kid}/retire", post(keys::retire))
        .route("/admin/audit", get(audit::list))
}
