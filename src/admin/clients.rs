//! Client administration shared by `gatehouse client …` and the admin API: the settings
//! either may change, the rules a client must satisfy, and create, update, rotate, delete.
//! Every change goes through the store, which moves the client-cache generation.

use crate::clients::{self, Client, GRANT_TYPES};
use crate::outbound::Outbound;
use crate::secrets;
use crate::store::{self, Store};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A setting that breaks a rule: which field, and the message (the CLI prints it as is).
#[derive(Debug, Clone)]
pub struct Invalid {
    pub field: &'static str,
    pub message: String,
}

fn invalid(field: &'static str, message: impl Into<String>) -> Invalid {
    Invalid {
        field,
        message: message.into(),
    }
}

impl std::fmt::Display for Invalid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

#[derive(Debug)]
pub enum ClientError {
    Invalid(Invalid),
    NotFound(String),
    Conflict(String),
    Internal(anyhow::Error),
}

impl From<Invalid> for ClientError {
    fn from(e: Invalid) -> Self {
        ClientError::Invalid(e)
    }
}

impl From<sqlx::Error> for ClientError {
    fn from(e: sqlx::Error) -> Self {
        ClientError::Internal(e.into())
    }
}

impl std::fmt::Display for ClientError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ClientError::Invalid(e) => f.write_str(&e.message),
            ClientError::NotFound(id) => write!(f, "no client with id {id:?}"),
            ClientError::Conflict(message) => f.write_str(message),
            ClientError::Internal(e) => write!(f, "{e:#}"),
        }
    }
}

/// The settings of a client. On create, a field left out takes the default; on update,
/// it keeps its value, and a list given replaces the old one.
#[derive(Debug, Default, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClientSettings {
    /// Name shown to users (required on create).
    pub name: Option<String>,
    /// Create only: choose the client_id instead of a random one.
    pub client_id: Option<String>,
    /// Create only: a public client (SPA, mobile, CLI) has no secret and must use PKCE.
    pub public: Option<bool>,
    /// Allowed redirect URIs, matched exactly.
    pub redirect_uris: Option<Vec<String>>,
    /// Allowed post-logout redirect URIs, matched exactly.
    pub post_logout_redirect_uris: Option<Vec<String>>,
    /// Grant types: authorization_code, refresh_token, client_credentials.
    pub grant_types: Option<Vec<String>>,
    /// A first-party app skips the consent screen.
    pub first_party: Option<bool>,
    /// Scopes it may request (`gatehouse:admin` only for first-party clients).
    pub scopes: Option<Vec<String>>,
    /// Resources (RFC 8707) it may get client_credentials tokens for; the first is the default.
    pub audiences: Option<Vec<String>>,
    /// A JWK Set (JSON text) of its public keys, enabling private_key_jwt; empty removes it.
    pub jwks: Option<String>,
    /// Where to POST back-channel logout tokens; empty removes it.
    pub backchannel_logout_uri: Option<String>,
    pub always_refresh: Option<bool>,
    pub require_pkce: Option<bool>,
    pub require_mfa: Option<bool>,
    /// Must push its authorization requests to /par (RFC 9126).
    pub require_par: Option<bool>,
    /// Every token request must carry a DPoP proof (RFC 9449 §5.2).
    pub require_dpop: Option<bool>,
    pub access_token_ttl_secs: Option<i64>,
    pub refresh_idle_ttl_secs: Option<i64>,
    pub refresh_absolute_ttl_secs: Option<i64>,
    /// Where its JWK Set is published (instead of `jwks`); empty removes it.
    pub jwks_uri: Option<String>,
    /// The `request_uri` values it may send to /authorize (OIDC Core §6.2).
    pub request_uris: Option<Vec<String>>,
    /// `public` (one `sub` per user everywhere) or `pairwise` (OIDC Core §8.1).
    pub subject_type: Option<String>,
    /// An https document listing its redirect URIs, whose host is the pairwise sector;
    /// empty removes it.
    pub sector_identifier_uri: Option<String>,
    /// Shown on the consent page; empty removes each.
    pub logo_uri: Option<String>,
    pub policy_uri: Option<String>,
    pub tos_uri: Option<String>,
    /// `RS256` answers UserInfo as a signed JWT; empty answers JSON again.
    pub userinfo_signed_response_alg: Option<String>,
    /// A registration replaced without `scope` (RFC 7592 §2.2) is unrestricted again, as
    /// one registered without it; `scopes` cannot say so, as an empty list allows nothing.
    #[serde(skip)]
    pub unrestricted_scopes: bool,
}

