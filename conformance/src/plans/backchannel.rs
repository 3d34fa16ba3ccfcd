//! oidcc-backchannel-rp-initiated-logout-certification-test-plan (OpenID Connect
//! Back-Channel Logout 1.0): after an RP-initiated logout the OP POSTs a logout token to
//! the client's registered `backchannel_logout_uri` (the runner's listener), and the token
//! must validate as §2.6 tells an RP to validate it.

use super::flow::{now, AuthRequest};
use super::logout::{redirected_back, session_gone};
use super::Ctx;
use crate::browser::Policy;
use crate::callback::{Arrival, BACKCHANNEL_PATH};
use crate::checks::{Log, Stop};
use crate::jose::Jwt;
use serde_json::Value;
use std::time::Duration;
use url::Url;

pub const MODULES: &[&str] = &[
    "oidcc-backchannel-rp-initiated-logout-discovery-endpoint-verification",
    "oidcc-backchannel-rp-initiated-logout",
];

const BCL: &str = "OIDCBCL-2";
const EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";
/// The OP delivers from an outbox; the suite, too, gives it a few seconds.
const DELIVERY_WAIT: Duration = Duration::from_secs(20);
/// Clock skew allowed around `iat`, as the suite's CheckLogoutTokenIatTimestamp allows.
const SKEW_SECS: i64 = 5 * 60;

pub async fn run(ctx: &mut Ctx, module: &str) -> Result<(), Stop> {
    match module {
        "oidcc-backchannel-rp-initiated-logout-discovery-endpoint-verification" => discovery(ctx),
        "oidcc-backchannel-rp-initiated-logout" => logout(ctx).await,
        other => Err(Stop::Skipped(format!("unknown module {other}"))),
    }
}

fn discovery(ctx: &mut Ctx) -> Result<(), Stop> {
    super::config::verify_discovery(ctx)?;
    let doc = ctx.op.metadata().clone();
    ctx.log.require(
        doc.get("backchannel_logout_supported") == Some(&Value::Bool(true)),
        "CheckDiscBackchannelLogoutSupported",
        "OIDCBCL-2.1",
        "discovery does not say backchannel_logout_supported: true",
    )?;
    ctx.log.advise(
        doc.get("backchannel_logout_session_supported") == Some(&Value::Bool(true)),
        "CheckDiscBackchannelLogoutSessionSupported",
        "OIDCBCL-2.1",
        "backchannel_logout_session_supported is not true: logout tokens may lack sid",
    );
    ctx.log.expect(
        doc.get("end_session_endpoint")
            .and_then(Value::as_str)
            .and_then(|e| Url::parse(e).ok())
            .is_some_and(|u| u.scheme() == "https"),
        "CheckDiscEndpointEndSessionEndpoint",
        "OIDCRPL-2.1",
        "discovery has no https end_session_endpoint",
    );
    Ok(())
}

