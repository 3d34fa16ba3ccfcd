//! oidcc-basic-certification-test-plan, and with `response_mode=form_post` the
//! oidcc-formpost-basic plan: the 38 modules, named as the official suite names them.

use super::flow::{AuthRequest, ClientAuth, Tokens, UserInfoCall, Which};
use super::Ctx;
use crate::browser::{Landing, Policy};
use crate::checks::{id_token, token, userinfo, Stop};
use crate::target::InteractionKind;
use serde_json::Value;
use std::time::Duration;

pub const MODULES: &[&str] = &[
    "oidcc-server",
    "oidcc-response-type-missing",
    "oidcc-idtoken-signature",
    "oidcc-idtoken-unsigned",
    "oidcc-userinfo-get",
    "oidcc-userinfo-post-header",
    "oidcc-userinfo-post-body",
    "oidcc-ensure-request-without-nonce-succeeds-for-code-flow",
    "oidcc-scope-profile",
    "oidcc-scope-email",
    "oidcc-scope-address",
    "oidcc-scope-phone",
    "oidcc-scope-all",
    "oidcc-alternate-happy-flow",
    "oidcc-display-page",
    "oidcc-display-popup",
    "oidcc-prompt-login",
    "oidcc-prompt-none-not-logged-in",
    "oidcc-prompt-none-logged-in",
    "oidcc-max-age-1",
    "oidcc-max-age-10000",
    "oidcc-ensure-request-with-unknown-parameter-succeeds",
    "oidcc-id-token-hint",
    "oidcc-login-hint",
    "oidcc-ui-locales",
    "oidcc-claims-locales",
    "oidcc-ensure-request-with-acr-values-succeeds",
    "oidcc-codereuse",
    "oidcc-codereuse-30seconds",
    "oidcc-ensure-registered-redirect-uri",
    "oidcc-ensure-post-request-succeeds",
    "oidcc-server-client-secret-post",
    "oidcc-request-uri-unsigned-supported-correctly-or-rejected-as-unsupported",
    "oidcc-unsigned-request-object-supported-correctly-or-rejected-as-unsupported",
    "oidcc-claims-essential",
    "oidcc-ensure-request-object-with-redirect-uri",
    "oidcc-refresh-token",
    "oidcc-ensure-request-with-valid-pkce-succeeds",
];

/// The errors OIDCC-3.1.2.6 allows for `prompt=none` when the user would have to act.
pub const PROMPT_NONE_ERRORS: &[&str] = &[
    "login_required",
    "interaction_required",
    "account_selection_required",
    "consent_required",
];

