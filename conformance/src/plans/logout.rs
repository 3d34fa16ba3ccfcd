//! oidcc-rp-initiated-logout-certification-test-plan (OpenID Connect RP-Initiated Logout 1.0).

use super::basic::PROMPT_NONE_ERRORS;
use super::flow::AuthRequest;
use super::Ctx;
use crate::browser::{Landing, Policy, Visit};
use crate::checks::Stop;
use crate::target::InteractionKind;
use url::Url;

pub const MODULES: &[&str] = &[
    "oidcc-rp-initiated-logout-discovery-endpoint-verification",
    "oidcc-rp-initiated-logout",
    "oidcc-rp-initiated-logout-bad-post-logout-redirect-uri",
    "oidcc-rp-initiated-logout-query-added-to-post-logout-redirect-uri",
    "oidcc-rp-initiated-logout-modified-id-token-hint",
    "oidcc-rp-initiated-logout-bad-id-token-hint",
    "oidcc-rp-initiated-logout-no-id-token-hint",
    "oidcc-rp-initiated-logout-no-params",
    "oidcc-rp-initiated-logout-no-post-logout-redirect-uri",
    "oidcc-rp-initiated-logout-no-state",
    "oidcc-rp-initiated-logout-only-state",
];

const RPL: &str = "OIDCRPL-2";

/// What a logout request carries.
#[derive(Default)]
struct Logout {
    id_token_hint: Option<String>,
    post_logout_redirect_uri: Option<String>,
    state: Option<String>,
}

/// How the OP must answer.
enum Expect {
    /// Back at the (registered) post-logout redirect URI, state echoed if sent.
    RedirectBack,
    /// A page saying the user is logged out, no redirect.
    LoggedOutPage,
    /// No redirect: an error page, or a page asking the user to confirm. If the user
    /// confirms, the OP still must not send them to the client: the suite fails these
    /// modules on any arrival at the post-logout redirect URI.
    Refused,
}

pub async fn run(ctx: &mut Ctx, module: &str) -> Result<(), Stop> {
    if module == "oidcc-rp-initiated-logout-discovery-endpoint-verification" {
        super::config::verify_discovery(ctx)?;
        let endpoint = ctx
            .op
            .metadata()
            .get("end_session_endpoint")
            .and_then(|v| v.as_str())
            .map(str::to_string);
        ctx.log.expect(
            endpoint
                .as_deref()
                .and_then(|e| Url::parse(e).ok())
                .is_some_and(|u| u.scheme() == "https"),
            "CheckDiscEndpointEndSessionEndpoint",
            "OIDCRPL-2.1",
            "discovery has no https end_session_endpoint",
        );
        return Ok(());
    }
    let (_, _, tokens) = ctx.sign_in(&AuthRequest::new()).await?;
    let plru = ctx.op.target.post_logout_redirect_uri();
    let hint = tokens.id_token.raw.clone();
    let state = crate::jose::random_token(12);
    let (logout, expect) = match module {
        "oidcc-rp-initiated-logout" => (
            Logout {
                id_token_hint: Some(hint),
                post_logout_redirect_uri: Some(plru),
                state: Some(state),
            },
            Expect::RedirectBack,
        ),
        "oidcc-rp-initiated-logout-bad-post-logout-redirect-uri" => {
            refused_for(hint, format!("{plru}_unregistered"), state)
        }
        "oidcc-rp-initiated-logout-query-added-to-post-logout-redirect-uri" => {
            refused_for(hint, format!("{plru}?foo=bar"), state)
        }
        "oidcc-rp-initiated-logout-modified-id-token-hint" => (
            Logout {
                id_token_hint: Some(tokens.id_token.unsigned_copy()),
                post_logout_redirect_uri: Some(plru),
                state: Some(state),
            },
            Expect::Refused,
        ),
        "oidcc-rp-initiated-logout-bad-id-token-hint" => {
            let forged = tokens
                .id_token
                .foreign_copy()
                .map_err(|e| Stop::Error(format!("forging a token: {e}")))?;
            (
                Logout {
                    id_token_hint: Some(forged),
                    post_logout_redirect_uri: Some(plru),
                    state: Some(state),
                },
                Expect::Refused,
            )
        }
        "oidcc-rp-initiated-logout-no-id-token-hint" => (
            Logout {
                id_token_hint: None,
                post_logout_redirect_uri: Some(plru),
                state: Some(state),
            },
            Expect::Refused,
        ),
        "oidcc-rp-initiated-logout-no-params" => (Logout::default(), Expect::LoggedOutPage),
        "oidcc-rp-initiated-logout-no-post-logout-redirect-uri" => (
            Logout {
                id_token_hint: Some(hint),
                ..Logout::default()
            },
            Expect::LoggedOutPage,
        ),
        "oidcc-rp-initiated-logout-no-state" => (
            Logout {
                id_token_hint: Some(hint),
                post_logout_redirect_uri: Some(plru),
                state: None,
            },
            Expect::RedirectBack,
        ),
        "oidcc-rp-initiated-logout-only-state" => (
            Logout {
                state: Some(state),
                ..Logout::default()
            },
            Expect::LoggedOutPage,
        ),
        other => return Err(Stop::Skipped(format!("unknown module {other}"))),
    };
    let mut url = ctx.endpoint("end_session_endpoint")?;
    {
        let mut query = url.query_pairs_mut();
        if let Some(h) = &logout.id_token_hint {
            query.append_pair("id_token_hint", h);
        }
        if let Some(p) = &logout.post_logout_redirect_uri {
            query.append_pair("post_logout_redirect_uri", p);
        }
        if let Some(s) = &logout.state {
            query.append_pair("state", s);
        }
    }
    if url.query() == Some("") {
        url.set_query(None);
    }
    match expect {
        Expect::RedirectBack => {
            let visit = ctx.browser.get(url, Policy::USER).await?;
            redirected_back(ctx, &visit, logout.state.as_deref())?;
            session_gone(ctx).await
        }
        Expect::LoggedOutPage => {
            let visit = ctx.browser.get(url, Policy::USER).await?;
            match &visit.landing {
                Landing::Callback(arrival) => Err(ctx.log.stop(
                    "ExpectLogoutSuccessPage",
                    RPL,
                    format!(
                        "the OP redirected to the client ({}) although no post_logout_redirect_uri was given",
                        arrival.path
                    ),
                )),
                Landing::Page(page) => {
                    ctx.log.expect(
                        page.status.is_success(),
                        "ExpectLogoutSuccessPage",
                        RPL,
                        format!(
                            "the OP answered {} (HTTP {}), not a logged-out page",
                            page.url, page.status
                        ),
                    );
                    session_gone(ctx).await
                }
            }
        }
        Expect::Refused => {
            let visit = ctx.browser.get(url, Policy::NOBODY).await?;
            match &visit.landing {
                Landing::Callback(arrival) => Err(ctx.log.stop(
                    "ExpectNoRedirectToPostLogoutRedirectUri",
                    RPL,
                    format!(
                        "the OP redirected to the client ({}) for a request it must not honour",
                        arrival.path
                    ),
                )),
                Landing::Page(page) => {
                    let confirm = visit.saw(InteractionKind::LogoutConfirm);
                    ctx.log.expect(
                        confirm || page.shows_error(),
                        "ExpectErrorOrLogoutConfirmationPage",
                        RPL,
                        format!(
                            "the OP answered {} (HTTP {}): neither an error nor a logout confirmation",
                            page.url, page.status
                        ),
                    );
                    if confirm {
                        confirm_does_not_redirect(ctx, page.url.clone(), &page.body).await?;
                    }
                    Ok(())
                }
            }
        }
    }
}

