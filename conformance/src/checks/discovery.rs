//! Discovery and JWKS: the setup checks every module runs, and the config plan's full
//! verification of the discovery document (OpenID Connect Discovery 1.0 §3, RFC 8414).

use super::Log;
use serde_json::Value;
use std::collections::HashSet;

const PRIVATE_MEMBERS: &[&str] = &["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

fn str_field<'a>(doc: &'a Value, name: &str) -> Option<&'a str> {
    doc.get(name).and_then(Value::as_str)
}

pub fn strings(doc: &Value, name: &str) -> Vec<String> {
    doc.get(name)
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).map(str::to_string).collect())
        .unwrap_or_default()
}

/// CheckServerConfiguration: what every module needs from discovery.
pub fn server_configuration(log: &mut Log, doc: &Value) -> bool {
    let mut ok = true;
    for field in ["issuer", "authorization_endpoint", "token_endpoint"] {
        ok &= log.expect(
            str_field(doc, field).is_some_and(|v| !v.is_empty()),
            "CheckServerConfiguration",
            "OIDCD-3",
            format!("discovery has no {field}"),
        );
    }
    ok
}

fn is_base64url(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The JWKS checks every module runs: public keys only, well formed, each with a distinct,
/// non-blank kid (ValidateServerJWKs, CheckForKeyIdInServerJWKs, CheckDistinctKeyIdValueInServerJWKs).
pub fn server_jwks(log: &mut Log, jwks: &Value) -> bool {
    let Some(keys) = jwks.get("keys").and_then(Value::as_array) else {
        log.fail("ValidateServerJWKs", "RFC7517-5", "the JWKS has no keys array");
        return false;
    };
    let mut ok = log.expect(
        !keys.is_empty(),
        "ValidateServerJWKs",
        "RFC7517-5",
        "the JWKS has no keys",
    );
    let mut kids = HashSet::new();
    for key in keys {
        let Some(obj) = key.as_object() else {
            log.fail("ValidateServerJWKs", "RFC7517-5", "a JWKS entry is not an object");
            ok = false;
            continue;
        };
        let kid = obj.get("kid").and_then(Value::as_str).unwrap_or("");
        ok &= log.expect(
            !kid.trim().is_empty(),
            "CheckForKeyIdInServerJWKs",
            "OIDCC-10.1",
            "a key has no kid",
        );
        ok &= log.expect(
            kid.is_empty() || kids.insert(kid.to_string()),
            "CheckDistinctKeyIdValueInServerJWKs",
            "RFC7517-4.5",
            format!("kid {kid:?} is used by more than one key"),
        );
        for member in PRIVATE_MEMBERS {
            ok &= log.expect(
                !obj.contains_key(*member),
                "EnsureServerJwksDoesNotContainPrivateOrSymmetricKeys",
                "RFC7517-9.2",
                format!("key {kid:?} publishes private or symmetric material ({member})"),
            );
        }
        match obj.get("kty").and_then(Value::as_str) {
            Some("RSA") => {
                for member in ["n", "e"] {
                    ok &= log.expect(
                        obj.get(member).and_then(Value::as_str).is_some_and(is_base64url),
                        "ValidateServerJWKs",
                        "RFC7518-6.3.1",
                        format!("RSA key {kid:?} has no unpadded base64url {member}"),
                    );
                }
            }
            Some("EC") | Some("OKP") => {}
            Some(other) => {
                log.warn(
                    "ValidateServerJWKs",
                    "RFC7517-4.1",
                    format!("key {kid:?} has a kty this suite cannot use: {other}"),
                );
            }
            None => {
                log.fail("ValidateServerJWKs", "RFC7517-4.1", format!("key {kid:?} has no kty"));
                ok = false;
            }
        }
    }
    ok
}

fn https_url(s: &str) -> bool {
    url::Url::parse(s).is_ok_and(|u| u.scheme() == "https" && u.host().is_some())
}

const KNOWN_FIELDS: &[&str] = &[
    "issuer",
    "authorization_endpoint",
    "token_endpoint",
    "userinfo_endpoint",
    "jwks_uri",
    "registration_endpoint",
    "scopes_supported",
    "response_types_supported",
    "response_modes_supported",
    "grant_types_supported",
    "acr_values_supported",
    "subject_types_supported",
    "id_token_signing_alg_values_supported",
    "id_token_encryption_alg_values_supported",
    "id_token_encryption_enc_values_supported",
    "userinfo_signing_alg_values_supported",
    "userinfo_encryption_alg_values_supported",
    "userinfo_encryption_enc_values_supported",
    "request_object_signing_alg_values_supported",
    "request_object_encryption_alg_values_supported",
    "request_object_encryption_enc_values_supported",
    "token_endpoint_auth_methods_supported",
    "token_endpoint_auth_signing_alg_values_supported",
    "display_values_supported",
    "claim_types_supported",
    "claims_supported",
    "service_documentation",
    "claims_locales_supported",
    "ui_locales_supported",
    "claims_parameter_supported",
    "request_parameter_supported",
    "request_uri_parameter_supported",
    "require_request_uri_registration",
    "op_policy_uri",
    "op_tos_uri",
    "end_session_endpoint",
    "check_session_iframe",
    "frontchannel_logout_supported",
    "frontchannel_logout_session_supported",
    "backchannel_logout_supported",
    "backchannel_logout_session_supported",
    "revocation_endpoint",
    "revocation_endpoint_auth_methods_supported",
    "revocation_endpoint_auth_signing_alg_values_supported",
    "introspection_endpoint",
    "introspection_endpoint_auth_methods_supported",
    "introspection_endpoint_auth_signing_alg_values_supported",
    "code_challenge_methods_supported",
    "authorization_response_iss_parameter_supported",
    "pushed_authorization_request_endpoint",
    "require_pushed_authorization_requests",
    "dpop_signing_alg_values_supported",
    "tls_client_certificate_bound_access_tokens",
    "mtls_endpoint_aliases",
    "authorization_signing_alg_values_supported",
    "authorization_encryption_alg_values_supported",
    "authorization_encryption_enc_values_supported",
    "introspection_signing_alg_values_supported",
    "introspection_encryption_alg_values_supported",
    "introspection_encryption_enc_values_supported",
    "device_authorization_endpoint",
    "backchannel_authentication_endpoint",
    "signed_metadata",
    "require_signed_request_object",
    "prompt_values_supported",
    "claims_in_id_token_supported",
    "authorization_details_types_supported",
    "protected_resources",
];

fn bcp47(tag: &str) -> bool {
    let mut parts = tag.split('-');
    let first = parts.next().unwrap_or("");
    (2..=8).contains(&first.len())
        && first.bytes().all(|b| b.is_ascii_alphabetic())
        && parts.all(|p| (1..=8).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_alphanumeric()))
}