/// `Some("")` removes an optional value, `Some(v)` sets it, `None` keeps it.
fn set_or_clear(target: &mut Option<String>, value: Option<String>) {
    match value {
        Some(v) if v.trim().is_empty() => *target = None,
        Some(v) => *target = Some(v),
        None => {}
    }
}

impl ClientSettings {
    /// Applies every field given, except the create-only ones and the name.
    fn apply(self, client: &mut Client) -> Result<(), Invalid> {
        if let Some(v) = self.redirect_uris {
            client.redirect_uris = v;
        }
        if let Some(v) = self.post_logout_redirect_uris {
            client.post_logout_redirect_uris = v;
        }
        if let Some(v) = self.grant_types {
            client.grant_types = v;
        }
        if let Some(v) = self.first_party {
            client.first_party = v;
        }
        if let Some(v) = self.scopes {
            client.allowed_scopes = Some(v);
        }
        if self.unrestricted_scopes {
            client.allowed_scopes = None;
        }
        if let Some(v) = self.audiences {
            client.audiences = v;
        }
        // An empty value removes the keys or the URI (the console's blank field, a
        // registration replaced without them).
        match self.jwks {
            Some(text) if text.trim().is_empty() => client.jwks = None,
            Some(text) => {
                crate::oauth::client_assertion::validate_jwks(&text)
                    .map_err(|e| invalid("jwks", format!("invalid --jwks-file: {e}")))?;
                client.jwks = Some(text);
            }
            None => {}
        }
        match self.backchannel_logout_uri {
            Some(uri) if uri.trim().is_empty() => client.backchannel_logout_uri = None,
            Some(uri) => client.backchannel_logout_uri = Some(uri),
            None => {}
        }
        if let Some(v) = self.always_refresh {
            client.always_refresh = v;
        }
        if let Some(v) = self.require_pkce {
            client.require_pkce = v;
        }
        if let Some(v) = self.require_mfa {
            client.require_mfa = v;
        }
        if let Some(v) = self.require_par {
            client.require_par = v;
        }
        if let Some(v) = self.require_dpop {
            client.require_dpop = v;
        }
        set_or_clear(&mut client.jwks_uri, self.jwks_uri);
        if let Some(v) = self.request_uris {
            client.request_uris = v;
        }
        set_or_clear(&mut client.sector_identifier_uri, self.sector_identifier_uri);
        set_or_clear(&mut client.logo_uri, self.logo_uri);
        set_or_clear(&mut client.policy_uri, self.policy_uri);
        set_or_clear(&mut client.tos_uri, self.tos_uri);
        set_or_clear(
            &mut client.userinfo_signed_response_alg,
            self.userinfo_signed_response_alg,
        );
        match self.subject_type.as_deref() {
            None => {}
            Some("public") => client.pairwise_sector = None,
            // Computed below, once the redirect URIs and the sector document are final.
            Some("pairwise") => client.pairwise_sector = Some(String::new()),
            Some(other) => {
                return Err(invalid(
                    "subject_type",
                    format!("unknown subject type {other:?}: use public or pairwise"),
                ))
            }
        }
        if client.pairwise_sector.is_some() {
            client.pairwise_sector = Some(pairwise_sector(client)?);
        }
        client.access_token_ttl_secs = self.access_token_ttl_secs.or(client.access_token_ttl_secs);
        client.refresh_idle_ttl_secs = self.refresh_idle_ttl_secs.or(client.refresh_idle_ttl_secs);
        client.refresh_absolute_ttl_secs = self.refresh_absolute_ttl_secs.or(client.refresh_absolute_ttl_secs);
        Ok(())
    }
}

