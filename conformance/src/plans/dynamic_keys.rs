//! Keys in the dynamic plan: the OP rotating its signing keys (`oidcc-server-rotate-keys`,
//! through the target's `rotate_keys` hook), the RP rotating the keys in its `jwks_uri`
//! between getting a refresh token and using it (`oidcc-refresh-token-rp-key-rotation`),
//! and a client assertion whose audience is the issuer.

use super::dynamic::{register_default, Here};
use super::flow::{AuthRequest, ClientAuth, UserInfoCall};
use super::{Ctx, Fetched};
use crate::browser::Policy;
use crate::checks::{discovery, id_token, token, userinfo, Stop};
use crate::target::Hook;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::time::Duration;

const ROTATION: &str = "OIDCC-10.1.1";

/// Runs the hook: the command must exit 0, the HTTP call must answer 2xx.
pub async fn run_hook(ctx: &Ctx, hook: &Hook) -> Result<(), String> {
    if let Some((program, args)) = hook.command.split_first() {
        let status = tokio::process::Command::new(program)
            .args(args)
            .env("ISSUER", ctx.op.target.issuer())
            .status()
            .await
            .map_err(|e| format!("running {program}: {e}"))?;
        return match status.success() {
            true => Ok(()),
            false => Err(format!("{} exited with {status}", hook.command.join(" "))),
        };
    }
    let Some(url) = &hook.url else {
        return Err("the hook has neither a command nor a url".into());
    };
    let method = hook.method.as_deref().unwrap_or("POST");
    let method = reqwest::Method::from_bytes(method.as_bytes()).map_err(|e| format!("method {method:?}: {e}"))?;
    let mut request = ctx.op.api.request(method.clone(), url);
    if let Some(token) = &hook.bearer {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.map_err(|e| format!("{method} {url}: {e}"))?;
    match response.status().is_success() {
        true => Ok(()),
        false => Err(format!("{method} {url} answered {}", response.status())),
    }
}

/// The JWKS as fetched, checked as the module checks both (FetchServerKeys, ValidateServerJWKs, …).
fn checked_jwks(ctx: &mut Ctx, fetched: Fetched, when: &str) -> Result<Value, Stop> {
    let jwks = match fetched.json {
        Ok(jwks) if fetched.status == 200 => jwks,
        Ok(_) => {
            return Err(ctx.log.stop(
                "FetchServerKeys",
                "OIDCD-3",
                format!("jwks_uri answered {} {when}", fetched.status),
            ))
        }
        Err(e) => return Err(ctx.log.stop("FetchServerKeys", "OIDCD-3", format!("{e} ({when})"))),
    };
    if !discovery::server_jwks(&mut ctx.log, &jwks) {
        return Err(Stop::Failed);
    }
    Ok(jwks)
}

/// A signing key (`use` sig or absent) reduced to what identifies it: kid, kty and the
/// public parameters, so that two JWK Sets can be compared.
fn signing_keys(jwks: &Value) -> BTreeSet<(String, String, String, String)> {
    jwks.get("keys")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|k| k.get("use").and_then(Value::as_str).is_none_or(|u| u == "sig"))
        .map(|k| {
            let s = |name: &str| k.get(name).and_then(Value::as_str).unwrap_or("").to_string();
            let material = match s("kty").as_str() {
                "RSA" => s("n"),
                _ => s("x"),
            };
            (
                s("kid"),
                s("kty"),
                material,
                format!("{}{}{}", s("e"), s("crv"), s("y")),
            )
        })
        .collect()
}

/// oidcc-server-rotate-keys: after a rotation the JWKS has a new signing key, with a new
/// kid and new key material (VerifyNewJwksHasNewSigningKey, a failure), and should still
/// have the old one (VerifyNewJwksStillHasOldSigningKey, a warning).
pub async fn server_rotate_keys(ctx: &mut Ctx) -> Result<(), Stop> {
    let Some(hook) = ctx.op.target.rotate_keys.clone() else {
        return Err(Stop::Review(
            "the target has no rotate_keys hook, and the suite leaves rotating the OP's keys to a person: rotate \
             them and compare the JWKS by hand, or self-assert key rotation in the certification application"
                .into(),
        ));
    };
    let fetched = ctx.op.fetch_keys().await;
    let before = checked_jwks(ctx, fetched, "before the rotation")?;
    if let Err(e) = run_hook(ctx, &hook).await {
        return Err(ctx.log.stop(
            "TellUserToRotateOpKeys",
            ROTATION,
            format!("the rotate_keys hook failed: {e}"),
        ));
    }
    let fetched = ctx.op.fetch_keys().await;
    let after = checked_jwks(ctx, fetched, "after the rotation")?;
    let (old, new) = (signing_keys(&before), signing_keys(&after));
    let added: Vec<_> = new.difference(&old).collect();
    ctx.log.require(
        !added.is_empty(),
        "VerifyNewJwksHasNewSigningKey",
        ROTATION,
        "the JWKS after the rotation has no signing key it did not have before",
    )?;
    for (kid, _, material, _) in added {
        ctx.log.expect(
            !old.iter().any(|(k, _, _, _)| k == kid),
            "VerifyNewJwksHasNewSigningKey",
            ROTATION,
            format!("the new key reuses the kid {kid:?} of an old one"),
        );
        ctx.log.expect(
            !old.iter().any(|(_, _, m, _)| m == material),
            "VerifyNewJwksHasNewSigningKey",
            ROTATION,
            format!("the new key {kid:?} has the key material of an old one"),
        );
    }
    let dropped: Vec<&str> = old.difference(&new).map(|(kid, _, _, _)| kid.as_str()).collect();
    ctx.log.advise(
        dropped.is_empty(),
        "VerifyNewJwksStillHasOldSigningKey",
        ROTATION,
        format!("the rotation removed {dropped:?} at once: tokens they signed can no longer be verified"),
    );
    Ok(())
}