pub async fn run(ctx: &mut Ctx, module: &str) -> Result<(), Stop> {
    match module {
        "oidcc-server" => {
            ctx.sign_in(&AuthRequest::new()).await?;
        }
        "oidcc-response-type-missing" => response_type_missing(ctx).await?,
        "oidcc-idtoken-signature" => {
            let (_, _, tokens) = ctx.sign_in(&AuthRequest::new()).await?;
            let alg = tokens.id_token.alg().to_string();
            ctx.log.expect(
                alg == "RS256",
                "EnsureIdTokenSignatureIsRS256",
                "OIDCC-3.1.3.7-7",
                format!("alg is {alg}"),
            );
            ctx.log.expect(
                tokens
                    .id_token
                    .header
                    .get("kid")
                    .and_then(Value::as_str)
                    .is_some_and(|k| !k.is_empty()),
                "EnsureIdTokenContainsKid",
                "OIDCC-10.1",
                "the ID token's header has no kid",
            );
        }
        "oidcc-idtoken-unsigned" => {
            if ctx.op.supports("id_token_signing_alg_values_supported", "none") {
                return Err(Stop::Review(
                    "'none' is advertised, but the static clients are registered for RS256 ID tokens and this \
                     runner registers no other: check unsigned ID tokens by hand"
                        .into(),
                ));
            }
            return Err(Stop::Skipped(
                "the server does not list 'none' in id_token_signing_alg_values_supported".into(),
            ));
        }
        "oidcc-userinfo-get" => {
            ctx.sign_in(&AuthRequest::new()).await?;
        }
        "oidcc-userinfo-post-header" => {
            ctx.sign_in_then(&AuthRequest::new(), Some(UserInfoCall::PostHeader))
                .await?;
        }
        "oidcc-userinfo-post-body" => {
            let (_, _, tokens) = ctx.sign_in_then(&AuthRequest::new(), None).await?;
            let (status, _, _) = ctx.userinfo_call(&tokens.access_token, UserInfoCall::PostBody).await?;
            // Optional in RFC 6750 §2.2, so the suite only warns.
            if ctx.log.advise(
                status == 200,
                "CheckUserInfoEndpointHttpStatus200",
                "RFC6750-2.2",
                format!("UserInfo with the token in a POST body answered {status}"),
            ) {
                ctx.userinfo(&tokens, UserInfoCall::PostBody).await?;
            }
        }
        "oidcc-ensure-request-without-nonce-succeeds-for-code-flow" => {
            let mut req = AuthRequest::new();
            req.nonce = false;
            ctx.sign_in(&req).await?;
        }
        "oidcc-scope-profile" => scope(ctx, &["profile"], false).await?,
        "oidcc-scope-email" => scope(ctx, &["email"], false).await?,
        "oidcc-scope-address" => scope(ctx, &["address"], false).await?,
        "oidcc-scope-phone" => scope(ctx, &["phone"], false).await?,
        "oidcc-scope-all" => scope(ctx, &["email", "phone", "address", "profile"], false).await?,
        // In the suite this is oidcc-scope-email with openid last and the parameters in
        // another order: neither may change anything.
        "oidcc-alternate-happy-flow" => scope(ctx, &["email"], true).await?,
        "oidcc-display-page" => with_login_page(ctx, AuthRequest::new().param("display", "page")).await?,
        "oidcc-display-popup" => with_login_page(ctx, AuthRequest::new().param("display", "popup")).await?,
        "oidcc-prompt-login" => prompt_login(ctx).await?,
        "oidcc-prompt-none-not-logged-in" => {
            let (sent, visit) = ctx
                .authorize(&AuthRequest::new().param("prompt", "none"), Policy::NOBODY)
                .await?;
            ctx.expect_error(&sent, &visit, PROMPT_NONE_ERRORS)?;
        }
        "oidcc-prompt-none-logged-in" => {
            let (_, _, first) = ctx.sign_in(&AuthRequest::new()).await?;
            let second = silent(ctx, AuthRequest::new().param("prompt", "none")).await?;
            same_user_and_auth_time(ctx, &first, &second);
        }
        "oidcc-max-age-1" => max_age_1(ctx).await?,
        "oidcc-max-age-10000" => {
            let (_, _, first) = ctx.sign_in(&AuthRequest::new().param("max_age", "15000")).await?;
            auth_time_present(ctx, &first);
            let (sent, visit) = ctx
                .authorize(&AuthRequest::new().param("max_age", "10000"), NO_LOGIN)
                .await?;
            ctx.log.expect(
                !visit.saw(InteractionKind::Login),
                "ExpectNoLoginPage",
                "OIDCC-3.1.2.1",
                "the OP asked the user to sign in again although max_age=10000 had not passed",
            );
            let code = ctx.expect_code(&sent, &visit)?;
            let second = ctx.exchange(&sent, &code, ClientAuth::Basic).await?;
            auth_time_present(ctx, &second);
            same_user_and_auth_time(ctx, &first, &second);
        }
        "oidcc-ensure-request-with-unknown-parameter-succeeds" => {
            ctx.sign_in(&AuthRequest::new().param("extra", "foobar")).await?;
        }
        "oidcc-id-token-hint" => {
            let (_, _, first) = ctx.sign_in(&AuthRequest::new()).await?;
            let req = AuthRequest::new()
                .param("prompt", "none")
                .param("id_token_hint", &first.id_token.raw);
            let second = silent(ctx, req).await?;
            same_user_and_auth_time(ctx, &first, &second);
        }
        "oidcc-login-hint" => {
            let user = ctx.op.target.user.username.clone();
            ctx.sign_in(&AuthRequest::new().param("login_hint", &user)).await?;
        }
        "oidcc-ui-locales" => {
            ctx.sign_in(&AuthRequest::new().param("ui_locales", "se")).await?;
        }
        "oidcc-claims-locales" => {
            ctx.sign_in(&AuthRequest::new().param("claims_locales", "se")).await?;
        }
        "oidcc-ensure-request-with-acr-values-succeeds" => {
            let advertised = crate::checks::discovery::strings(ctx.op.metadata(), "acr_values_supported");
            let acr_values = if advertised.is_empty() {
                "1 2".to_string()
            } else {
                advertised.join(" ")
            };
            let (_, _, tokens) = ctx
                .sign_in(&AuthRequest::new().param("acr_values", &acr_values))
                .await?;
            let acr = tokens.id_token.claim_str("acr").unwrap_or("").to_string();
            ctx.log.advise(
                acr_values.split(' ').any(|a| a == acr),
                "ValidateIdTokenACRClaimAgainstAcrValuesRequest",
                "OIDCC-3.1.2.1",
                format!("acr_values {acr_values:?} were requested; the ID token's acr is {acr:?}"),
            );
        }
        "oidcc-codereuse" => code_reuse(ctx, None).await?,
        "oidcc-codereuse-30seconds" => code_reuse(ctx, Some(Duration::from_secs(30))).await?,
        "oidcc-ensure-registered-redirect-uri" => unregistered_redirect_uri(ctx).await?,
        "oidcc-ensure-post-request-succeeds" => {
            let mut req = AuthRequest::new();
            req.post = true;
            ctx.sign_in(&req).await?;
        }
        "oidcc-server-client-secret-post" => {
            let methods = crate::checks::discovery::strings(ctx.op.metadata(), "token_endpoint_auth_methods_supported");
            ctx.log.require(
                methods.iter().any(|m| m == "client_secret_post"),
                "EnsureServerConfigurationSupportsClientSecretPost",
                "OIDCD-3",
                format!("token_endpoint_auth_methods_supported {methods:?} lacks client_secret_post"),
            )?;
            let (sent, visit) = ctx.authorize(&AuthRequest::new(), Policy::USER).await?;
            let code = ctx.expect_code(&sent, &visit)?;
            let tokens = ctx.exchange(&sent, &code, ClientAuth::Post).await?;
            ctx.userinfo(&tokens, UserInfoCall::Get).await?;
        }
        "oidcc-request-uri-unsigned-supported-correctly-or-rejected-as-unsupported"
        | "oidcc-unsigned-request-object-supported-correctly-or-rejected-as-unsupported"
        | "oidcc-ensure-request-object-with-redirect-uri" => {
            if ctx.op.supports("request_object_signing_alg_values_supported", "none") {
                return Err(Stop::Review(
                    "'none' is advertised for request objects; this runner does not reproduce the unsigned \
                     request object modules: check them by hand"
                        .into(),
                ));
            }
            return Err(Stop::Skipped(
                "the server does not list 'none' in request_object_signing_alg_values_supported".into(),
            ));
        }
        "oidcc-claims-essential" => {
            let claims = r#"{"userinfo":{"name":{"essential":true}}}"#;
            let (_, _, tokens) = ctx.sign_in(&AuthRequest::new().param("claims", claims)).await?;
            ctx.log.advise(
                !tokens.id_token.claims.contains_key("name"),
                "EnsureIdTokenDoesNotContainName",
                "OIDCC-5.5",
                "name was requested for UserInfo only, yet the ID token carries it",
            );
            ctx.log.advise(
                tokens.userinfo.contains_key("name"),
                "EnsureUserInfoContainsName",
                "OIDCC-5.5",
                "name was requested as essential, UserInfo did not return it",
            );
        }
        "oidcc-refresh-token" => refresh_token(ctx).await?,
        "oidcc-ensure-request-with-valid-pkce-succeeds" => {
            let mut req = AuthRequest::new();
            req.pkce = true;
            ctx.sign_in(&req).await?;
        }
        other => return Err(Stop::Skipped(format!("unknown module {other}"))),
    }
    Ok(())
}

