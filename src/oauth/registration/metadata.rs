//! Client metadata (RFC 7591 §2, OIDC Dynamic Client Registration §2) read into the
//! settings the CLI and the admin API use, and the registered metadata written back.
//! Metadata Gatehouse does not use is ignored, as RFC 7591 §2 asks, and so left out of the
//! answer; metadata asking for something Gatehouse cannot do is refused, never dropped.

use crate::admin::clients::ClientSettings;
use crate::clients::{Client, ADMIN_SCOPE, DEVICE_CODE_GRANT, SUPPORTED_SCOPES};
use crate::oauth::error::OAuthError;
use serde_json::{json, Map, Value};

/// The `token_endpoint_auth_method` values we take (RFC 7591 §2).
pub const AUTH_METHODS: &[&str] = &["client_secret_basic", "client_secret_post", "private_key_jwt", "none"];

/// A registered client needs these grants only; client_credentials needs an audience,
/// which only an operator can vouch for.
const GRANTS: &[&str] = &["authorization_code", "refresh_token", DEVICE_CODE_GRANT];

/// Metadata that asks for what Gatehouse does not do: refused rather than ignored, as the
/// client would otherwise expect, say, encrypted ID tokens and get plain ones.
const UNSUPPORTED: &[&str] = &[
    "id_token_encrypted_response_alg",
    "id_token_encrypted_response_enc",
    "userinfo_encrypted_response_alg",
    "userinfo_encrypted_response_enc",
    "request_object_encryption_alg",
    "request_object_encryption_enc",
    "authorization_signed_response_alg",
    "tls_client_certificate_bound_access_tokens",
];

/// What a registration (or a replacement, RFC 7592 §2.2) asks for.
#[derive(Debug)]
pub struct Registration {
    pub settings: ClientSettings,
    pub auth_method: String,
}

fn bad(message: impl Into<String>) -> OAuthError {
    OAuthError::invalid_client_metadata(message.into())
}