/// `client` as `settings` would leave it, nothing fetched or stored: for a caller with
/// rules of its own about what may change.
pub fn preview(client: &Client, settings: &ClientSettings) -> Result<Client, Invalid> {
    let mut changed = client.clone();
    settings.clone().apply(&mut changed)?;
    Ok(changed)
}

/// The host pairwise subjects are computed for (OIDC Core §8.1): the sector document's,
/// or else the one host all redirect URIs share.
fn pairwise_sector(client: &Client) -> Result<String, Invalid> {
    let host = |raw: &str| url::Url::parse(raw).ok().and_then(|u| u.host_str().map(str::to_string));
    if let Some(uri) = &client.sector_identifier_uri {
        return host(uri).ok_or_else(|| {
            invalid(
                "sector_identifier_uri",
                format!("invalid sector_identifier_uri {uri:?}: an absolute https URL"),
            )
        });
    }
    let mut hosts: Vec<String> = client.redirect_uris.iter().filter_map(|u| host(u)).collect();
    hosts.sort();
    hosts.dedup();
    match hosts.as_slice() {
        [one] => Ok(one.clone()),
        [] => Err(invalid(
            "subject_type",
            "pairwise subjects need a redirect URI or a sector_identifier_uri",
        )),
        _ => Err(invalid(
            "sector_identifier_uri",
            "redirect URIs on several hosts need a sector_identifier_uri for pairwise subjects (OIDC Core §8.1)",
        )),
    }
}

/// OIDC Dynamic Client Registration §5: the sector document is a JSON array of URLs that
/// holds every redirect URI. Whoever runs the sector host publishes it, so a client can
/// share a sector's subjects only with its consent.
async fn check_sector_document(outbound: &Outbound, uri: &str, redirect_uris: &[String]) -> Result<(), Invalid> {
    let field = "sector_identifier_uri";
    let fetched = outbound
        .get(uri, "application/json")
        .await
        .map_err(|e| invalid(field, format!("cannot fetch the sector_identifier_uri document: {e}")))?;
    let listed: Vec<String> = serde_json::from_str(&fetched.body).map_err(|_| {
        invalid(
            field,
            format!("the sector_identifier_uri document {uri} is not a JSON array of redirect URIs"),
        )
    })?;
    match redirect_uris.iter().find(|r| !listed.contains(r)) {
        Some(missing) => Err(invalid(
            field,
            format!("the sector_identifier_uri document {uri} does not list the redirect URI {missing}"),
        )),
        None => Ok(()),
    }
}

/// A URL Gatehouse fetches or links to: absolute, https (or http on a loopback host, for
/// development), no user information. Whether it may be fetched is `outbound`'s call.
fn validate_document_uri(field: &'static str, raw: &str) -> Result<(), Invalid> {
    let bad = |why: &str| invalid(field, format!("invalid {field} {raw:?}: {why}"));
    let url = url::Url::parse(raw).map_err(|_| bad("not an absolute URL"))?;
    match url.scheme() {
        "https" => {}
        "http" if crate::config::is_loopback_host(&url) => {}
        _ => return Err(bad("use https")),
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(bad("a URL must not carry user information"));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(bad("a URL needs a host"));
    }
    Ok(())
}

/// Signing algorithms a client may ask for its UserInfo answers.
pub const USERINFO_SIGNING_ALGS: &[&str] = &["RS256"];

