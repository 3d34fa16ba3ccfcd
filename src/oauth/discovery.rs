//! `/.well-known/openid-configuration` (OpenID Connect Discovery 1.0 §3–4, RFC 8414).
//! Built once at startup from the configuration and the path constants the router also
//! uses, and advertising only what is implemented.

use super::jwks::public_json;
use super::{AUTHORIZE, END_SESSION, INTROSPECT, JWKS, REVOKE, SUPPORTED_CLAIMS, TOKEN, USERINFO};
use crate::clients::SUPPORTED_SCOPES;
use crate::config::Config;
use crate::state::AppState;
use axum::extract::State;
use axum::response::Response;
use serde_json::json;

const CLIENT_AUTH_METHODS: &[&str] = &["client_secret_basic", "client_secret_post", "private_key_jwt", "none"];
const ASSERTION_ALGS: &[&str] = &["RS256", "ES256"];

/// `GET /.well-known/openid-configuration`: the document built at startup.
pub async fn get(State(state): State<AppState>) -> Response {
    public_json(state.discovery.to_string())
}

pub fn document(config: &Config) -> String {
    let mut doc = json!({
        "issuer": config.issuer_str(),
        "authorization_endpoint": config.url_for(AUTHORIZE),
        "token_endpoint": config.url_for(TOKEN),
        "userinfo_endpoint": config.url_for(USERINFO),
        "jwks_uri": config.url_for(JWKS),
        "end_session_endpoint": config.url_for(END_SESSION),
        "introspection_endpoint": config.url_for(INTROSPECT),
        "revocation_endpoint": config.url_for(REVOKE),
        "scopes_supported": SUPPORTED_SCOPES,
        "response_types_supported": ["code"],
        "response_modes_supported": ["query", "form_post"],
        "grant_types_supported": crate::clients::GRANT_TYPES,
        "device_authorization_endpoint": config.url_for(super::DEVICE_AUTHORIZATION),
        "pushed_authorization_request_endpoint": config.url_for(super::PAR),
        // Per client (`--require-par`), not for all.
        "require_pushed_authorization_requests": false,
        "subject_types_supported": ["public", "pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "token_endpoint_auth_methods_supported": CLIENT_AUTH_METHODS,
        "token_endpoint_auth_signing_alg_values_supported": ASSERTION_ALGS,
        "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "private_key_jwt"],
        "introspection_endpoint_auth_signing_alg_values_supported": ASSERTION_ALGS,
        "revocation_endpoint_auth_methods_supported": CLIENT_AUTH_METHODS,
        "revocation_endpoint_auth_signing_alg_values_supported": ASSERTION_ALGS,
        "claims_supported": SUPPORTED_CLAIMS,
        "acr_values_supported": super::claims::ACR_VALUES,
        "claim_types_supported": ["normal"],
        // Per client (`userinfo_signed_response_alg`); JSON for the others.
        "userinfo_signing_alg_values_supported": crate::admin::clients::USERINFO_SIGNING_ALGS,
        "prompt_values_supported": ["none", "login", "consent", "select_account"],
        "display_values_supported": ["page", "popup", "touch"],
        "code_challenge_methods_supported": ["S256"],
        "authorization_response_iss_parameter_supported": true,
        "backchannel_logout_supported": true,
        "backchannel_logout_session_supported": true,
        "claims_parameter_supported": true,
        "request_parameter_supported": true,
        // Signed with a key of the client's registered JWK Set; never `none`.
        "request_object_signing_alg_values_supported": ["RS256", "ES256"],
        "request_uri_parameter_supported": true,
        // RFC 9449 §5.1: the algs a DPoP proof may be signed with.
        "dpop_signing_alg_values_supported": super::dpop::SIGNING_ALGS,
        // A request_uri must be one the client registered (OIDC Core §6.2).
        "require_request_uri_registration": true,
    });
    if config.registration.enabled() {
        doc["registration_endpoint"] = config.url_for(super::registration::PATH).into();
    }
    doc.to_string()
}
