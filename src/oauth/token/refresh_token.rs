//! The refresh token grant (RFC 6749 §6, OIDC Core §12) with rotation: every use returns a
//! new refresh token and retires the old one. Presenting a retired token again means it
//! was copied, so the whole family (the grant) is revoked, including live access tokens
//! (RFC 9700 §4.14.2). Of concurrent uses of one token the database lets exactly one win;
//! the others count as reuse.
//!
//! The tokens are signed before the write transaction, from a plain read of the token and
//! its grant: on SQLite a write transaction holds the whole database's write lock, and
//! two RSA signatures inside it serialised every token request behind it (the benchmark's
//! refresh scenario, bench/results/REPORT.md). The transaction then checks everything
//! again and spends the token; if what it finds differs from what was read, the early
//! tokens are dropped and it signs inside, as before.

use super::{early_claims, issue, refresh_expiry, requested_id_token_claims, TokenResponse, UserTokens};
use crate::audit::{self, Action, Event};
use crate::client_ip::ClientIp;
use crate::clients::Client;
use crate::http::{split_list, Params};
use crate::oauth::claims::Requested;
use crate::oauth::error::OAuthError;
use crate::secrets;
use crate::state::AppState;
use crate::store::grants::GrantRow;
use crate::store::tokens::Rotation;
use crate::store::Store;

pub(super) async fn exchange(
    state: &AppState,
    ip: ClientIp,
    headers: &axum::http::HeaderMap,
    client: &Client,
    params: &Params,
    jkt: Option<&str>,
) -> Result<TokenResponse, OAuthError> {
    let presented = params.require("refresh_token").map_err(OAuthError::invalid_request)?;
    let now = state.clock.now();
    let early = sign_early(state, client, params, jkt, &secrets::digest(presented), now).await?;
    let mut tx = state.store.begin().await?;
    let (grant_id, expires_at) =
        match Store::rotate_refresh_token(&mut tx, &secrets::digest(presented), &client.id, now).await? {
            Rotation::Fresh { grant_id, expires_at } => (grant_id, expires_at),
            Rotation::Reused { grant_id } => {
                tx.commit().await?;
                state.store.revoke_grant(&grant_id, now).await?;
                tracing::warn!(client_id = %client.id, "refresh token reused; its family is revoked");
                state.metrics.refresh_token_reuse.inc();
                let owner = state.store.grant(&grant_id).await.ok().flatten().map(|g| g.user_id);
                let event = Event::new(Action::RefreshTokenReuse).maybe_actor(owner.as_deref());
                audit::record(state, ip.0, headers, event.target(&client.id).client(&client.id)).await;
                return Err(OAuthError::invalid_grant("the refresh token was already used"));
            }
            Rotation::OtherClient => {
                return Err(OAuthError::invalid_grant(
                    "the refresh token was issued to another client",
                ))
            }
            Rotation::Unknown => return Err(OAuthError::invalid_grant("unknown refresh token")),
        };
    let grant = Store::grant_in(&mut tx, &grant_id).await?;
    let Some(grant) = grant.filter(|g| g.revoked_at.is_none()) else {
        tx.commit().await?;
        return Err(OAuthError::invalid_grant("the refresh token has been revoked"));
    };
    if let Err(e) = check_binding(&grant, jkt) {
        // Rolled back: whoever lacks the key must not spend the holder's token.
        tx.rollback().await?;
        return Err(e);
    }
    let family_end = grant.refresh_expires_at.unwrap_or(0);
    if expires_at <= now || family_end <= now {
        tx.commit().await?;
        return Err(OAuthError::invalid_grant("the refresh token has expired"));
    }
    // A disabled account keeps no access through the tokens its apps hold.
    if Store::account_in(&mut tx, &grant.user_id)
        .await?
        .is_some_and(|a| a.disabled_at.is_some())
    {
        tx.commit().await?;
        return Err(OAuthError::invalid_grant("the account is disabled"));
    }
    // Without offline_access a refresh token lives only as long as the sign-in session
    // (OIDC Core §11): when the session ends, however it ends, so does the family.
    let offline = split_list(Some(&grant.scope)).iter().any(|s| s == "offline_access");
    if !offline {
        let live = match &grant.session_id {
            Some(sid) => {
                state
                    .store
                    .session_live_in(&mut tx, sid, now, state.config.sessions.idle_ttl_secs)
                    .await?
            }
            None => false,
        };
        if !live {
            tx.commit().await?;
            return Err(OAuthError::invalid_grant(
                "the sign-in session behind this refresh token has ended",
            ));
        }
    }
    // RFC 6749 §6: a narrower scope may be asked for; a broader one is an error.
    let scope = match narrowed_scope(&grant.scope, params) {
        Ok(scope) => scope,
        Err(e) => {
            // Rolled back: a bad request does not spend the token.
            tx.rollback().await?;
            return Err(e);
        }
    };
    let expires = refresh_expiry(state, client, family_end, now);
    if let Some(early) = early.filter(|e| e.grant_id == grant.id && e.scope == scope) {
        Store::insert_refresh_token(
            &mut tx,
            &secrets::digest(&early.token),
            &grant.id,
            &client.id,
            now,
            expires,
        )
        .await?;
        tx.commit().await?;
        return Ok(early.tokens);
    }
    // The new token carries the family's full scope forward (RFC 6749 §6).
    let token = secrets::random_token();
    Store::insert_refresh_token(&mut tx, &secrets::digest(&token), &grant.id, &client.id, now, expires).await?;
    let by_name = grant
        .claims
        .as_deref()
        .filter(|_| Requested::applies(&grant.scope, &scope));
    let id_token_claims = requested_id_token_claims(&mut tx, &grant.user_id, by_name).await?;
    // Signed before the commit: if signing fails the old token is not spent, so the
    // client's retry is not mistaken for reuse. (A deleted account's grants are gone with it.)
    let tokens = issue(
        state,
        user_tokens(client, &grant, &scope, token, id_token_claims, jkt),
        now,
    )?;
    tx.commit().await?;
    Ok(tokens)
}