/// The user is there but will not sign in again (only consent).
const NO_LOGIN: Policy = Policy {
    login: false,
    consent: true,
    confirm_logout: false,
};

async fn response_type_missing(ctx: &mut Ctx) -> Result<(), Stop> {
    let mut req = AuthRequest::new();
    req.response_type = None;
    let (sent, visit) = ctx.authorize(&req, Policy::USER).await?;
    match &visit.landing {
        Landing::Callback(_) => ctx.expect_error(&sent, &visit, &["invalid_request", "unsupported_response_type"]),
        Landing::Page(page) => {
            // The suite asks for a screenshot of the error page; here: an error page, no redirect.
            ctx.log.expect(
                page.shows_error(),
                "ExpectResponseTypeMissingErrorPage",
                "OIDCC-3.1.2.6",
                format!(
                    "the OP showed {} (HTTP {}), which is not an error page",
                    page.url, page.status
                ),
            );
            Ok(())
        }
    }
}

async fn scope(ctx: &mut Ctx, scopes: &[&str], reordered: bool) -> Result<(), Stop> {
    let missing: Vec<&str> = scopes
        .iter()
        .copied()
        .filter(|s| !ctx.op.supports("scopes_supported", s))
        .collect();
    if !missing.is_empty() {
        return Err(Stop::Skipped(format!(
            "scopes_supported from the discovery endpoint lacks {}; the official suite skips this module too",
            missing.join(", ")
        )));
    }
    let scope = if reordered {
        scopes
            .iter()
            .copied()
            .chain(std::iter::once("openid"))
            .collect::<Vec<_>>()
            .join(" ")
    } else {
        std::iter::once("openid")
            .chain(scopes.iter().copied())
            .collect::<Vec<_>>()
            .join(" ")
    };
    let mut req = AuthRequest::new().scope(&scope);
    req.reversed = reordered;
    let (_, _, tokens) = ctx.sign_in(&req).await?;
    userinfo::scopes_returned(&mut ctx.log, &scope, &tokens.userinfo);
    Ok(())
}

