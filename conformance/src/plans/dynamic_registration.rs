//! The dynamic plan's modules about what registration must accept or refuse: a redirect
//! URI with a fragment, a `jwks_uri`, a `sector_identifier_uri` that lists the redirect
//! URI and one that does not, `userinfo_signed_response_alg`, and the logo, policy and
//! terms URIs the OP must show the user.

use super::dynamic::{advertises, Here};
use super::flow::{AuthRequest, UserInfoCall};
use super::Ctx;
use crate::checks::{userinfo, Stop};
use crate::jose::Jwt;
use serde_json::{json, Value};

const OIDCR: &str = "OIDCR-2";

/// oidcc-redirect-uri-regfrag: a redirect URI with a fragment must be refused (RFC 6749
/// §3.1.2) with invalid_request, invalid_configuration_parameter or invalid_redirect_uri.
pub async fn redirect_uri_fragment(ctx: &mut Ctx) -> Result<(), Stop> {
    let redirect = format!("{}#foo", ctx.op.target.redirect_uri());
    let registration = ctx.registration(&redirect)?;
    let answer = ctx.call_registration(&registration.body).await?;
    let Some(json) = &answer.json else {
        return Err(ctx.log.stop(
            "CallDynamicRegistrationEndpointExpectingError",
            "RFC6749-3.1.2",
            format!(
                "the registration endpoint's answer (HTTP {}) is not a JSON object",
                answer.status
            ),
        ));
    };
    // A client it did register anyway is deleted at the end like any other.
    if let Some(id) = json.get("client_id").and_then(Value::as_str) {
        let id = id.to_string();
        ctx.log.fail(
            "CheckErrorFromDynamicRegistrationEndpointIsInvalidRequestOrInvalidConfigurationParameterOrInvalidRedirectUri",
            "RFC6749-3.1.2",
            format!("the OP registered client {id} with the redirect URI {redirect}, fragment and all"),
        );
        let registration_uri = json.get("registration_client_uri").and_then(Value::as_str);
        let token = json.get("registration_access_token").and_then(Value::as_str);
        if let (Some(uri), Some(token)) = (registration_uri, token) {
            let _ = ctx.op.api.delete(uri).bearer_auth(token).send().await;
        }
        return Ok(());
    }
    const PERMITTED: &[&str] = &[
        "invalid_request",
        "invalid_configuration_parameter",
        "invalid_redirect_uri",
    ];
    let error = answer.error().unwrap_or("").to_string();
    ctx.log.expect(
        PERMITTED.contains(&error.as_str()),
        "CheckErrorFromDynamicRegistrationEndpointIsInvalidRequestOrInvalidConfigurationParameterOrInvalidRedirectUri",
        "RFC6749-3.1.2",
        format!("error is {error:?}; expected one of {PERMITTED:?}"),
    );
    Ok(())
}

/// oidcc-registration-jwks-uri: the client's keys by reference. The runner serves them;
/// the OP must fetch them to check the client assertion.
pub async fn jwks_uri(ctx: &mut Ctx, here: &Here) -> Result<(), Stop> {
    let mut registration = ctx.registration(&ctx.op.target.redirect_uri())?;
    let path = here.path("jwks");
    ctx.op
        .documents
        .publish(&path, "application/json", registration.key.jwks().to_string());
    let url = ctx.op.target.listener_url(&path);
    registration.remove("jwks").set("jwks_uri", Value::String(url));
    let which = ctx.register(registration).await?;
    ctx.sign_in(&AuthRequest::new().client(which)).await?;
    Ok(())
}