/// The rules a client's settings must satisfy, whoever set them.
pub fn validate(client: &Client) -> Result<(), Invalid> {
    // RFC 6749 Appendix A.1: a client id is printable ASCII. A `:` is fine: inside HTTP
    // Basic the id is form-urlencoded first (§2.3.1), so an API can use its own URI as its
    // client id and introspect the tokens issued for that audience.
    if client.id.is_empty() || client.id.len() > 128 || !client.id.chars().all(|c| c.is_ascii_graphic()) {
        return Err(invalid(
            "client_id",
            format!(
                "invalid client id {:?}: 1-128 printable ASCII characters, no spaces",
                client.id
            ),
        ));
    }
    for uri in &client.redirect_uris {
        clients::validate_redirect_uri(uri)
            .map_err(|e| invalid("redirect_uris", format!("invalid redirect URI: {e}")))?;
    }
    for uri in &client.post_logout_redirect_uris {
        clients::validate_redirect_uri(uri)
            .map_err(|e| invalid("post_logout_redirect_uris", format!("invalid redirect URI: {e}")))?;
    }
    if let Some(uri) = &client.backchannel_logout_uri {
        clients::validate_redirect_uri(uri).map_err(|e| {
            invalid(
                "backchannel_logout_uri",
                format!("invalid back-channel logout URI: {e}"),
            )
        })?;
    }
    for grant in &client.grant_types {
        if !GRANT_TYPES.contains(&grant.as_str()) {
            return Err(invalid(
                "grant_types",
                format!("unknown grant type {grant:?}: use one of {}", GRANT_TYPES.join(", ")),
            ));
        }
    }
    if client.may_use_grant("authorization_code") && client.redirect_uris.is_empty() {
        return Err(invalid(
            "redirect_uris",
            "the authorization_code grant needs at least one --redirect-uri",
        ));
    }
    if client.may_use_grant("client_credentials") {
        if client.is_public() && !client.has_keys() {
            return Err(invalid(
                "public",
                "client_credentials needs a confidential client (drop --public)",
            ));
        }
        if client.audiences.is_empty() {
            return Err(invalid(
                "audiences",
                "client_credentials needs at least one --audience (the API its tokens are for)",
            ));
        }
    }
    let admin = client
        .allowed_scopes
        .iter()
        .flatten()
        .any(|s| s == clients::ADMIN_SCOPE);
    if admin && !client.first_party {
        return Err(invalid(
            "scopes",
            format!(
                "the {} scope is for first-party clients only (drop --third-party)",
                clients::ADMIN_SCOPE
            ),
        ));
    }
    for audience in &client.audiences {
        url::Url::parse(audience).map_err(|_| {
            invalid(
                "audiences",
                format!("invalid --audience {audience:?}: must be an absolute URI"),
            )
        })?;
    }
    if client.jwks.is_some() && client.jwks_uri.is_some() {
        return Err(invalid(
            "jwks_uri",
            "give the public keys inline (jwks) or by URL (jwks_uri), not both (RFC 7591 §2)",
        ));
    }
    for (field, value) in [
        ("jwks_uri", &client.jwks_uri),
        ("sector_identifier_uri", &client.sector_identifier_uri),
        ("logo_uri", &client.logo_uri),
        ("policy_uri", &client.policy_uri),
        ("tos_uri", &client.tos_uri),
    ] {
        if let Some(uri) = value {
            validate_document_uri(field, uri)?;
        }
    }
    for uri in &client.request_uris {
        validate_document_uri("request_uris", uri)?;
    }
    if let Some(alg) = &client.userinfo_signed_response_alg {
        if !USERINFO_SIGNING_ALGS.contains(&alg.as_str()) {
            return Err(invalid(
                "userinfo_signed_response_alg",
                format!(
                    "userinfo_signed_response_alg {alg:?} is not supported: use {}",
                    USERINFO_SIGNING_ALGS.join(" or ")
                ),
            ));
        }
    }
    for (field, ttl) in [
        ("access_token_ttl_secs", client.access_token_ttl_secs),
        ("refresh_idle_ttl_secs", client.refresh_idle_ttl_secs),
        ("refresh_absolute_ttl_secs", client.refresh_absolute_ttl_secs),
    ] {
        if ttl.is_some_and(|t| t <= 0) {
            return Err(invalid(field, "lifetimes must be positive numbers of seconds"));
        }
    }
    Ok(())
}