/// A request with a display parameter still meets the login page and completes.
async fn with_login_page(ctx: &mut Ctx, req: AuthRequest) -> Result<(), Stop> {
    let (_, visit, _) = ctx.sign_in(&req).await?;
    ctx.log.expect(
        visit.saw(InteractionKind::Login),
        "ExpectLoginPage",
        "OIDCC-3.1.2.1",
        "no login page was shown",
    );
    Ok(())
}

/// `prompt=none` with a live session: back at the callback without any page.
async fn silent(ctx: &mut Ctx, req: AuthRequest) -> Result<Tokens, Stop> {
    let (sent, visit) = ctx.authorize(&req, Policy::NOBODY).await?;
    let code = ctx.expect_code(&sent, &visit)?;
    ctx.exchange(&sent, &code, ClientAuth::Basic).await
}

fn same_user_and_auth_time(ctx: &mut Ctx, first: &Tokens, second: &Tokens) {
    ctx.log.expect(
        first.sub() == second.sub(),
        "CheckIdTokenSubConsistent",
        "OIDCC-2",
        "the second ID token names another sub",
    );
    if let (Some(a), Some(b)) = (first.auth_time(), second.auth_time()) {
        ctx.log.expect(
            a == b,
            "CheckIdTokenAuthTimeConsistent",
            "OIDCC-2",
            format!("auth_time changed from {a} to {b}"),
        );
    }
}

fn auth_time_present(ctx: &mut Ctx, tokens: &Tokens) {
    ctx.log.expect(
        tokens.auth_time().is_some(),
        "CheckIdTokenAuthTimeClaimPresentDueToMaxAge",
        "OIDCC-3.1.2.1",
        "max_age was sent, so the ID token must carry auth_time",
    );
}