/// Reads a registration request's JSON object.
pub fn read(body: &Map<String, Value>) -> Result<Registration, OAuthError> {
    if body.contains_key("software_statement") {
        return Err(OAuthError::invalid_software_statement(
            "software statements are not accepted here",
        ));
    }
    if let Some(name) = UNSUPPORTED
        .iter()
        .find(|name| body.get(**name).is_some_and(|v| !v.is_null()))
    {
        return Err(bad(format!("{name} is not supported")));
    }
    let string = |name: &str| -> Result<Option<String>, OAuthError> {
        match body.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(bad(format!("{name} must be a string"))),
        }
    };
    let strings = |name: &str| -> Result<Option<Vec<String>>, OAuthError> {
        match body.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Array(items)) => items
                .iter()
                .map(|v| v.as_str().map(str::to_string))
                .collect::<Option<Vec<_>>>()
                .map(Some)
                .ok_or_else(|| bad(format!("{name} must be an array of strings"))),
            Some(_) => Err(bad(format!("{name} must be an array of strings"))),
        }
    };
    let expect_one_of = |name: &str, allowed: &[&str]| -> Result<(), OAuthError> {
        match string(name)? {
            Some(v) if !allowed.contains(&v.as_str()) => Err(bad(format!(
                "{name} {v:?} is not supported: use {}",
                allowed.join(" or ")
            ))),
            _ => Ok(()),
        }
    };
    expect_one_of("id_token_signed_response_alg", &["RS256"])?;
    expect_one_of("request_object_signing_alg", &["RS256", "ES256"])?;
    expect_one_of("token_endpoint_auth_signing_alg", &["RS256", "ES256"])?;
    expect_one_of("subject_type", &["public", "pairwise"])?;
    expect_one_of("application_type", &["web", "native"])?;

    let auth_method = string("token_endpoint_auth_method")?.unwrap_or_else(|| "client_secret_basic".into());
    if !AUTH_METHODS.contains(&auth_method.as_str()) {
        return Err(bad(format!(
            "token_endpoint_auth_method {auth_method:?} is not supported: use one of {}",
            AUTH_METHODS.join(", ")
        )));
    }
    let grant_types = strings("grant_types")?.unwrap_or_else(|| vec!["authorization_code".into()]);
    if let Some(grant) = grant_types.iter().find(|g| !GRANTS.contains(&g.as_str())) {
        return Err(bad(format!(
            "grant type {grant:?} cannot be registered: use {}",
            GRANTS.join(", ")
        )));
    }
    // RFC 7591 §2.1: response_types and grant_types must agree.
    let code_flow = grant_types.iter().any(|g| g == "authorization_code");
    let response_types = strings("response_types")?.unwrap_or_else(|| match code_flow {
        true => vec!["code".into()],
        false => Vec::new(),
    });
    if let Some(other) = response_types.iter().find(|r| r.as_str() != "code") {
        return Err(bad(format!("response type {other:?} is not supported: use code")));
    }
    // Either both (the code flow) or neither.
    if code_flow == response_types.is_empty() {
        return Err(bad(
            "response_types [\"code\"] goes with the authorization_code grant, and only with it",
        ));
    }
    let redirect_uris = strings("redirect_uris")?.unwrap_or_default();
    if code_flow && redirect_uris.is_empty() {
        return Err(OAuthError::invalid_redirect_uri("redirect_uris is required"));
    }
    let scopes = match string("scope")? {
        None => None,
        Some(scope) => {
            let scopes: Vec<String> = scope.split(' ').filter(|s| !s.is_empty()).map(str::to_string).collect();
            if let Some(unknown) = scopes
                .iter()
                .find(|s| !SUPPORTED_SCOPES.contains(&s.as_str()) || s.as_str() == ADMIN_SCOPE)
            {
                return Err(bad(format!(
                    "scope {unknown:?} cannot be registered: use any of {}",
                    SUPPORTED_SCOPES.join(" ")
                )));
            }
            Some(scopes)
        }
    };
    let jwks = match body.get("jwks") {
        None | Some(Value::Null) => None,
        Some(keys @ Value::Object(_)) => Some(keys.to_string()),
        Some(_) => return Err(bad("jwks must be a JWK Set object")),
    };
    let jwks_uri = string("jwks_uri")?;
    if jwks.is_some() && jwks_uri.is_some() {
        return Err(bad(
            "give the public keys in jwks or at jwks_uri, not both (RFC 7591 §2)",
        ));
    }
    match (auth_method.as_str(), jwks.is_some() || jwks_uri.is_some()) {
        ("private_key_jwt", false) => {
            return Err(bad(
                "private_key_jwt needs the client's public keys in jwks or at jwks_uri",
            ))
        }
        // A key-holding client without a secret must sign in with a key (client_auth),
        // so keys would turn "none" into private_key_jwt behind the client's back.
        ("none", true) => {
            return Err(bad(
                "a client with token_endpoint_auth_method none cannot register keys",
            ))
        }
        _ => {}
    }
    let require_dpop = match body.get("dpop_bound_access_tokens") {
        None | Some(Value::Null) => None,
        Some(Value::Bool(b)) => Some(*b),
        Some(_) => return Err(bad("dpop_bound_access_tokens must be true or false")),
    };
    let name = string("client_name")?
        .map(|n| n.trim().to_string())
        .filter(|n| !n.is_empty());
    if name
        .as_ref()
        .is_some_and(|n| n.chars().count() > 100 || n.chars().any(char::is_control))
    {
        return Err(bad(
            "client_name must be at most 100 characters, with no control characters",
        ));
    }
    let settings = ClientSettings {
        name,
        public: Some(matches!(auth_method.as_str(), "none" | "private_key_jwt")),
        redirect_uris: Some(redirect_uris),
        post_logout_redirect_uris: Some(strings("post_logout_redirect_uris")?.unwrap_or_default()),
        grant_types: Some(grant_types),
        // Registered by whoever asked: the user is always asked to consent.
        first_party: Some(false),
        scopes,
        jwks,
        backchannel_logout_uri: string("backchannel_logout_uri")?,
        require_dpop,
        jwks_uri,
        request_uris: Some(strings("request_uris")?.unwrap_or_default()),
        subject_type: string("subject_type")?,
        sector_identifier_uri: string("sector_identifier_uri")?,
        logo_uri: string("logo_uri")?,
        policy_uri: string("policy_uri")?,
        tos_uri: string("tos_uri")?,
        userinfo_signed_response_alg: string("userinfo_signed_response_alg")?,
        ..ClientSettings::default()
    };
    Ok(Registration { settings, auth_method })
}