/// A client as the CLI's `--json` and the API show it: never its secret.
#[derive(Debug, Serialize, ToSchema)]
pub struct ClientView {
    pub client_id: String,
    pub name: String,
    pub public: bool,
    pub first_party: bool,
    pub require_pkce: bool,
    pub grant_types: Vec<String>,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    /// `null`: the OpenID Connect scopes Gatehouse supports.
    pub allowed_scopes: Option<Vec<String>>,
    pub audiences: Vec<String>,
    pub private_key_jwt: bool,
    pub backchannel_logout_uri: Option<String>,
    pub always_refresh: bool,
    pub access_token_ttl_secs: Option<i64>,
    pub refresh_idle_ttl_secs: Option<i64>,
    pub refresh_absolute_ttl_secs: Option<i64>,
    pub require_mfa: bool,
    pub require_par: bool,
    pub require_dpop: bool,
    pub jwks_uri: Option<String>,
    pub request_uris: Vec<String>,
    /// `public` or `pairwise`.
    pub subject_type: String,
    pub sector_identifier_uri: Option<String>,
    pub logo_uri: Option<String>,
    pub policy_uri: Option<String>,
    pub tos_uri: Option<String>,
    pub userinfo_signed_response_alg: Option<String>,
    pub created_at: i64,
}

impl From<&Client> for ClientView {
    fn from(client: &Client) -> Self {
        ClientView {
            client_id: client.id.clone(),
            name: client.name.clone(),
            public: client.is_public(),
            first_party: client.first_party,
            require_pkce: client.pkce_required(),
            grant_types: client.grant_types.clone(),
            redirect_uris: client.redirect_uris.clone(),
            post_logout_redirect_uris: client.post_logout_redirect_uris.clone(),
            allowed_scopes: client.allowed_scopes.clone(),
            audiences: client.audiences.clone(),
            private_key_jwt: client.has_keys(),
            backchannel_logout_uri: client.backchannel_logout_uri.clone(),
            always_refresh: client.always_refresh,
            access_token_ttl_secs: client.access_token_ttl_secs,
            refresh_idle_ttl_secs: client.refresh_idle_ttl_secs,
            refresh_absolute_ttl_secs: client.refresh_absolute_ttl_secs,
            require_mfa: client.require_mfa,
            require_par: client.require_par,
            require_dpop: client.require_dpop,
            jwks_uri: client.jwks_uri.clone(),
            request_uris: client.request_uris.clone(),
            subject_type: match client.pairwise_sector {
                Some(_) => "pairwise".into(),
                None => "public".into(),
            },
            sector_identifier_uri: client.sector_identifier_uri.clone(),
            logo_uri: client.logo_uri.clone(),
            policy_uri: client.policy_uri.clone(),
            tos_uri: client.tos_uri.clone(),
            userinfo_signed_response_alg: client.userinfo_signed_response_alg.clone(),
            created_at: client.created_at,
        }
    }
}

/// A client and, when one was just issued, its secret (shown this once).
pub struct Issued {
    pub client: Client,
    pub secret: Option<String>,
}