async fn prompt_login(ctx: &mut Ctx) -> Result<(), Stop> {
    let (_, _, first) = ctx.sign_in(&AuthRequest::new()).await?;
    // auth_time has whole seconds: a later login must be able to show a later time.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let (_, visit, second) = ctx.sign_in(&AuthRequest::new().param("prompt", "login")).await?;
    ctx.log.expect(
        visit.saw(InteractionKind::Login),
        "ExpectSecondLoginPage",
        "OIDCC-3.1.2.1",
        "prompt=login did not ask the user to sign in again",
    );
    later_auth_time(ctx, &first, &second, "CheckIdTokenAuthTimeClaimsDifferIfPresent");
    Ok(())
}

fn later_auth_time(ctx: &mut Ctx, first: &Tokens, second: &Tokens, condition: &str) {
    if let (Some(a), Some(b)) = (first.auth_time(), second.auth_time()) {
        ctx.log.expect(
            b > a,
            condition,
            "OIDCC-3.1.2.1",
            format!("the second sign-in's auth_time {b} is not later than the first's {a}"),
        );
    }
}

async fn max_age_1(ctx: &mut Ctx) -> Result<(), Stop> {
    let (_, _, first) = ctx.sign_in(&AuthRequest::new()).await?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (_, visit, second) = ctx.sign_in(&AuthRequest::new().param("max_age", "1")).await?;
    ctx.log.expect(
        visit.saw(InteractionKind::Login),
        "ExpectSecondLoginPage",
        "OIDCC-3.1.2.1",
        "max_age=1 had passed, yet the OP did not ask the user to sign in again",
    );
    auth_time_present(ctx, &second);
    later_auth_time(ctx, &first, &second, "CheckSecondIdTokenAuthTimeIsLaterIfPresent");
    if let Some(at) = second.auth_time() {
        let now = super::flow::now();
        ctx.log.expect(
            (now - at).abs() < 5 * 60,
            "CheckIdTokenAuthTimeIsRecentIfPresent",
            "OIDCC-2",
            format!("auth_time {at} is not recent (now {now})"),
        );
    }
    Ok(())
}

async fn code_reuse(ctx: &mut Ctx, wait: Option<Duration>) -> Result<(), Stop> {
    let (sent, visit) = ctx.authorize(&AuthRequest::new(), Policy::USER).await?;
    let code = ctx.expect_code(&sent, &visit)?;
    let tokens = ctx.exchange(&sent, &code, ClientAuth::Basic).await?;
    if let Some(wait) = wait {
        tokio::time::sleep(wait).await;
    }
    let form = vec![
        ("grant_type".to_string(), "authorization_code".to_string()),
        ("code".to_string(), code.clone()),
        ("redirect_uri".to_string(), sent.redirect_uri.clone()),
    ];
    let answer = ctx.token_call(sent.which, form, ClientAuth::Basic).await?;
    token::error(
        &mut ctx.log,
        &answer,
        "invalid_grant",
        "CheckTokenEndpointReturnedInvalidGrantForReusedCode",
    );
    if wait.is_some() {
        // RFC 6749 §4.1.2: the tokens issued from a reused code SHOULD be revoked.
        let (status, _, _) = ctx.userinfo_call(&tokens.access_token, UserInfoCall::Get).await?;
        ctx.log.advise(
            (400..500).contains(&status),
            "EnsureAccessTokenRevokedAfterCodeReuse",
            "RFC6749-4.1.2",
            format!("the access token from the reused code still works at UserInfo (HTTP {status})"),
        );
    }
    Ok(())
}

async fn unregistered_redirect_uri(ctx: &mut Ctx) -> Result<(), Stop> {
    let near_miss = format!("{}{}", ctx.op.target.redirect_uri(), crate::jose::random_token(6));
    expect_redirect_uri_refused(ctx, Which::Client, near_miss).await
}