async fn logout(ctx: &mut Ctx) -> Result<(), Stop> {
    let (_, _, tokens) = ctx.sign_in(&AuthRequest::new()).await?;
    let sid = tokens.id_token.claim_str("sid").map(str::to_string);
    let sub = tokens.sub().to_string();
    ctx.log.require(
        sid.is_some(),
        "CheckIdTokenSidClaim",
        "OIDCBCL-2.1",
        "the ID token has no sid, so no logout token can name the session",
    )?;
    let state = crate::jose::random_token(12);
    let mut url = ctx.endpoint("end_session_endpoint")?;
    url.query_pairs_mut()
        .append_pair("id_token_hint", &tokens.id_token.raw)
        .append_pair("post_logout_redirect_uri", &ctx.op.target.post_logout_redirect_uri())
        .append_pair("state", &state);
    let visit = ctx.browser.get(url, Policy::USER).await?;
    redirected_back(ctx, &visit, Some(&state))?;

    let client_id = ctx.op.target.client.id.clone();
    let jwks = ctx.op.keys().clone();
    // Ours is the one for this session; other modules' logouts land in the same inbox.
    let ours = |arrival: &Arrival| {
        arrival
            .param("logout_token")
            .and_then(|t| Jwt::parse(t).ok())
            .is_some_and(|jwt| jwt.claim_str("sid") == sid.as_deref())
    };
    let Some(arrival) = ctx.op.inbox.wait_for(DELIVERY_WAIT, ours).await else {
        return Err(ctx.log.stop(
            "WaitForBackchannelLogoutRequest",
            BCL,
            format!(
                "no logout token for the session reached {BACKCHANNEL_PATH} within {} s",
                DELIVERY_WAIT.as_secs()
            ),
        ));
    };
    ctx.log.expect(
        arrival
            .content_type
            .as_deref()
            .is_some_and(|c| c.starts_with("application/x-www-form-urlencoded")),
        "CheckBackchannelLogoutRequestContentType",
        "OIDCBCL-2.5",
        format!("the logout request's content type is {:?}", arrival.content_type),
    );
    let raw = arrival.param("logout_token").unwrap_or_default();
    let jwt = Jwt::parse(raw).map_err(|e| ctx.log.stop("ExtractLogoutToken", BCL, e))?;
    let issuer = ctx.op.target.issuer().to_string();
    let expected = Expected {
        issuer: &issuer,
        client_id: &client_id,
        sid: sid.as_deref(),
        sub: &sub,
        now: now(),
    };
    check_logout_token(&mut ctx.log, &jwt, &jwks, &expected);
    // The session is over at the OP too.
    session_gone(ctx).await
}

/// What a logout token for this session must say.
struct Expected<'a> {
    issuer: &'a str,
    client_id: &'a str,
    sid: Option<&'a str>,
    sub: &'a str,
    now: i64,
}