/// oidcc-registration-sector-uri and -sector-bad: a pairwise client whose
/// sector_identifier_uri lists its redirect URI (`good`) must be registered; one whose
/// document lists only https://example.com/op must be refused (OIDCR-5).
pub async fn sector(ctx: &mut Ctx, here: &Here, good: bool) -> Result<(), Stop> {
    if !advertises(ctx, "subject_types_supported", "pairwise") {
        return Err(Stop::Skipped(
            "subject_types_supported does not list pairwise; the official suite skips this module too".into(),
        ));
    }
    let redirect = ctx.op.target.redirect_uri();
    let listed = match good {
        true => json!([redirect]),
        false => json!(["https://example.com/op"]),
    };
    let path = here.path("redirect_uris.json");
    ctx.op.documents.publish(&path, "application/json", listed.to_string());
    let mut registration = ctx.registration(&redirect)?;
    registration.set("subject_type", Value::String("pairwise".into())).set(
        "sector_identifier_uri",
        Value::String(ctx.op.target.listener_url(&path)),
    );
    if good {
        // The suite ends here: a successful registration is the test.
        ctx.register(registration).await?;
        return Ok(());
    }
    let answer = ctx.call_registration(&registration.body).await?;
    if let Some(id) = answer
        .json
        .as_ref()
        .and_then(|j| j.get("client_id"))
        .and_then(Value::as_str)
    {
        ctx.log.fail(
            "EnsureHttpStatusCodeIs400",
            "OIDCR-5",
            format!("the OP registered client {id} although its sector_identifier_uri does not list {redirect}"),
        );
        return Ok(());
    }
    ctx.log.expect(
        answer.content_type.starts_with("application/json"),
        "EnsureContentTypeJson",
        "OIDCR-3.3",
        format!("the registration error's content type is {:?}", answer.content_type),
    );
    ctx.log.expect(
        answer.status == 400,
        "EnsureHttpStatusCodeIs400",
        "OIDCR-3.3",
        format!("the registration endpoint answered {}", answer.status),
    );
    let error = answer.error().unwrap_or("").to_string();
    ctx.log.advise(
        error == "invalid_client_metadata",
        "CheckErrorFromDynamicRegistrationEndpointIsInvalidClientMetadata",
        "OIDCR-3.3",
        format!("error is {error:?}, not invalid_client_metadata"),
    );
    Ok(())
}