/// A redirect_uri that is not the registered one: the OP must show an error, not
/// redirect (ExpectRedirectUriErrorPage).
pub(crate) async fn expect_redirect_uri_refused(ctx: &mut Ctx, which: Which, redirect_uri: String) -> Result<(), Stop> {
    let mut req = AuthRequest::new().client(which);
    req.redirect_uri = Some(redirect_uri);
    let (_, visit) = ctx.authorize(&req, Policy::USER).await?;
    match &visit.landing {
        Landing::Callback(arrival) => ctx.log.fail(
            "ExpectRedirectUriErrorPage",
            "OIDCC-3.1.2.1",
            format!(
                "the OP redirected to {}?{} although the redirect_uri sent is not the one registered",
                arrival.path,
                arrival
                    .query
                    .iter()
                    .map(|(k, _)| k.as_str())
                    .collect::<Vec<_>>()
                    .join("&")
            ),
        ),
        Landing::Page(page) => {
            ctx.log.expect(
                page.shows_error(),
                "ExpectRedirectUriErrorPage",
                "OIDCC-3.1.2.1",
                format!(
                    "the OP showed {} (HTTP {}), which is not an error page",
                    page.url, page.status
                ),
            );
        }
    }
    Ok(())
}

async fn refresh_token(ctx: &mut Ctx) -> Result<(), Stop> {
    refresh_token_with(ctx, Which::Client2, Which::Client).await
}

/// oidcc-refresh-token: `first_client` gets a refresh token and uses it; `other` may not.
pub(crate) async fn refresh_token_with(ctx: &mut Ctx, first_client: Which, other: Which) -> Result<(), Stop> {
    let offline = ctx.op.supports("scopes_supported", "offline_access");
    let mut req = AuthRequest::new().client(first_client);
    if offline {
        req = req.scope("openid offline_access").param("prompt", "consent");
    }
    let (_, _, first) = ctx.sign_in(&req).await?;
    let Some(refresh) = first.refresh_token.clone() else {
        ctx.log.advise(
            !ctx.op.supports("grant_types_supported", "refresh_token"),
            "CheckDiscEndpointGrantTypesSupportedContainsRefreshToken",
            "OIDCD-3",
            "no refresh token was issued, yet grant_types_supported lists refresh_token",
        );
        return Err(Stop::Skipped("the token endpoint issued no refresh token".into()));
    };
    token::refresh_token(&mut ctx.log, &refresh);
    let form = |rt: &str| {
        vec![
            ("grant_type".to_string(), "refresh_token".to_string()),
            ("refresh_token".to_string(), rt.to_string()),
        ]
    };
    // The suite waits too, so that a refreshed ID token can show a later iat.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let answer = ctx
        .token_call(first_client, form(&refresh), ctx.default_auth(first_client))
        .await?;
    let json = token::success(&mut ctx.log, &answer, true)?;
    let next = match json.get("refresh_token").and_then(Value::as_str) {
        Some(rotated) => {
            token::refresh_token(&mut ctx.log, rotated);
            rotated.to_string()
        }
        None => refresh.clone(),
    };
    // The refreshed access token must open UserInfo for the same user.
    let access_token = json
        .get("access_token")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let (status, content_type, body) = ctx.userinfo_call(&access_token, UserInfoCall::Get).await?;
    userinfo::success(&mut ctx.log, status, &content_type, &body, first.sub())?;
    if json.get("id_token").is_some() {
        let renewed = ctx.tokens_from(json, first_client, id_token::Nonce::Refreshed).await?;
        for claim in ["iss", "sub", "aud", "auth_time", "azp"] {
            ctx.log.expect(
                first.id_token.claims.get(claim) == renewed.id_token.claims.get(claim),
                "CompareIdTokenClaims",
                "OIDCC-12.2",
                format!("{claim} differs between the first ID token and the refreshed one"),
            );
        }
        let (a, b) = (first.id_token.claim_i64("iat"), renewed.id_token.claim_i64("iat"));
        ctx.log.expect(
            b > a,
            "CompareIdTokenClaims",
            "OIDCC-12.2",
            format!("the refreshed ID token's iat {b:?} is not later than the first's {a:?}: is it a new token?"),
        );
    }
    // The refresh token presented by another client must be refused (RFC 6749 §6, §10.4).
    let answer = ctx.token_call(other, form(&next), ctx.default_auth(other)).await?;
    token::error(
        &mut ctx.log,
        &answer,
        "invalid_grant",
        "CheckTokenEndpointReturnedInvalidGrantForOtherClientsRefreshToken",
    );
    Ok(())
}