/// The client's registered metadata (RFC 7591 §3.2.1, RFC 7592 §3), without the
/// secret or the registration access token, which the caller adds when it has them.
pub fn describe(client: &Client, auth_method: &str, registration_client_uri: &str) -> Map<String, Value> {
    let mut out = json!({
        "client_id": client.id,
        "client_id_issued_at": client.created_at,
        "client_name": client.name,
        "redirect_uris": client.redirect_uris,
        "grant_types": client.grant_types,
        "token_endpoint_auth_method": auth_method,
        "id_token_signed_response_alg": "RS256",
        "subject_type": if client.pairwise_sector.is_some() { "pairwise" } else { "public" },
        "dpop_bound_access_tokens": client.require_dpop,
        "registration_client_uri": registration_client_uri,
    });
    let Some(out_map) = out.as_object_mut() else {
        return Map::new();
    };
    if client.may_use_grant("authorization_code") {
        out_map.insert("response_types".into(), json!(["code"]));
    }
    if !client.post_logout_redirect_uris.is_empty() {
        out_map.insert(
            "post_logout_redirect_uris".into(),
            json!(client.post_logout_redirect_uris),
        );
    }
    if let Some(scopes) = &client.allowed_scopes {
        out_map.insert("scope".into(), scopes.join(" ").into());
    }
    if let Some(jwks) = client
        .jwks
        .as_deref()
        .and_then(|j| serde_json::from_str::<Value>(j).ok())
    {
        out_map.insert("jwks".into(), jwks);
    }
    for (name, value) in [
        ("jwks_uri", &client.jwks_uri),
        ("sector_identifier_uri", &client.sector_identifier_uri),
        ("logo_uri", &client.logo_uri),
        ("policy_uri", &client.policy_uri),
        ("tos_uri", &client.tos_uri),
        ("userinfo_signed_response_alg", &client.userinfo_signed_response_alg),
    ] {
        if let Some(v) = value {
            out_map.insert(name.into(), v.clone().into());
        }
    }
    if !client.request_uris.is_empty() {
        out_map.insert("request_uris".into(), json!(client.request_uris));
    }
    if let Some(uri) = &client.backchannel_logout_uri {
        out_map.insert("backchannel_logout_uri".into(), uri.clone().into());
        // Every logout token Gatehouse sends carries the sid.
        out_map.insert("backchannel_logout_session_required".into(), true.into());
    }
    if client.secret_hash.is_some() {
        // RFC 7591 §3.2.1: 0, the secret does not expire.
        out_map.insert("client_secret_expires_at".into(), 0.into());
    }
    std::mem::take(out_map)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn object(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    fn code(result: Result<Registration, OAuthError>) -> &'static str {
        result.err().map(|e| e.code.as_str()).unwrap_or("ok")
    }

    #[test]
    fn a_minimal_registration_is_a_confidential_third_party_code_client() {
        let r = read(&object(json!({"redirect_uris": ["https://rp.example/cb"]}))).unwrap();
        assert_eq!(r.auth_method, "client_secret_basic");
        assert_eq!(r.settings.public, Some(false));
        assert_eq!(r.settings.first_party, Some(false));
        assert_eq!(r.settings.grant_types, Some(vec!["authorization_code".to_string()]));
    }

    #[test]
    fn what_gatehouse_cannot_do_is_refused_with_the_rfc_7591_codes() {
        assert_eq!(code(read(&object(json!({})))), "invalid_redirect_uri");
        for body in [
            json!({"redirect_uris": ["https://rp.example/cb"], "jwks_uri": "https://rp.example/jwks", "jwks": {"keys": []}}),
            json!({"redirect_uris": ["https://rp.example/cb"], "response_types": ["id_token"]}),
            json!({"redirect_uris": ["https://rp.example/cb"], "grant_types": ["client_credentials"]}),
            json!({"redirect_uris": ["https://rp.example/cb"], "token_endpoint_auth_method": "client_secret_jwt"}),
            json!({"redirect_uris": ["https://rp.example/cb"], "token_endpoint_auth_method": "private_key_jwt"}),
            json!({"redirect_uris": ["https://rp.example/cb"], "scope": "openid gatehouse:admin"}),
            json!({"redirect_uris": ["https://rp.example/cb"], "id_token_signed_response_alg": "none"}),
            json!({"redirect_uris": "https://rp.example/cb"}),
            json!({"redirect_uris": ["https://rp.example/cb"], "grant_types": ["refresh_token"], "response_types": ["code"]}),
        ] {
            assert_eq!(code(read(&object(body.clone()))), "invalid_client_metadata", "{body}");
        }
        assert_eq!(
            code(read(&object(
                json!({"redirect_uris": ["https://rp.example/cb"], "software_statement": "x.y.z"})
            ))),
            "invalid_software_statement"
        );
    }

    #[test]
    fn unknown_metadata_is_ignored() {
        let r = read(&object(
            json!({"redirect_uris": ["https://rp.example/cb"], "initiate_login_uri": "https://rp.example/login", "x-custom": 1}),
        ));
        assert!(r.is_ok());
    }
}