/// RFC 9449 §5: a refresh token bound to a key (a public client's) is spent only with a
/// proof made with that key.
fn check_binding(grant: &GrantRow, jkt: Option<&str>) -> Result<(), OAuthError> {
    match (grant.dpop_jkt.as_deref(), jkt) {
        (None, _) => Ok(()),
        (Some(bound), Some(jkt)) if bound == jkt => Ok(()),
        (Some(_), Some(_)) => Err(OAuthError::invalid_dpop_proof(
            "the refresh token is bound to another DPoP key",
        )),
        (Some(_), None) => Err(OAuthError::invalid_dpop_proof(
            "the refresh token is bound to a DPoP key; send a DPoP proof made with it",
        )),
    }
}

/// The scope asked for, if it is within the grant's.
fn narrowed_scope(granted: &str, params: &Params) -> Result<String, OAuthError> {
    let allowed = split_list(Some(granted));
    match params.get("scope") {
        None => Ok(granted.to_string()),
        Some(requested) => {
            let requested = split_list(Some(requested));
            if let Some(extra) = requested.iter().find(|s| !allowed.contains(s)) {
                return Err(OAuthError::invalid_scope(format!("scope {extra:?} was not granted")));
            }
            Ok(requested.join(" "))
        }
    }
}

fn user_tokens<'a>(
    client: &'a Client,
    grant: &'a GrantRow,
    scope: &'a str,
    token: String,
    id_token_claims: serde_json::Map<String, serde_json::Value>,
    dpop_jkt: Option<&'a str>,
) -> UserTokens<'a> {
    UserTokens {
        client,
        user_id: &grant.user_id,
        grant_id: &grant.id,
        session_id: grant.session_id.as_deref(),
        scope,
        auth_time: grant.auth_time,
        acr: &grant.acr,
        amr: &grant.amr,
        idp: grant.idp.as_deref(),
        // OIDC Core §12.2: a refreshed ID token carries no nonce.
        nonce: None,
        refresh_token: Some(token),
        id_token_claims,
        dpop_jkt,
    }
}

/// Tokens signed ahead of the transaction, and what they were signed for.
struct Early {
    grant_id: String,
    scope: String,
    token: String,
    tokens: TokenResponse,
}

/// Signs the response for a token that, on a plain read, looks spendable by `client`; None
/// when it does not (the transaction then says why) or when nothing can be read.
async fn sign_early(
    state: &AppState,
    client: &Client,
    params: &Params,
    jkt: Option<&str>,
    token_hash: &str,
    now: i64,
) -> Result<Option<Early>, OAuthError> {
    let Some(row) = state.store.refresh_token(token_hash).await? else {
        return Ok(None);
    };
    if row.client_id != client.id || row.used_at.is_some() || row.expires_at <= now {
        return Ok(None);
    }
    let grant = state.store.grant(&row.grant_id).await?;
    let Some(grant) = grant.filter(|g| g.revoked_at.is_none() && check_binding(g, jkt).is_ok()) else {
        return Ok(None);
    };
    let Ok(scope) = narrowed_scope(&grant.scope, params) else {
        return Ok(None);
    };
    let by_name = grant
        .claims
        .as_deref()
        .filter(|_| Requested::applies(&grant.scope, &scope));
    let id_token_claims = early_claims(state, &grant.user_id, by_name).await?;
    let token = secrets::random_token();
    let tokens = issue(
        state,
        user_tokens(client, &grant, &scope, token.clone(), id_token_claims, jkt),
        now,
    )?;
    Ok(Some(Early {
        grant_id: grant.id.clone(),
        scope,
        token,
        tokens,
    }))
}