/// oidcc-registration-logo-uri, -policy-uri, -tos-uri. The suite asks a person to look at
/// a screenshot of the login page; here the pages the user meets (login, consent) must show
/// the registered logo as an `<img>` or link to the registered policy or terms.
pub async fn shown_uri(ctx: &mut Ctx, here: &Here, field: &str) -> Result<(), Stop> {
    let (file, content_type, body, css, attr, condition): (&str, &str, Vec<u8>, &str, &str, &str) = match field {
        "logo_uri" => (
            "logo.png",
            "image/png",
            LOGO_PNG.to_vec(),
            "img",
            "src",
            "ExpectLoginPageWithLogo",
        ),
        "policy_uri" => (
            "policy.html",
            "text/html",
            page("Privacy policy"),
            "a",
            "href",
            "ExpectLoginPageWithPolicyLink",
        ),
        _ => (
            "tos.html",
            "text/html",
            page("Terms of service"),
            "a",
            "href",
            "ExpectLoginPageWithTosLink",
        ),
    };
    let path = here.path(file);
    ctx.op.documents.publish(&path, content_type, body);
    let url = ctx.op.target.listener_url(&path);
    let mut registration = ctx.registration(&ctx.op.target.redirect_uri())?;
    registration.set(field, Value::String(url.clone()));
    let which = ctx.register(registration).await?;
    let (_, visit, _) = ctx.sign_in(&AuthRequest::new().client(which)).await?;
    let shown = visit
        .seen
        .iter()
        .any(|p| crate::html::links_to(&p.url, &p.body, css, attr, &url));
    ctx.log.expect(
        shown,
        condition,
        OIDCR,
        format!(
            "none of the {} page(s) the user met ({}) has an <{css} {attr}> with the registered {field} {url}",
            visit.seen.len(),
            visit
                .seen
                .iter()
                .map(|p| p.url.path().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    );
    Ok(())
}

fn page(title: &str) -> Vec<u8> {
    format!("<!DOCTYPE html><html><head><title>{title}</title></head><body><h1>{title}</h1></body></html>").into_bytes()
}

/// A 1×1 transparent PNG.
const LOGO_PNG: &[u8] = &[
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52, 0x00, 0x00, 0x00,
    0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1f, 0x15, 0xc4, 0x89, 0x00, 0x00, 0x00, 0x0d, 0x49,
    0x44, 0x41, 0x54, 0x78, 0x9c, 0x63, 0x00, 0x01, 0x00, 0x00, 0x05, 0x00, 0x01, 0x0d, 0x0a, 0x2d, 0xb4, 0x00, 0x00,
    0x00, 0x00, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82,
];

/// oidcc-userinfo-rs256: a client registered with userinfo_signed_response_alg RS256 gets
/// UserInfo as a JWT signed with the OP's key (OIDCC-5.3.2).
pub async fn userinfo_rs256(ctx: &mut Ctx) -> Result<(), Stop> {
    let algs = crate::checks::discovery::strings(ctx.op.metadata(), "userinfo_signing_alg_values_supported");
    ctx.log.expect(
        algs.iter().any(|a| a == "RS256"),
        "CheckDiscEndpointUserinfoSigningAlgValuesSupportedContainsRS256",
        "OIDCD-3",
        format!("userinfo_signing_alg_values_supported {algs:?} lacks RS256"),
    );
    let mut registration = ctx.registration(&ctx.op.target.redirect_uri())?;
    registration.set("userinfo_signed_response_alg", Value::String("RS256".into()));
    let which = ctx.register(registration).await?;
    let (_, _, tokens) = ctx.sign_in_then(&AuthRequest::new().client(which), None).await?;
    let (status, content_type, body) = ctx.userinfo_call(&tokens.access_token, UserInfoCall::Get).await?;
    ctx.log.require(
        status == 200,
        "CheckUserInfoEndpointHttpStatus200",
        "OIDCC-5.3.2",
        format!("UserInfo answered {status}"),
    )?;
    ctx.log.expect(
        content_type.starts_with("application/jwt"),
        "EnsureContentTypeApplicationJwt",
        "OIDCC-5.3.2",
        format!("the client registered signed UserInfo; the content type is {content_type:?}"),
    );
    let jwt = Jwt::parse(body.trim()).map_err(|e| {
        ctx.log.stop(
            "ExtractSignedUserInfoFromUserInfoEndpointResponse",
            "OIDCC-5.3.2",
            format!("the UserInfo answer is not a JWS: {e}"),
        )
    })?;
    let kid = jwt.header.get("kid").and_then(Value::as_str).map(str::to_string);
    let jwks = ctx.op.keys_for(kid.as_deref()).await;
    if let Err(e) = jwt.verify(&jwks) {
        ctx.log.fail("ValidateUserInfoResponseSignature", "OIDCC-5.3.2", e);
    }
    ctx.log.expect(
        jwt.alg() == "RS256",
        "ValidateUserInfoSigningAlgIsRS256",
        "OIDCC-5.3.2",
        format!("alg is {:?}", jwt.alg()),
    );
    let issuer = ctx.issuer();
    let client_id = ctx.client_id(which).to_string();
    ctx.log.advise(
        jwt.claim_str("iss") == Some(issuer.as_str()),
        "ValidateSignedUserInfoResponseStandardJWTClaims",
        "OIDCC-5.3.2",
        format!("iss is {:?}, not the issuer", jwt.claim_str("iss")),
    );
    let aud_ok = match jwt.claims.get("aud") {
        Some(Value::String(aud)) => *aud == client_id,
        Some(Value::Array(auds)) => auds.iter().any(|a| a.as_str() == Some(client_id.as_str())),
        _ => false,
    };
    ctx.log.advise(
        aud_ok,
        "ValidateSignedUserInfoResponseStandardJWTClaims",
        "OIDCC-5.3.2",
        format!("aud {:?} does not hold the client_id", jwt.claims.get("aud")),
    );
    ctx.log.expect(
        !jwt.claims.contains_key("nonce"),
        "EnsureUserInfoDoesNotContainNonce",
        "OIDCC-5.3.2",
        "signed UserInfo carries a nonce",
    );
    // The claims themselves as for JSON UserInfo: sub as the ID token's, standard types.
    let claims = Value::Object(jwt.claims.clone()).to_string();
    userinfo::success(&mut ctx.log, status, "application/json", &claims, tokens.sub())?;
    Ok(())
}
