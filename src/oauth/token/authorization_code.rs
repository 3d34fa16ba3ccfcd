//! The authorization code grant (RFC 6749 §4.1.3, OIDC Core §3.1.3). Codes are single use:
//! the first redemption wins in the database, and a second one revokes what the first
//! issued (RFC 6749 §4.1.2).

use super::{
    early_claims, issue, refresh_binding, refresh_expiry, refresh_family_end, requested_id_token_claims, TokenResponse,
    UserTokens,
};
use crate::clients::Client;
use crate::http::Params;
use crate::oauth::error::OAuthError;
use crate::oauth::pkce;
use crate::secrets;
use crate::state::AppState;
use crate::store::codes::{CodeRow, Consumed};
use crate::store::grants::NewGrant;
use crate::store::Store;

pub(super) async fn exchange(
    state: &AppState,
    client: &Client,
    params: &Params,
    jkt: Option<&str>,
) -> Result<TokenResponse, OAuthError> {
    let code = params.require("code").map_err(OAuthError::invalid_request)?;
    let redirect_uri = params.require("redirect_uri").map_err(OAuthError::invalid_request)?;
    let verifier = params.get("code_verifier");
    let now = state.clock.now();
    // Signed before the write transaction, from a plain read of the code: on SQLite the
    // transaction holds the database's one write lock, and two RSA signatures inside it
    // serialised every token request (the benchmark's sso_loop, bench/results/REPORT.md).
    // The transaction checks everything again; if it finds another grant, it signs inside.
    let presented = Presented {
        redirect_uri,
        verifier,
        jkt,
    };
    let early = sign_early(state, client, &presented, &secrets::digest(code), now).await?;

    let mut tx = state.store.begin().await?;
    let row = match Store::consume_code(&mut tx, &secrets::digest(code), now).await? {
        Consumed::Fresh(row) => row,
        Consumed::Replayed { grant_id } => {
            tx.commit().await?;
            state.store.revoke_grant(&grant_id, now).await?;
            tracing::warn!(client_id = %client.id, "authorization code replayed; its grant is revoked");
            return Err(OAuthError::invalid_grant("the authorization code was already used"));
        }
        Consumed::Unknown => return Err(OAuthError::invalid_grant("unknown authorization code")),
    };
    // The code is spent whatever happens next: a failed check must not leave it usable.
    let checked = match check_code(&row, client, &presented, now) {
        Ok(())
            if !state
                .store
                .session_live_in(&mut tx, &row.session_id, now, state.config.sessions.idle_ttl_secs)
                .await? =>
        {
            Err(OAuthError::invalid_grant(
                "the sign-in session behind this code has ended",
            ))
        }
        other => other,
    };
    if let Err(e) = checked {
        tx.commit().await?;
        return Err(e);
    }
    let family_end = refresh_family_end(state, client, &row.scope, now);
    Store::insert_grant(
        &mut tx,
        &NewGrant {
            id: &row.grant_id,
            client_id: &row.client_id,
            user_id: &row.user_id,
            session_id: &row.session_id,
            scope: &row.scope,
            auth_time: row.auth_time,
            refresh_expires_at: family_end,
            claims: row.claims.as_deref(),
            acr: &row.acr,
            amr: &row.amr,
            idp: row.idp.as_deref(),
            dpop_jkt: refresh_binding(client, jkt),
        },
        now,
    )
    .await?;
    if let Some(early) = early.filter(|e| e.grant_id == row.grant_id) {
        if let (Some(token), Some(end)) = (&early.refresh_token, family_end) {
            let expires = refresh_expiry(state, client, end, now);
            Store::insert_refresh_token(
                &mut tx,
                &secrets::digest(token),
                &row.grant_id,
                &client.id,
                now,
                expires,
            )
            .await?;
        }
        tx.commit().await?;
        return Ok(early.tokens);
    }
    let refresh_token = match family_end {
        Some(end) => {
            let token = secrets::random_token();
            let expires = refresh_expiry(state, client, end, now);
            Store::insert_refresh_token(
                &mut tx,
                &secrets::digest(&token),
                &row.grant_id,
                &client.id,
                now,
                expires,
            )
            .await?;
            Some(token)
        }
        None => None,
    };
    let id_token_claims = requested_id_token_claims(&mut tx, &row.user_id, row.claims.as_deref()).await?;
    // Signed before the commit: if signing fails, the code is not spent and the client
    // can retry. (A deleted account's codes are gone with it, by cascade.)
    let tokens = issue(
        state,
        user_tokens(client, &row, refresh_token, id_token_claims, jkt),
        now,
    )?;
    tx.commit().await?;
    Ok(tokens)
}

