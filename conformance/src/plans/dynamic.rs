//! oidcc-dynamic-certification-test-plan (the "Dynamic OP" profile): every module that
//! needs a client registers its own at the OP's `registration_endpoint` (open
//! registration), with the metadata the module is about, then runs the Basic plan's flow
//! steps and checks with it. The plan's variant is private_key_jwt (see `Plan::variant`).
//!
//! This file: the module list, the dispatcher, and the modules that are the code flow with
//! a registered client. The others: `dynamic_registration` (what registration must accept
//! or refuse, and the pages showing registered URIs), `dynamic_request_uri` (request
//! objects by reference), `dynamic_keys` (OP and RP key rotation, client assertions).

use super::flow::{AuthRequest, Tokens, Which};
use super::{basic, config, dynamic_keys, dynamic_registration, dynamic_request_uri, Ctx};
use crate::browser::{Landing, Policy};
use crate::callback::Documents;
use crate::checks::{discovery, Stop};
use serde_json::Value;

pub const MODULES: &[&str] = &[
    "oidcc-idtoken-rs256",
    "oidcc-idtoken-unsigned",
    "oidcc-userinfo-rs256",
    "oidcc-ensure-redirect-uri-in-authorization-request",
    "oidcc-redirect-uri-query-OK",
    "oidcc-redirect-uri-query-mismatch",
    "oidcc-redirect-uri-query-added",
    "oidcc-redirect-uri-regfrag",
    "oidcc-discovery-endpoint-verification",
    "oidcc-server",
    "oidcc-registration-logo-uri",
    "oidcc-registration-policy-uri",
    "oidcc-registration-tos-uri",
    "oidcc-registration-jwks-uri",
    "oidcc-registration-sector-uri",
    "oidcc-registration-sector-bad",
    "oidcc-server-rotate-keys",
    "oidcc-refresh-token-rp-key-rotation",
    "oidcc-request-uri-unsigned",
    "oidcc-request-uri-signed-rs256",
    "oidcc-ensure-request-object-with-redirect-uri",
    "oidcc-refresh-token",
    "oidcc-ensure-client-assertion-with-iss-aud-succeeds",
];

/// The query the suite puts on a registered redirect URI (AddQueryToRedirectUri).
pub const REGISTERED_QUERY: &str = "bar=foo";

/// One module's documents on the runner's listener: a path prefix of its own.
pub struct Here {
    pub prefix: String,
}

impl Here {
    pub fn path(&self, name: &str) -> String {
        format!("{}/{name}", self.prefix)
    }
}

pub async fn run(ctx: &mut Ctx, module: &str) -> Result<(), Stop> {
    if module == "oidcc-discovery-endpoint-verification" {
        return config::run(ctx, module).await;
    }
    ctx.setup_server()?;
    let here = Here {
        prefix: Documents::prefix(),
    };
    let outcome = module_body(ctx, module, &here).await;
    // The suite's cleanup: the registered clients go, and so do the documents.
    ctx.unregister_all().await;
    ctx.op.documents.withdraw(&here.prefix);
    outcome
}