/// The URLs of `client` that Gatehouse calls (key set, request objects, back-channel
/// logout), each with its field, for the outbound guard to look at.
fn called_urls(client: &Client) -> Vec<(&'static str, String)> {
    let mut urls: Vec<(&'static str, String)> = Vec::new();
    urls.extend(client.jwks_uri.iter().map(|u| ("jwks_uri", u.clone())));
    urls.extend(client.request_uris.iter().map(|u| ("request_uris", u.clone())));
    urls.extend(
        client
            .backchannel_logout_uri
            .iter()
            .map(|u| ("backchannel_logout_uri", u.clone())),
    );
    urls
}

/// Refuses, when it is set, a URL the outbound guard would never call (plain http, a
/// literal private address): better now, naming the field, than a key set that never
/// loads or a logout that is never delivered. Only URLs not checked before: a client kept
/// from before the guard can still be renamed. Names are checked when they resolve.
fn check_called_urls(outbound: &Outbound, client: &Client, before: &[(&'static str, String)]) -> Result<(), Invalid> {
    for (field, url) in called_urls(client) {
        if before.iter().any(|(f, u)| *f == field && *u == url) {
            continue;
        }
        if let Err(e) = outbound.check(&url) {
            return Err(invalid(
                field,
                format!("{field} {url:?} would never be called: {e} (see outbound.allow_private_networks)"),
            ));
        }
    }
    Ok(())
}

/// Registers a client from `settings` (`name` required). `outbound` fetches its sector
/// document, if it names one.
pub async fn create(
    store: &Store,
    outbound: &Outbound,
    mut settings: ClientSettings,
    now: i64,
) -> Result<Issued, ClientError> {
    let name = settings
        .name
        .take()
        .ok_or_else(|| invalid("name", "a client needs a name (--name)"))?;
    let public = settings.public.take().unwrap_or(false);
    let secret = (!public).then(clients::generate_secret);
    let id = settings.client_id.take().unwrap_or_else(secrets::random_id);
    let mut client = Client::new(&id, &name, secret.as_deref().map(secrets::digest));
    client.created_at = now;
    settings.apply(&mut client)?;
    validate(&client)?;
    check_called_urls(outbound, &client, &[])?;
    if let Some(uri) = &client.sector_identifier_uri {
        check_sector_document(outbound, uri, &client.redirect_uris).await?;
    }
    store.create_client(&client).await.map_err(|e| {
        if store::is_unique_violation(&e) {
            ClientError::Conflict(format!("a client with id {:?} already exists", client.id))
        } else {
            e.into()
        }
    })?;
    Ok(Issued { client, secret })
}

/// Changes the settings given; with `rotate_secret` a confidential client gets a new secret
/// (the old one stops working). A public client has none to rotate.
pub async fn update(
    store: &Store,
    outbound: &Outbound,
    id: &str,
    mut settings: ClientSettings,
    rotate_secret: bool,
) -> Result<Issued, ClientError> {
    if settings.client_id.is_some() {
        return Err(invalid("client_id", "a client's id cannot be changed").into());
    }
    if settings.public.is_some() {
        return Err(invalid("public", "a client cannot change between public and confidential").into());
    }
    let mut client = store
        .client(id)
        .await?
        .ok_or_else(|| ClientError::NotFound(id.to_string()))?;
    if let Some(name) = settings.name.take() {
        client.name = name;
    }
    let secret = (rotate_secret && !client.is_public()).then(clients::generate_secret);
    if let Some(secret) = &secret {
        client.secret_hash = Some(secrets::digest(secret));
    }
    let before = (client.sector_identifier_uri.clone(), client.redirect_uris.clone());
    let called_before = called_urls(&client);
    settings.apply(&mut client)?;
    validate(&client)?;
    check_called_urls(outbound, &client, &called_before)?;
    // A document checked before vouches for the redirect URIs it was checked against;
    // fetched again only when either changes, so renaming a client needs no network.
    if let Some(uri) = &client.sector_identifier_uri {
        if before != (Some(uri.clone()), client.redirect_uris.clone()) {
            check_sector_document(outbound, uri, &client.redirect_uris).await?;
        }
    }
    if !store.update_client(&client).await? {
        return Err(ClientError::NotFound(id.to_string()));
    }
    Ok(Issued { client, secret })
}

/// A confidential client's new secret (the old one stops working); a public client has
/// none, which is a conflict rather than a silent no-op.
pub async fn rotate_secret(store: &Store, id: &str) -> Result<Issued, ClientError> {
    let mut client = show(store, id).await?;
    if client.is_public() {
        return Err(ClientError::Conflict("a public client has no secret to rotate".into()));
    }
    let secret = clients::generate_secret();
    client.secret_hash = Some(secrets::digest(&secret));
    if !store.update_client(&client).await? {
        return Err(ClientError::NotFound(id.to_string()));
    }
    Ok(Issued {
        client,
        secret: Some(secret),
    })
}

pub async fn show(store: &Store, id: &str) -> Result<Client, ClientError> {
    store
        .client(id)
        .await?
        .ok_or_else(|| ClientError::NotFound(id.to_string()))
}

/// Deletes a client and everything issued to it.
pub async fn delete(store: &Store, id: &str) -> Result<(), ClientError> {
    if !store.delete_client(id).await? {
        return Err(ClientError::NotFound(id.to_string()));
    }
    Ok(())
}