/// oidcc-refresh-token-rp-key-rotation: a refresh token is got by a client whose keys are
/// at its jwks_uri; the RP then replaces its key with one of a new kid, waits, and
/// refreshes with an assertion signed by the new key, which the OP must find by
/// fetching the jwks_uri again.
pub async fn rp_key_rotation(ctx: &mut Ctx, here: &Here) -> Result<(), Stop> {
    let mut registration = ctx.registration(&ctx.op.target.redirect_uri())?;
    let path = here.path("jwks");
    ctx.op
        .documents
        .publish(&path, "application/json", registration.key.jwks().to_string());
    registration
        .remove("jwks")
        .set("jwks_uri", Value::String(ctx.op.target.listener_url(&path)))
        .set("grant_types", json!(["authorization_code", "refresh_token"]));
    let which = ctx.register(registration).await?;
    // SetScopeInClientConfigurationToOpenIdOfflineAccess, and prompt=consent with it (OIDCC-11).
    let req = AuthRequest::new()
        .client(which)
        .scope("openid offline_access")
        .param("prompt", "consent");
    let (_, _, first) = ctx.sign_in(&req).await?;
    let Some(refresh) = first.refresh_token.clone() else {
        return Err(ctx.log.stop(
            "ExtractRefreshTokenFromTokenResponse",
            "OIDCC-12",
            "no refresh token for a client registered for refresh_token that asked for offline_access",
        ));
    };
    ctx.log.advise(
        super::dynamic::advertises(ctx, "grant_types_supported", "refresh_token"),
        "EnsureServerConfigurationSupportsRefreshToken",
        "OIDCD-3",
        "grant_types_supported does not list refresh_token",
    );
    token::refresh_token(&mut ctx.log, &refresh);

    // Cycling keys in the RP's jwks_uri: only the new key is there now.
    let key = super::dynamic_client::RpKey::generate()
        .map_err(|e| Stop::Error(format!("generating the RP's new key: {e}")))?;
    ctx.op
        .documents
        .publish(&path, "application/json", key.jwks().to_string());
    ctx.dyn_client(which)?.key = key;
    tokio::time::sleep(Duration::from_secs(ctx.op.target.rp_key_rotation_wait_secs)).await;

    let form = vec![
        ("grant_type".to_string(), "refresh_token".to_string()),
        ("refresh_token".to_string(), refresh),
    ];
    let answer = ctx.token_call(which, form, ClientAuth::PrivateKeyJwt).await?;
    let json = token::success(&mut ctx.log, &answer, true)?;
    if let Some(rotated) = json.get("refresh_token").and_then(Value::as_str) {
        token::refresh_token(&mut ctx.log, rotated);
    }
    let access_token = json
        .get("access_token")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    if json.get("id_token").is_some() {
        let renewed = ctx.tokens_from(json, which, id_token::Nonce::Refreshed).await?;
        ctx.log.expect(
            renewed.sub() == first.sub(),
            "CompareIdTokenClaims",
            "OIDCC-12.2",
            "the refreshed ID token names another sub",
        );
    }
    let (status, content_type, body) = ctx.userinfo_call(&access_token, UserInfoCall::Get).await?;
    userinfo::success(&mut ctx.log, status, &content_type, &body, first.sub())?;
    Ok(())
}

/// oidcc-ensure-client-assertion-with-iss-aud-succeeds: RFC 7523 §3 lets the OP accept
/// its issuer as the assertion's audience. Refusing is allowed (a warning), but only with
/// a proper invalid_client error.
pub async fn client_assertion_iss_aud(ctx: &mut Ctx) -> Result<(), Stop> {
    let which = register_default(ctx).await?;
    let req = AuthRequest::new().client(which);
    let (sent, visit) = ctx.authorize(&req, Policy::USER).await?;
    let code = ctx.expect_code(&sent, &visit)?;
    let form = vec![
        ("grant_type".to_string(), "authorization_code".to_string()),
        ("code".to_string(), code),
        ("redirect_uri".to_string(), sent.redirect_uri.clone()),
    ];
    let answer = ctx.token_call(which, form, ClientAuth::PrivateKeyJwtIssuerAud).await?;
    let json: Option<Value> = serde_json::from_str(&answer.body).ok();
    let error = json
        .as_ref()
        .and_then(|j| j.get("error"))
        .and_then(Value::as_str)
        .map(str::to_string);
    let Some(error) = error else {
        let json = token::success(&mut ctx.log, &answer, false)?;
        let nonce = match &sent.nonce {
            Some(n) => id_token::Nonce::Sent(n),
            None => id_token::Nonce::NotSent,
        };
        ctx.tokens_from(json, which, nonce).await?;
        return Ok(());
    };
    ctx.log.warn(
        "CheckIfTokenEndpointResponseError",
        "RFC7523-3",
        format!("the OP refused a client assertion whose aud is its issuer: {error}"),
    );
    ctx.log.expect(
        answer.content_type.starts_with("application/json"),
        "CheckTokenEndpointReturnedJsonContentType",
        "OIDCC-3.1.3.4",
        format!("content type {:?}", answer.content_type),
    );
    ctx.log.expect(
        answer.status == 400 || (answer.status == 401 && error == "invalid_client"),
        "CheckTokenEndpointHttpStatusIs400Allowing401ForInvalidClientError",
        "RFC6749-5.2",
        format!("HTTP {} with error {error}", answer.status),
    );
    ctx.log.expect(
        error == "invalid_client",
        "CheckErrorFromTokenEndpointResponseErrorInvalidClient",
        "RFC6749-5.2",
        format!("error is {error:?}, not invalid_client"),
    );
    Ok(())
}