/// OpenID Connect Back-Channel Logout 1.0 §2.4 (its claims) and §2.6 (its validation).
fn check_logout_token(log: &mut Log, jwt: &Jwt, jwks: &Value, expected: &Expected<'_>) {
    let Expected {
        issuer,
        client_id,
        sid,
        sub,
        now,
    } = *expected;
    if let Err(e) = jwt.verify(jwks) {
        log.fail("ValidateLogoutTokenSignature", "OIDCBCL-2.6", e);
    }
    log.expect(
        jwt.header.get("typ").and_then(Value::as_str) == Some("logout+jwt"),
        "CheckLogoutTokenTyp",
        "OIDCBCL-2.4",
        format!("the header's typ is {:?}, not logout+jwt", jwt.header.get("typ")),
    );
    log.expect(
        jwt.claim_str("iss") == Some(issuer),
        "ValidateLogoutTokenIssuer",
        "OIDCBCL-2.6",
        format!("iss is {:?}, not {issuer:?}", jwt.claim_str("iss")),
    );
    let aud_ok = match jwt.claims.get("aud") {
        Some(Value::String(aud)) => aud == client_id,
        Some(Value::Array(auds)) => auds.iter().any(|a| a.as_str() == Some(client_id)),
        _ => false,
    };
    log.expect(
        aud_ok,
        "ValidateLogoutTokenAudience",
        "OIDCBCL-2.6",
        "aud does not hold the client_id",
    );
    match jwt.claim_i64("iat") {
        Some(iat) => {
            log.expect(
                (iat - now).abs() <= SKEW_SECS,
                "CheckLogoutTokenIatTimestamp",
                "OIDCBCL-2.4",
                format!("iat {iat} is more than five minutes from now ({now})"),
            );
        }
        None => log.fail("CheckLogoutTokenIatTimestamp", "OIDCBCL-2.4", "no iat"),
    }
    log.expect(
        jwt.claim_i64("exp").is_some_and(|exp| exp > now - SKEW_SECS),
        "CheckLogoutTokenExpTimestamp",
        "OIDCBCL-2.4",
        format!("exp {:?} is missing or past", jwt.claim_i64("exp")),
    );
    log.expect(
        jwt.claim_str("jti").is_some_and(|j| !j.is_empty()),
        "CheckLogoutTokenHasJti",
        "OIDCBCL-2.4",
        "no jti",
    );
    log.expect(
        jwt.claims
            .get("events")
            .and_then(Value::as_object)
            .and_then(|events| events.get(EVENT))
            .is_some_and(Value::is_object),
        "CheckLogoutTokenEvents",
        "OIDCBCL-2.4",
        format!("events does not hold {EVENT} with a JSON object"),
    );
    log.expect(
        !jwt.claims.contains_key("nonce"),
        "CheckLogoutTokenNoNonce",
        "OIDCBCL-2.4",
        "a logout token must not hold a nonce",
    );
    log.expect(
        jwt.claim_str("sid") == sid,
        "CheckLogoutTokenSid",
        "OIDCBCL-2.4",
        format!("sid {:?} is not the ID token's {sid:?}", jwt.claim_str("sid")),
    );
    if let Some(token_sub) = jwt.claim_str("sub") {
        log.expect(
            token_sub == sub,
            "CheckLogoutTokenSub",
            "OIDCBCL-2.4",
            format!("sub {token_sub:?} is not the ID token's {sub:?}"),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;
    use serde_json::json;

    fn unsigned(header: Value, claims: Value) -> Jwt {
        let b64 = |v: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
        Jwt::parse(&format!("{}.{}.c2ln", b64(&header), b64(&claims))).unwrap()
    }

    fn conditions(log: &Log) -> Vec<&str> {
        log.findings.iter().map(|f| f.condition.as_str()).collect()
    }

    const EXPECTED: Expected<'static> = Expected {
        issuer: "https://op.example",
        client_id: "rp",
        sid: Some("s1"),
        sub: "u1",
        now: 1_000_000,
    };

    #[test]
    fn a_token_breaking_each_rule_is_reported_rule_by_rule() {
        let jwt = unsigned(
            json!({"alg": "RS256", "typ": "JWT"}),
            json!({"iss": "https://other.example", "aud": "someone-else", "iat": 1, "sid": "s2",
                   "sub": "u2", "nonce": "n", "events": {"http://schemas.openid.net/event/other": {}}}),
        );
        let mut log = Log::default();
        check_logout_token(&mut log, &jwt, &json!({"keys": []}), &EXPECTED);
        let found = conditions(&log);
        for condition in [
            "ValidateLogoutTokenSignature",
            "CheckLogoutTokenTyp",
            "ValidateLogoutTokenIssuer",
            "ValidateLogoutTokenAudience",
            "CheckLogoutTokenIatTimestamp",
            "CheckLogoutTokenExpTimestamp",
            "CheckLogoutTokenHasJti",
            "CheckLogoutTokenEvents",
            "CheckLogoutTokenNoNonce",
            "CheckLogoutTokenSid",
            "CheckLogoutTokenSub",
        ] {
            assert!(found.contains(&condition), "{condition} not reported: {found:?}");
        }
    }

    #[test]
    fn a_sound_token_has_no_finding_but_its_signature() {
        let jwt = unsigned(
            json!({"alg": "RS256", "typ": "logout+jwt"}),
            json!({"iss": "https://op.example", "aud": ["rp"], "iat": 1_000_000, "exp": 1_000_120,
                   "jti": "j", "sid": "s1", "sub": "u1",
                   "events": {"http://schemas.openid.net/event/backchannel-logout": {}}}),
        );
        let mut log = Log::default();
        check_logout_token(&mut log, &jwt, &json!({"keys": []}), &EXPECTED);
        assert_eq!(conditions(&log), ["ValidateLogoutTokenSignature"], "no key in the JWKS");
    }
}
