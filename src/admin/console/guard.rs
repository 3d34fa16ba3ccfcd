//! Who may use the console: a signed-in user with the admin role, checked on every
//! request (revoking the role or disabling the account takes effect at once). Signed-out
//! visitors go to the login page and come back; anyone else gets a friendly 403. Forms
//! carry the session's CSRF token, as on the account page, and the destructive ones ask
//! for a sign-in as recent as the account page asks before ending sessions.

use crate::accounts::forms::{self, FORM_EXPIRED};
use crate::accounts::profile::FRESH_SIGN_IN_SECS;
use crate::admin::audit::Actor;
use crate::client_ip::ClientIp;
use crate::http::{found, read_form, Params};
use crate::sessions;
use crate::state::AppState;
use crate::store::sessions::SessionRow;
use crate::users::Account;
use axum::body::Body;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use minijinja::context;

/// A signed-in admin using the console.
pub struct Console {
    pub session: SessionRow,
    pub account: Account,
    /// Whom the audit trail names for this admin's changes.
    pub actor: Actor,
}

/// `/login?return_to=…`, coming back to `path` afterwards.
pub fn login_then(path: &str) -> String {
    let back: String = url::form_urlencoded::byte_serialize(path.as_bytes()).collect();
    format!("/login?return_to={back}")
}

impl FromRequestParts<AppState> for Console {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Console, Response> {
        // A form posted after the session ended comes back to the console's start, not to
        // an address that only takes POSTs.
        let here = match parts.method {
            Method::GET => parts.uri.path_and_query().map_or("/admin", |p| p.as_str()),
            _ => "/admin",
        };
        let session = match sessions::current(state, &parts.headers).await {
            Ok(Some(session)) => session,
            Ok(None) => return Err(found(&login_then(here))),
            Err(e) => return Err(e.into_response()),
        };
        let account = match state.store.account_by_id(&session.user_id).await {
            Ok(Some(account)) => account,
            Ok(None) => return Err(found(&login_then(here))),
            Err(e) => return Err(crate::error::AppError::from(e).into_response()),
        };
        if account.is_admin == 0 || account.disabled_at.is_some() {
            return Err(state.pages.render(
                StatusCode::FORBIDDEN,
                "admin/denied.html",
                context! { username => account.username },
            ));
        }
        let ip = parts
            .extensions
            .get::<ClientIp>()
            .map_or(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), |ip| ip.0);
        let actor = Actor::new(Some(account.id.clone()), None, ip, &parts.headers);
        Ok(Console {
            session,
            account,
            actor,
        })
    }
}

impl Console {
    /// A console page: `template` with the CSRF token and the admin's name added.
    pub fn render(&self, state: &AppState, status: StatusCode, template: &str, ctx: minijinja::Value) -> Response {
        state.pages.render(
            status,
            template,
            context! { csrf_token => self.session.csrf_token, admin_name => self.account.username, ..ctx },
        )
    }

    /// A page with a title, a message and a way on (`back`, a console path).
    pub fn message(&self, state: &AppState, status: StatusCode, title: &str, message: &str, back: &str) -> Response {
        self.render(state, status, "admin/message.html", context! { title, message, back })
    }

    /// A page's query string, or the page saying what is wrong with it (a repeated or
    /// undecodable parameter): a mistyped address gets words, not a bare 400.
    pub fn query(&self, state: &AppState, raw: Option<&str>, back: &str) -> Result<Params, Box<Response>> {
        Params::parse(raw.unwrap_or_default().as_bytes()).map_err(|e| {
            let message = format!("This address cannot be read: {e}.");
            Box::new(self.message(state, StatusCode::BAD_REQUEST, "Bad address", &message, back))
        })
    }

    /// The posted form, once its origin and CSRF token check out; the refusal page if not.
    pub async fn form(&self, state: &AppState, headers: &HeaderMap, body: Body) -> Result<Params, Response> {
        let params = read_form(headers, body).await.unwrap_or_default();
        if !forms::session_form_ok(state, headers, &self.session, &params) {
            return Err(self.message(
                state,
                StatusCode::FORBIDDEN,
                "Request not accepted",
                FORM_EXPIRED,
                "/admin",
            ));
        }
        Ok(params)
    }

    /// For a destructive change: nothing when the admin signed in recently enough,
    /// otherwise the page that asks them to sign in again and come back to `back`.
    pub fn stale(&self, state: &AppState, back: &str) -> Option<Response> {
        if state.clock.now() - self.session.auth_time <= FRESH_SIGN_IN_SECS {
            return None;
        }
        Some(self.render(
            state,
            StatusCode::FORBIDDEN,
            "admin/reauth.html",
            context! { login => login_then(back), back, minutes => FRESH_SIGN_IN_SECS / 60 },
        ))
    }
}
