//! `/.well-known/openid-configuration` (OpenID Connect Discovery 1.0 §3–4). Built once at
//! startup from the configuration and the path constants the router also uses, and
//! advertising only what is implemented.

use super::{AUTHORIZE, JWKS, SUPPORTED_CLAIMS, SUPPORTED_SCOPES, TOKEN, USERINFO};
use crate::config::Config;
use serde_json::json;

pub fn document(config: &Config) -> String {
    json!({
        "issuer": config.issuer_str(),
        "authorization_endpoint": config.url_for(AUTHORIZE),
        "token_endpoint": config.url_for(TOKEN),
        "userinfo_endpoint": config.url_for(USERINFO),
        "jwks_uri": config.url_for(JWKS),
        "scopes_supported": SUPPORTED_SCOPES,
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "claims_supported": SUPPORTED_CLAIMS,
        "claim_types_supported": ["normal"],
        "code_challenge_methods_supported": ["S256"],
        "authorization_response_iss_parameter_supported": true,
        "claims_parameter_supported": false,
        "request_parameter_supported": false,
        "request_uri_parameter_supported": false,
        "require_request_uri_registration": false,
    })
    .to_string()
}