fn scope_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b == 0x21 || (0x23..=0x5b).contains(&b) || (0x5d..=0x7e).contains(&b))
}

/// oidcc-discovery-endpoint-verification: the whole document, against the URL it came from.
pub fn discovery_endpoint(log: &mut Log, discovery_url: &str, doc: &Value) {
    let Some(obj) = doc.as_object() else {
        log.fail(
            "ValidateServerMetadataAgainstSchema",
            "OIDCD-4.2",
            "the discovery document is not a JSON object",
        );
        return;
    };
    log.expect(
        discovery_url.ends_with("/.well-known/openid-configuration") && https_url(discovery_url),
        "CheckDiscEndpointDiscoveryUrl",
        "OIDCD-4",
        format!("discovery URL {discovery_url} is not https …/.well-known/openid-configuration"),
    );
    let issuer = str_field(doc, "issuer").unwrap_or("");
    let expected = discovery_url.trim_end_matches("/.well-known/openid-configuration");
    log.expect(
        issuer.trim_end_matches('/') == expected.trim_end_matches('/'),
        "CheckDiscEndpointIssuer",
        "OIDCD-4.3",
        format!("issuer {issuer:?} is not the discovery URL's prefix {expected:?}"),
    );
    log.expect(
        https_url(issuer),
        "IssuerIsValidUrl",
        "OIDCD-3",
        format!("issuer {issuer:?} is not an https URL"),
    );

    let array_fields = [
        "scopes_supported",
        "response_types_supported",
        "response_modes_supported",
        "grant_types_supported",
        "acr_values_supported",
        "subject_types_supported",
        "id_token_signing_alg_values_supported",
        "userinfo_signing_alg_values_supported",
        "request_object_signing_alg_values_supported",
        "token_endpoint_auth_methods_supported",
        "display_values_supported",
        "claim_types_supported",
        "claims_supported",
        "claims_locales_supported",
        "ui_locales_supported",
        "code_challenge_methods_supported",
    ];
    for field in array_fields {
        if let Some(v) = obj.get(field) {
            log.expect(
                v.as_array().is_some_and(|a| a.iter().all(Value::is_string)),
                "ValidateServerMetadataAgainstSchema",
                "OIDCD-3",
                format!("{field} is not an array of strings"),
            );
        }
    }
    for field in [
        "claims_parameter_supported",
        "request_parameter_supported",
        "request_uri_parameter_supported",
    ] {
        if let Some(v) = obj.get(field) {
            log.expect(
                v.is_boolean(),
                "ValidateServerMetadataAgainstSchema",
                "OIDCD-3",
                format!("{field} is not a boolean"),
            );
        }
    }
    for name in obj.keys() {
        if !KNOWN_FIELDS.contains(&name.as_str()) {
            log.warn(
                "CheckForUnexpectedParametersInDiscovery",
                "OIDCD-3",
                format!("unknown discovery field {name:?}"),
            );
        }
    }

    let response_types = strings(doc, "response_types_supported");
    log.expect(
        response_types
            .iter()
            .any(|t| t.split(' ').any(|p| p == "code" || p == "id_token")),
        "OIDCCCheckDiscEndpointResponseTypesSupported",
        "OIDCD-3",
        "response_types_supported has no OpenID Connect response type",
    );
    let subject_types = strings(doc, "subject_types_supported");
    log.expect(
        subject_types.iter().any(|t| t == "public" || t == "pairwise"),
        "CheckDiscEndpointSubjectTypesSupported",
        "OIDCD-3",
        "subject_types_supported has neither public nor pairwise",
    );
    log.expect(
        strings(doc, "id_token_signing_alg_values_supported")
            .iter()
            .any(|a| a == "RS256"),
        "OIDCCCheckDiscEndpointIdTokenSigningAlgValuesSupported",
        "OIDCD-3",
        "id_token_signing_alg_values_supported lacks RS256",
    );
    for field in ["authorization_endpoint", "token_endpoint"] {
        log.expect(
            str_field(doc, field).is_some_and(https_url),
            "CheckDiscEndpointAllEndpointsAreHttps",
            "OIDCD-3",
            format!("{field} is missing or not https"),
        );
    }
    match str_field(doc, "userinfo_endpoint") {
        None => log.warn("CheckDiscEndpointUserinfoEndpoint", "OIDCD-3", "no userinfo_endpoint"),
        Some(u) => {
            log.expect(
                https_url(u),
                "CheckDiscEndpointUserinfoEndpoint",
                "OIDCD-3",
                "userinfo_endpoint is not https",
            );
        }
    }
    if let Some(u) = str_field(doc, "registration_endpoint") {
        log.expect(
            https_url(u),
            "CheckDiscEndpointRegistrationEndpoint",
            "OIDCD-3",
            "registration_endpoint is not https",
        );
    }
    log.expect(
        str_field(doc, "jwks_uri").is_some_and(https_url),
        "CheckJwksUri",
        "OIDCD-3",
        "jwks_uri is missing or not https",
    );
    if obj.contains_key("request_object_signing_alg_values_supported") {
        log.advise(
            strings(doc, "request_object_signing_alg_values_supported")
                .iter()
                .any(|a| a == "RS256"),
            "CheckDiscRequestObjectSigningAlgValuesSupportedIncludesRS256",
            "OIDCC-6.1",
            "request_object_signing_alg_values_supported lacks RS256",
        );
    }
    log.advise(
        obj.get("claims_supported").is_some_and(Value::is_array),
        "OIDCCCheckDiscEndpointClaimsSupported",
        "OIDCD-3",
        "claims_supported is recommended",
    );
    if let Some(v) = obj.get("grant_types_supported") {
        log.expect(
            v.as_array().is_some_and(|a| !a.is_empty()),
            "CheckDiscEndpointGrantTypesSupported",
            "OIDCD-3",
            "grant_types_supported is empty",
        );
    }
    let scopes = strings(doc, "scopes_supported");
    log.advise(
        scopes.iter().any(|s| s == "openid"),
        "CheckDiscEndpointScopesSupportedContainsOpenId",
        "OIDCD-3",
        "scopes_supported lacks openid",
    );
    for s in &scopes {
        log.expect(
            scope_token(s),
            "ValidateScopesSupported",
            "RFC6749-3.3",
            format!("{s:?} is not a valid scope"),
        );
    }
    for field in ["ui_locales_supported", "claims_locales_supported"] {
        for tag in strings(doc, field) {
            log.expect(
                bcp47(&tag),
                "ValidateLocales",
                "RFC5646",
                format!("{field}: {tag:?} is not a BCP47 tag"),
            );
        }
    }
    for (name, value) in obj {
        if name.ends_with("_endpoint") {
            log.expect(
                value.as_str().is_some_and(https_url),
                "CheckDiscEndpointAllEndpointsAreHttps",
                "OIDCD-3",
                format!("{name} is not an https URL"),
            );
        }
    }
    if let Some(v) = obj.get("code_challenge_methods_supported") {
        let methods = v
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_str).collect::<Vec<_>>())
            .unwrap_or_default();
        log.expect(
            methods.iter().any(|m| *m == "S256" || *m == "plain"),
            "CheckDiscEndpointCodeChallengeMethodsSupported",
            "RFC8414-2",
            "code_challenge_methods_supported has neither S256 nor plain",
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn jwks_with_private_parts_and_duplicate_kids_fails() {
        let mut log = Log::default();
        let jwks = json!({"keys": [
            {"kty": "RSA", "kid": "a", "n": "AQAB", "e": "AQAB", "d": "secret"},
            {"kty": "RSA", "kid": "a", "n": "AQAB", "e": "AQAB"},
            {"kty": "RSA", "n": "AQAB", "e": "AQAB"}
        ]});
        assert!(!server_jwks(&mut log, &jwks));
        let conditions: Vec<&str> = log.findings.iter().map(|f| f.condition.as_str()).collect();
        assert!(conditions.contains(&"EnsureServerJwksDoesNotContainPrivateOrSymmetricKeys"));
        assert!(conditions.contains(&"CheckDistinctKeyIdValueInServerJWKs"));
        assert!(conditions.contains(&"CheckForKeyIdInServerJWKs"));
    }

    #[test]
    fn http_endpoints_fail_the_config_plan() {
        let mut log = Log::default();
        let doc = json!({
            "issuer": "https://op.test", "authorization_endpoint": "https://op.test/a",
            "token_endpoint": "http://op.test/t", "jwks_uri": "https://op.test/j",
            "response_types_supported": ["code"], "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"], "scopes_supported": ["openid"],
            "claims_supported": ["sub"], "userinfo_endpoint": "https://op.test/u"
        });
        discovery_endpoint(&mut log, "https://op.test/.well-known/openid-configuration", &doc);
        assert_eq!(log.findings.len(), 2, "{:?}", log.findings); // token_endpoint, checked twice
        assert!(log
            .findings
            .iter()
            .all(|f| f.condition == "CheckDiscEndpointAllEndpointsAreHttps"));
        assert!(bcp47("en-GB") && bcp47("se") && !bcp47("en_GB"));
    }
}
