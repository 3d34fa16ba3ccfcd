//! User administration below the admin API: search, show, sign a user out everywhere,
//! disable, force a password reset, list and revoke grants, delete. Ending sessions goes through `sessions::ended`, so the apps the user was
//! signed in to get back-channel logout tokens, exactly as when the user signs out.

use crate::error::AppError;
use crate::state::AppState;
use crate::store::grants::GrantRow;
use crate::users::Account;
use serde::Serialize;
use utoipa::ToSchema;

/// Most users one search page holds.
pub const MAX_LIMIT: i64 = 200;
pub const DEFAULT_LIMIT: i64 = 50;

/// A user as the admin API shows it: never the password hash.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserView {
    /// The `sub` claim.
    pub id: String,
    pub username: String,
    pub email: String,
    pub email_verified: bool,
    pub given_name: String,
    pub family_name: String,
    pub has_password: bool,
    /// Gets the gatehouse:admin scope through a first-party app allowed it.
    pub is_admin: bool,
    /// When the account was disabled; `null` while enabled.
    pub disabled_at: Option<i64>,
    pub updated_at: i64,
}

impl From<Account> for UserView {
    fn from(a: Account) -> Self {
        UserView {
            has_password: a.password_hash.is_some(),
            is_admin: a.is_admin != 0,
            disabled_at: a.disabled_at,
            id: a.id,
            username: a.username,
            email: a.email,
            email_verified: a.email_verified != 0,
            given_name: a.given_name,
            family_name: a.family_name,
            updated_at: a.updated_at,
        }
    }
}

/// One page of a search, and the cursor of the next when there may be more.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserPage {
    pub users: Vec<UserView>,
    pub next_cursor: Option<String>,
}

pub async fn search(
    state: &AppState,
    query: Option<&str>,
    cursor: Option<&str>,
    limit: i64,
) -> Result<UserPage, AppError> {
    let limit = limit.clamp(1, MAX_LIMIT);
    let query = query.map(str::trim).filter(|q| !q.is_empty());
    let mut found = state.store.search_accounts(query, cursor, limit + 1).await?;
    let more = found.len() as i64 > limit;
    found.truncate(limit as usize);
    let next_cursor = more.then(|| found.last().map(|a| a.id.clone())).flatten();
    Ok(UserPage {
        users: found.into_iter().map(UserView::from).collect(),
        next_cursor,
    })
}

pub async fn show(state: &AppState, id: &str) -> Result<Option<UserView>, AppError> {
    Ok(state.store.account_by_id(id).await?.map(UserView::from))
}

/// Ends every session of the user and revokes their offline access; returns how many
/// sessions ended, or `None` when there is no such user.
pub async fn end_sessions(state: &AppState, id: &str) -> Result<Option<usize>, AppError> {
    if state.store.account_by_id(id).await?.is_none() {
        return Ok(None);
    }
    let ended = state.store.end_user_sessions(id, None).await?;
    let offline = state.store.revoke_offline_grants(id, None, state.clock.now()).await?;
    crate::sessions::ended(state, &ended).await?;
    tracing::info!(user_id = %id, sessions = ended.len(), offline_grants = offline, "an admin ended every session");
    Ok(Some(ended.len()))
}

/// Disables the user (they cannot sign in, and every session and grant of theirs ends)
/// or enables them again; `None` when there is no such user.
pub async fn set_disabled(state: &AppState, id: &str, disabled: bool) -> Result<Option<UserView>, AppError> {
    let now = state.clock.now();
    let Some(account) = state.store.account_by_id(id).await? else {
        return Ok(None);
    };
    let at = match (disabled, account.disabled_at) {
        (true, Some(since)) => Some(since),
        (true, None) => Some(now),
        (false, _) => None,
    };
    state.store.set_disabled(id, at, now).await?;
    if disabled {
        end_sessions(state, id).await?;
    }
    tracing::info!(user_id = %id, disabled, "an admin changed whether the account is disabled");
    show(state, id).await
}

/// Deletes the user after telling their apps; `false` when there is no such user.
pub async fn delete(state: &AppState, id: &str) -> Result<bool, AppError> {
    if state.store.account_by_id(id).await?.is_none() {
        return Ok(false);
    }
    let open = state.store.user_sessions(id, state.clock.now()).await?;
    crate::sessions::ended(state, &open).await?;
    state.store.delete_account(id).await?;
    tracing::info!(user_id = %id, "an admin deleted the account");
    Ok(true)
}

/// A grant: what the user allowed an app through one sign-in. Revoking it stops its
/// access and refresh tokens at once.
#[derive(Debug, Serialize, ToSchema)]
pub struct GrantView {
    pub id: String,
    pub client_id: String,
    pub scope: String,
    pub auth_time: i64,
    /// When its refresh tokens stop, if it has any.
    pub refresh_expires_at: Option<i64>,
    /// Whether it lives on after the sign-in session (offline access).
    pub offline: bool,
}

impl From<GrantRow> for GrantView {
    fn from(g: GrantRow) -> Self {
        GrantView {
            offline: g.scope.split(' ').any(|s| s == "offline_access"),
            id: g.id,
            client_id: g.client_id,
            scope: g.scope,
            auth_time: g.auth_time,
            refresh_expires_at: g.refresh_expires_at,
        }
    }
}

/// The user's live grants; `None` when there is no such user.
pub async fn grants(state: &AppState, id: &str) -> Result<Option<Vec<GrantView>>, AppError> {
    if state.store.account_by_id(id).await?.is_none() {
        return Ok(None);
    }
    let grants = state.store.user_grants(id).await?;
    Ok(Some(grants.into_iter().map(GrantView::from).collect()))
}

/// Revokes one of the user's grants; `false` when the user has no such live grant.
pub async fn revoke_grant(state: &AppState, user_id: &str, grant_id: &str) -> Result<bool, AppError> {
    match state.store.grant(grant_id).await? {
        Some(g) if g.user_id == user_id && g.revoked_at.is_none() => {
            state.store.revoke_grant(grant_id, state.clock.now()).await?;
            tracing::info!(user_id, grant_id, "an admin revoked a grant");
            Ok(true)
        }
        _ => Ok(false),
    }
}

pub enum ResetOutcome {
    NoSuchUser,
    /// A link to an address nobody proved is theirs could hand the account to a stranger.
    EmailUnverified,
    Sent,
}

/// Emails the user the same password-reset link as "forgot password" does.
pub async fn send_password_reset(state: &AppState, id: &str) -> Result<ResetOutcome, AppError> {
    let Some(account) = state.store.account_by_id(id).await? else {
        return Ok(ResetOutcome::NoSuchUser);
    };
    if account.email_verified == 0 {
        return Ok(ResetOutcome::EmailUnverified);
    }
    let link = crate::accounts::recovery::reset_link(&account, None);
    crate::accounts::mail::link(state, link, minijinja::Value::default()).await?;
    tracing::info!(user_id = %id, "an admin sent a password-reset link");
    Ok(ResetOutcome::Sent)
}
