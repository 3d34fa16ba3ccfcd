//! Delivering an authorization response to the client: as query parameters on a 302
//! (RFC 6749 §4.1.2), or as an auto-submitting HTML form POSTed to the redirect URI
//! (OAuth 2.0 Form Post Response Mode). Both carry `state` and the RFC 9207 `iss`.

use super::Verified;
use crate::http::found;
use crate::state::AppState;

use axum::response::Response;

pub(super) fn deliver(state: &AppState, target: &Verified, pairs: &[(&str, &str)]) -> Response {
    let mut fields: Vec<(&str, &str)> = pairs.to_vec();
    if let Some(s) = &target.state {
        fields.push(("state", s));
    }
    let issuer = state.config.issuer_str();
    fields.push(("iss", issuer));
    if target.form_post {
        let fields: Vec<minijinja::Value> = fields
            .iter()
            .map(|(name, value)| minijinja::context! { name => *name, value => *value })
            .collect();
        return state.pages.form_post(&target.redirect_uri, fields);
    }
    let mut query = form_urlencoded::Serializer::new(String::new());
    for (k, v) in &fields {
        query.append_pair(k, v);
    }
    let separator = if target.redirect_uri.contains('?') { '&' } else { '?' };
    found(&format!("{}{separator}{}", target.redirect_uri, query.finish()))
}