async fn module_body(ctx: &mut Ctx, module: &str, here: &Here) -> Result<(), Stop> {
    match module {
        "oidcc-server" => {
            let which = register_default(ctx).await?;
            ctx.sign_in(&AuthRequest::new().client(which)).await?;
        }
        "oidcc-idtoken-rs256" => idtoken_rs256(ctx).await?,
        "oidcc-idtoken-unsigned" => return basic::run(ctx, module).await,
        "oidcc-userinfo-rs256" => dynamic_registration::userinfo_rs256(ctx).await?,
        "oidcc-ensure-redirect-uri-in-authorization-request" => redirect_uri_missing(ctx).await?,
        "oidcc-redirect-uri-query-OK" => {
            let redirect = format!("{}?{REGISTERED_QUERY}", ctx.op.target.redirect_uri());
            let registration = ctx.registration(&redirect)?;
            let which = ctx.register(registration).await?;
            ctx.sign_in(&AuthRequest::new().client(which)).await?;
        }
        "oidcc-redirect-uri-query-mismatch" => {
            let base = ctx.op.target.redirect_uri();
            let registration = ctx.registration(&format!("{base}?{REGISTERED_QUERY}"))?;
            let which = ctx.register(registration).await?;
            // ReplaceRedirectUriQueryInAuthorizationRequest: another query than the registered one.
            basic::expect_redirect_uri_refused(ctx, which, format!("{base}?foo=bar")).await?;
        }
        "oidcc-redirect-uri-query-added" => {
            let which = register_default(ctx).await?;
            // AddQueryToRedirectUriInAuthorizationRequest: a query the registered URI lacks.
            let redirect = format!("{}?foo=bar", ctx.op.target.redirect_uri());
            basic::expect_redirect_uri_refused(ctx, which, redirect).await?;
        }
        "oidcc-redirect-uri-regfrag" => dynamic_registration::redirect_uri_fragment(ctx).await?,
        "oidcc-registration-logo-uri" => dynamic_registration::shown_uri(ctx, here, "logo_uri").await?,
        "oidcc-registration-policy-uri" => dynamic_registration::shown_uri(ctx, here, "policy_uri").await?,
        "oidcc-registration-tos-uri" => dynamic_registration::shown_uri(ctx, here, "tos_uri").await?,
        "oidcc-registration-jwks-uri" => dynamic_registration::jwks_uri(ctx, here).await?,
        "oidcc-registration-sector-uri" => dynamic_registration::sector(ctx, here, true).await?,
        "oidcc-registration-sector-bad" => dynamic_registration::sector(ctx, here, false).await?,
        "oidcc-server-rotate-keys" => dynamic_keys::server_rotate_keys(ctx).await?,
        "oidcc-refresh-token-rp-key-rotation" => dynamic_keys::rp_key_rotation(ctx, here).await?,
        "oidcc-request-uri-unsigned" | "oidcc-ensure-request-object-with-redirect-uri" => {
            dynamic_request_uri::unsigned(ctx)?
        }
        "oidcc-request-uri-signed-rs256" => dynamic_request_uri::signed_rs256(ctx, here).await?,
        "oidcc-refresh-token" => {
            let first = register_refreshing(ctx).await?;
            let other = register_refreshing(ctx).await?;
            basic::refresh_token_with(ctx, first, other).await?;
        }
        "oidcc-ensure-client-assertion-with-iss-aud-succeeds" => dynamic_keys::client_assertion_iss_aud(ctx).await?,
        other => return Err(Stop::Skipped(format!("unknown module {other}"))),
    }
    Ok(())
}

/// Registers a client with the suite's default metadata and the runner's redirect URI.
pub async fn register_default(ctx: &mut Ctx) -> Result<Which, Stop> {
    let registration = ctx.registration(&ctx.op.target.redirect_uri())?;
    ctx.register(registration).await
}

/// A client that may also use refresh tokens (AddRefreshTokenGrantTypeToDynamicRegistrationRequest).
async fn register_refreshing(ctx: &mut Ctx) -> Result<Which, Stop> {
    let mut registration = ctx.registration(&ctx.op.target.redirect_uri())?;
    registration.set(
        "grant_types",
        serde_json::json!(["authorization_code", "refresh_token"]),
    );
    ctx.register(registration).await
}

async fn idtoken_rs256(ctx: &mut Ctx) -> Result<(), Stop> {
    let mut registration = ctx.registration(&ctx.op.target.redirect_uri())?;
    registration.set("id_token_signed_response_alg", Value::String("RS256".into()));
    let which = ctx.register(registration).await?;
    let (_, _, tokens) = ctx.sign_in(&AuthRequest::new().client(which)).await?;
    id_token_kid_and_alg(ctx, &tokens);
    Ok(())
}

/// EnsureIdTokenContainsKid and CheckIdTokenSignatureAlgorithm (alg as registered).
fn id_token_kid_and_alg(ctx: &mut Ctx, tokens: &Tokens) {
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
    let alg = tokens.id_token.alg().to_string();
    ctx.log.expect(
        alg == "RS256",
        "CheckIdTokenSignatureAlgorithm",
        "OIDCC-3.1.3.7",
        format!("the client registered RS256 ID tokens; this one is {alg}"),
    );
}

/// No redirect_uri in the request: an error page (ExpectRedirectUriMissingErrorPage), or
/// an error response with invalid_request(_object) and the state.
async fn redirect_uri_missing(ctx: &mut Ctx) -> Result<(), Stop> {
    let which = register_default(ctx).await?;
    let mut req = AuthRequest::new().client(which);
    req.omit_redirect_uri = true;
    let (sent, visit) = ctx.authorize(&req, Policy::USER).await?;
    match &visit.landing {
        Landing::Callback(arrival) if arrival.param("code").is_some() => ctx.log.fail(
            "EnsureErrorFromAuthorizationEndpointResponse",
            "OIDCC-3.1.2.1",
            "the OP issued a code to a request without redirect_uri (OpenID Connect requires it)",
        ),
        Landing::Callback(_) => {
            ctx.expect_error(&sent, &visit, &["invalid_request", "invalid_request_object"])?;
        }
        Landing::Page(page) => {
            ctx.log.expect(
                page.shows_error(),
                "ExpectRedirectUriMissingErrorPage",
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

/// Whether discovery lists `value` under `field` (a list-valued field).
pub fn advertises(ctx: &Ctx, field: &str, value: &str) -> bool {
    discovery::strings(ctx.op.metadata(), field).iter().any(|v| v == value)
}
