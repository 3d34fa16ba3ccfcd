//! User administration: create (shared with `gatehouse user create`) and update, search,
//! show, sign a user out everywhere, disable, force a password reset, list and revoke
//! grants, list and unlink upstream identities, delete. Ending sessions goes through `sessions::ended`, so the apps the user was
//! signed in to get back-channel logout tokens, exactly as when the user signs out.

use crate::admin::clients::Invalid;
use crate::error::AppError;
use crate::password::{self, PasswordHasherPool};
use crate::state::AppState;
use crate::store::grants::GrantRow;
use crate::store::{self, Store};
use crate::users::Account;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
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

/// Why a reset link is not sent to an unverified address.
pub const UNVERIFIED_EMAIL: &str = "the user's email address is not verified: a link there could reach someone else";
/// Why an identity that is the only way in stays linked.
pub const LAST_WAY_IN: &str =
    "that identity is the account's only way to sign in: it needs a password or another identity first";

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

/// A new account; its email counts as verified (the administrator vouches for it).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    pub username: String,
    pub email: String,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    /// At least 8 characters.
    #[schema(value_type = String)]
    pub password: SecretString,
}

/// Changes to an account; a field left out keeps its value.
#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct UserChanges {
    pub username: Option<String>,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
}

#[derive(Debug)]
pub enum UserError {
    Invalid(Invalid),
    NotFound(String),
    Conflict(String),
    App(AppError),
}

impl std::fmt::Display for UserError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            UserError::Invalid(e) => f.write_str(&e.message),
            UserError::NotFound(id) => write!(f, "no user with id {id:?}"),
            UserError::Conflict(message) => f.write_str(message),
            UserError::App(e) => write!(f, "{e}"),
        }
    }
}

impl From<AppError> for UserError {
    fn from(e: AppError) -> Self {
        UserError::App(e)
    }
}

impl From<sqlx::Error> for UserError {
    fn from(e: sqlx::Error) -> Self {
        UserError::App(e.into())
    }
}

fn invalid(field: &'static str, message: String) -> UserError {
    UserError::Invalid(Invalid { field, message })
}

fn taken(e: sqlx::Error) -> UserError {
    if store::is_unique_violation(&e) {
        UserError::Conflict("that username or email is already taken".into())
    } else {
        e.into()
    }
}

fn valid_name(field: &'static str, flag: &str, raw: Option<&str>) -> Result<Option<String>, UserError> {
    raw.map(|n| crate::users::validate_name(n).map_err(|e| invalid(field, format!("invalid {flag}: {e}"))))
        .transpose()
}

/// Validates and creates an account, as `gatehouse user create` does; returns its id.
pub async fn create(store: &Store, hasher: &PasswordHasherPool, new: NewUser, now: i64) -> Result<String, UserError> {
    let username = crate::users::validate_username(&new.username)
        .map_err(|e| invalid("username", format!("invalid --username: {e}")))?;
    let email =
        crate::users::validate_email(&new.email).map_err(|e| invalid("email", format!("invalid --email: {e}")))?;
    let given_name = valid_name("given_name", "--given-name", new.given_name.as_deref())?;
    let family_name = valid_name("family_name", "--family-name", new.family_name.as_deref())?;
    let password = new.password.expose_secret();
    if password.chars().count() < 8 {
        return Err(invalid("password", "the password must be at least 8 characters".into()));
    }
    if password.len() > password::MAX_PASSWORD_BYTES {
        return Err(invalid("password", "the password is too long".into()));
    }
    let hash = hasher.hash(password).await?;
    let id = crate::secrets::random_id();
    let account = store::accounts::NewAccount {
        id: &id,
        username: &username,
        email: &email,
        email_verified: true,
        given_name: given_name.as_deref().unwrap_or_default(),
        family_name: family_name.as_deref().unwrap_or_default(),
        password_hash: &hash,
    };
    store.create_account(&account, now).await.map_err(taken)?;
    Ok(id)
}

/// Renames the account or changes its names, with the same rules as at creation.
pub async fn update(store: &Store, id: &str, changes: UserChanges, now: i64) -> Result<(), UserError> {
    let account = store
        .account_by_id(id)
        .await?
        .ok_or_else(|| UserError::NotFound(id.to_string()))?;
    let username = changes
        .username
        .map(|u| {
            crate::users::validate_username(&u).map_err(|e| invalid("username", format!("invalid --username: {e}")))
        })
        .transpose()?;
    let given = valid_name("given_name", "--given-name", changes.given_name.as_deref())?;
    let family = valid_name("family_name", "--family-name", changes.family_name.as_deref())?;
    if let Some(username) = username {
        store.set_username(id, &username, now).await.map_err(taken)?;
    }
    if given.is_some() || family.is_some() {
        store
            .set_names(
                id,
                given.as_deref().unwrap_or(&account.given_name),
                family.as_deref().unwrap_or(&account.family_name),
                now,
            )
            .await?;
    }
    Ok(())
}

/// An upstream identity ("Continue with …") linked to the account.
#[derive(Debug, Serialize, ToSchema)]
pub struct IdentityView {
    pub id: String,
    /// The `[[upstream]]` provider's id.
    pub upstream_id: String,
    pub issuer: String,
    pub subject: String,
    /// The address the upstream last gave for it.
    pub email: String,
    pub linked_at: i64,
    pub last_used_at: i64,
}

/// The user's linked identities; `None` when there is no such user.
pub async fn identities(state: &AppState, id: &str) -> Result<Option<Vec<IdentityView>>, AppError> {
    if state.store.account_by_id(id).await?.is_none() {
        return Ok(None);
    }
    let found = state.store.identities_of(id).await?;
    Ok(Some(
        found
            .into_iter()
            .map(|i| IdentityView {
                id: i.id,
                upstream_id: i.upstream_id,
                issuer: i.issuer,
                subject: i.subject,
                email: i.email,
                linked_at: i.linked_at,
                last_used_at: i.last_used_at,
            })
            .collect(),
    ))
}

pub enum Unlinked {
    Done,
    NoSuchIdentity,
    /// It is the account's only way to sign in.
    LastWayIn,
}

/// Unlinks an identity as the account page does (never the last way to sign in) and
/// tells the user by mail.
pub async fn unlink_identity(state: &AppState, user_id: &str, identity_id: &str) -> Result<Unlinked, AppError> {
    let Some(account) = state.store.account_by_id(user_id).await? else {
        return Ok(Unlinked::NoSuchIdentity);
    };
    let linked = state.store.identities_of(user_id).await?;
    if !linked.iter().any(|i| i.id == identity_id) {
        return Ok(Unlinked::NoSuchIdentity);
    }
    if !state.store.unlink_identity(user_id, identity_id).await? {
        return Ok(Unlinked::LastWayIn);
    }
    tracing::info!(user_id, "an admin unlinked an upstream identity");
    crate::accounts::mail::notice(
        state,
        &account.email,
        "identity_unlinked",
        minijinja::context! { name => account.given_name },
    )
    .await?;
    Ok(Unlinked::Done)
}