fn user_tokens<'a>(
    client: &'a Client,
    row: &'a CodeRow,
    refresh_token: Option<String>,
    id_token_claims: serde_json::Map<String, serde_json::Value>,
    dpop_jkt: Option<&'a str>,
) -> UserTokens<'a> {
    UserTokens {
        client,
        user_id: &row.user_id,
        grant_id: &row.grant_id,
        session_id: Some(&row.session_id),
        scope: &row.scope,
        auth_time: row.auth_time,
        acr: &row.acr,
        amr: &row.amr,
        idp: row.idp.as_deref(),
        nonce: row.nonce.as_deref(),
        refresh_token,
        id_token_claims,
        dpop_jkt,
    }
}

/// Tokens signed ahead of the transaction, for the grant the code names.
struct Early {
    grant_id: String,
    refresh_token: Option<String>,
    tokens: TokenResponse,
}

/// Signs the response for a code that, on a plain read, passes every check; None when it
/// does not (the transaction then spends it and says why).
async fn sign_early(
    state: &AppState,
    client: &Client,
    presented: &Presented<'_>,
    code_hash: &str,
    now: i64,
) -> Result<Option<Early>, OAuthError> {
    let Some(row) = state.store.unconsumed_code(code_hash).await? else {
        return Ok(None);
    };
    if check_code(&row, client, presented, now).is_err() {
        return Ok(None);
    }
    let refresh_token = refresh_family_end(state, client, &row.scope, now).map(|_| secrets::random_token());
    let id_token_claims = early_claims(state, &row.user_id, row.claims.as_deref()).await?;
    let tokens = issue(
        state,
        user_tokens(client, &row, refresh_token.clone(), id_token_claims, presented.jkt),
        now,
    )?;
    Ok(Some(Early {
        grant_id: row.grant_id.clone(),
        refresh_token,
        tokens,
    }))
}

/// What the token request brings to redeem a code with.
struct Presented<'a> {
    redirect_uri: &'a str,
    verifier: Option<&'a str>,
    /// The thumbprint of the request's DPoP proof key.
    jkt: Option<&'a str>,
}

/// Binding checks of RFC 6749 §4.1.3, RFC 7636 §4.6 and RFC 9449 §10.
fn check_code(row: &CodeRow, client: &Client, presented: &Presented, now: i64) -> Result<(), OAuthError> {
    let Presented {
        redirect_uri,
        verifier,
        jkt,
    } = *presented;
    if row.expires_at <= now {
        return Err(OAuthError::invalid_grant("the authorization code has expired"));
    }
    if row.client_id != client.id {
        return Err(OAuthError::invalid_grant(
            "the authorization code was issued to another client",
        ));
    }
    if row.redirect_uri != redirect_uri {
        return Err(OAuthError::invalid_grant(
            "redirect_uri does not match the authorization request",
        ));
    }
    match (&row.dpop_jkt, jkt) {
        (Some(bound), Some(jkt)) if bound != jkt => {
            return Err(OAuthError::invalid_dpop_proof(
                "the proof's key is not the one the code was bound to with dpop_jkt",
            ))
        }
        (Some(_), None) => {
            return Err(OAuthError::invalid_dpop_proof(
                "the code is bound to a DPoP key (dpop_jkt); send a DPoP proof made with it",
            ))
        }
        _ => {}
    }
    match (&row.code_challenge, verifier) {
        (Some(challenge), Some(verifier)) if pkce::verify_s256(verifier, challenge) => Ok(()),
        (Some(_), Some(_)) => Err(OAuthError::invalid_grant(
            "code_verifier does not match the code_challenge",
        )),
        (Some(_), None) => Err(OAuthError::invalid_grant("code_verifier is required")),
        // RFC 9700 §4.8.2: a verifier for a code issued without a challenge is a downgrade.
        (None, Some(_)) => Err(OAuthError::invalid_grant("this code was issued without PKCE")),
        (None, None) => Ok(()),
    }
}