/// A logout to a post-logout redirect URI the client never registered.
fn refused_for(hint: String, unregistered: String, state: String) -> (Logout, Expect) {
    (
        Logout {
            id_token_hint: Some(hint),
            post_logout_redirect_uri: Some(unregistered.clone()),
            state: Some(state),
        },
        Expect::Refused,
    )
}

pub(super) fn redirected_back(ctx: &mut Ctx, visit: &Visit, state: Option<&str>) -> Result<(), Stop> {
    let Some(arrival) = visit.callback() else {
        let (url, status) = visit
            .page()
            .map(|p| (p.url.to_string(), p.status.as_u16()))
            .unwrap_or_default();
        return Err(ctx.log.stop(
            "ExpectRedirectToPostLogoutRedirectUri",
            RPL,
            format!("the browser stopped at {url} (HTTP {status}) instead of the post_logout_redirect_uri"),
        ));
    };
    ctx.log.require(
        arrival.path == "/post_logout_redirect",
        "ExpectRedirectToPostLogoutRedirectUri",
        RPL,
        format!(
            "the OP redirected to {} instead of the post_logout_redirect_uri",
            arrival.path
        ),
    )?;
    match state {
        Some(s) => ctx.log.expect(
            arrival.param("state") == Some(s),
            "CheckPostLogoutState",
            RPL,
            format!("state {s:?} was sent, {:?} came back", arrival.param("state")),
        ),
        None => ctx.log.expect(
            arrival.param("state").is_none(),
            "CheckPostLogoutStateAbsent",
            RPL,
            "no state was sent, yet one came back",
        ),
    };
    Ok(())
}

/// After logout, `prompt=none` must come back with login_required (or the like).
pub(super) async fn session_gone(ctx: &mut Ctx) -> Result<(), Stop> {
    let (sent, visit) = ctx
        .authorize(&AuthRequest::new().param("prompt", "none"), Policy::NOBODY)
        .await?;
    ctx.expect_error(&sent, &visit, PROMPT_NONE_ERRORS)
}

/// The user confirms the logout the OP asked about; the OP still must not send the
/// browser to the client, whose request it could not trust.
async fn confirm_does_not_redirect(ctx: &mut Ctx, page: Url, body: &str) -> Result<(), Stop> {
    let forms = crate::html::forms(&page, body);
    let Some((interaction, form)) = ctx
        .op
        .target
        .interaction
        .iter()
        .filter(|i| i.kind == InteractionKind::LogoutConfirm)
        .find_map(|i| {
            forms
                .iter()
                .enumerate()
                .find(|(n, f)| i.matches(&page, f, *n == 0))
                .map(|(_, f)| (i.clone(), f.clone()))
        })
    else {
        return Ok(());
    };
    let data = form.submission(&[], interaction.submit.as_deref());
    let visit = if form.method == "POST" {
        ctx.browser.post(form.action.clone(), data, Policy::USER).await?
    } else {
        let mut url = form.action.clone();
        url.query_pairs_mut().extend_pairs(data);
        ctx.browser.get(url, Policy::USER).await?
    };
    if let Some(arrival) = visit.callback() {
        ctx.log.fail(
            "ExpectNoRedirectToPostLogoutRedirectUri",
            RPL,
            format!(
                "after the user confirmed, the OP redirected to the client ({})",
                arrival.path
            ),
        );
    }
    Ok(())
}
