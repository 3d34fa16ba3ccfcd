//! `gatehouse client …`: register, inspect, change and delete relying parties.

use super::open_store;
use crate::clients::{self, Client, GRANT_TYPES};
use crate::config::Config;
use crate::secrets;
use crate::store;
use anyhow::{bail, Context};
use clap::{Args, Subcommand};
use serde_json::json;

#[derive(Subcommand, Debug)]
pub enum ClientCommand {
    /// Register a client; prints its id and, for confidential clients, its secret (once)
    Create(CreateClient),
    /// Change a client's settings; only the options given change (lists are replaced)
    Update(UpdateClient),
    /// List clients
    List {
        #[arg(long)]
        json: bool,
    },
    /// Show one client
    Show {
        client_id: String,
        #[arg(long)]
        json: bool,
    },
    /// Delete a client and everything issued to it
    Delete { client_id: String },
}

#[derive(Args, Debug)]
pub struct CreateClient {
    /// Name shown to users
    #[arg(long)]
    name: String,
    /// A public client (SPA, mobile, CLI): no secret, PKCE required
    #[arg(long)]
    public: bool,
    /// Choose the client_id instead of a random one
    #[arg(long)]
    client_id: Option<String>,
    /// Print JSON
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    settings: Settings,
}

#[derive(Args, Debug)]
pub struct UpdateClient {
    client_id: String,
    #[arg(long)]
    name: Option<String>,
    /// Issue a new secret (printed once); the old one stops working
    #[arg(long)]
    rotate_secret: bool,
    #[command(flatten)]
    settings: Settings,
}

/// Settings shared by create and update. On update, an option left out keeps its value.
#[derive(Args, Debug)]
pub struct Settings {
    /// Allowed redirect URI (repeatable); matched exactly
    #[arg(long = "redirect-uri")]
    redirect_uris: Vec<String>,
    /// Allowed post-logout redirect URI (repeatable); matched exactly
    #[arg(long = "post-logout-redirect-uri")]
    post_logout_redirect_uris: Vec<String>,
    /// Grant type it may use (repeatable): authorization_code, refresh_token, client_credentials
    /// [default: authorization_code and refresh_token]
    #[arg(long = "grant-type")]
    grant_types: Vec<String>,
    /// A third-party app: users see a consent screen naming it and the scopes it asks for
    #[arg(long, conflicts_with = "first_party")]
    third_party: bool,
    /// A first-party app: no consent screen (the default)
    #[arg(long)]
    first_party: bool,
    /// Scope it may request (repeatable) [default: openid profile email offline_access]
    #[arg(long = "scope")]
    scopes: Vec<String>,
    /// Resource (RFC 8707) it may get client_credentials tokens for (repeatable; first is default)
    #[arg(long = "audience")]
    audiences: Vec<String>,
    /// File with the JWK Set of its public keys, enabling private_key_jwt
    #[arg(long)]
    jwks_file: Option<std::path::PathBuf>,
    /// Where to POST back-channel logout tokens
    #[arg(long)]
    backchannel_logout_uri: Option<String>,
    /// Issue refresh tokens without offline_access (for first-party apps)
    #[arg(long)]
    always_refresh: Option<bool>,
    /// Require PKCE of this confidential client too
    #[arg(long)]
    require_pkce: Option<bool>,
    /// Every sign-in for this app needs a second factor (users without one set one up)
    #[arg(long, num_args = 0..=1, default_missing_value = "true")]
    require_mfa: Option<bool>,
    /// Its authorization requests must be pushed to /par first (RFC 9126)
    #[arg(long, num_args = 0..=1, default_missing_value = "true")]
    require_par: Option<bool>,
    /// Access token lifetime in seconds [default: tokens.access_token_ttl_secs]
    #[arg(long)]
    access_token_ttl: Option<i64>,
    /// Refresh token idle lifetime in seconds [default: tokens.refresh_idle_ttl_secs]
    #[arg(long)]
    refresh_idle_ttl: Option<i64>,
    /// Refresh token absolute lifetime in seconds [default: tokens.refresh_absolute_ttl_secs]
    #[arg(long)]
    refresh_absolute_ttl: Option<i64>,
}

impl Settings {
    fn apply(self, client: &mut Client) -> anyhow::Result<()> {
        if !self.redirect_uris.is_empty() {
            client.redirect_uris = self.redirect_uris;
        }
        if !self.post_logout_redirect_uris.is_empty() {
            client.post_logout_redirect_uris = self.post_logout_redirect_uris;
        }
        if !self.grant_types.is_empty() {
            client.grant_types = self.grant_types;
        }
        if self.third_party {
            client.first_party = false;
        }
        if self.first_party {
            client.first_party = true;
        }
        if !self.scopes.is_empty() {
            client.allowed_scopes = Some(self.scopes);
        }
        if !self.audiences.is_empty() {
            client.audiences = self.audiences;
        }
        if let Some(path) = self.jwks_file {
            let text = std::fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?;
            crate::oauth::client_assertion::validate_jwks(&text)
                .map_err(|e| anyhow::anyhow!("invalid --jwks-file: {e}"))?;
            client.jwks = Some(text);
        }
        if let Some(uri) = self.backchannel_logout_uri {
            client.backchannel_logout_uri = Some(uri);
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
        client.access_token_ttl_secs = self.access_token_ttl.or(client.access_token_ttl_secs);
        client.refresh_idle_ttl_secs = self.refresh_idle_ttl.or(client.refresh_idle_ttl_secs);
        client.refresh_absolute_ttl_secs = self.refresh_absolute_ttl.or(client.refresh_absolute_ttl_secs);
        Ok(())
    }
}

/// The rules a client's settings must satisfy, whoever set them.
fn validate(client: &Client) -> anyhow::Result<()> {
    // RFC 6749 Appendix A.1: a client id is printable ASCII. A `:` is fine: inside HTTP
    // Basic the id is form-urlencoded first (§2.3.1), so an API can use its own URI as its
    // client id and introspect the tokens issued for that audience.
    if client.id.is_empty() || client.id.len() > 128 || !client.id.chars().all(|c| c.is_ascii_graphic()) {
        bail!(
            "invalid client id {:?}: 1-128 printable ASCII characters, no spaces",
            client.id
        );
    }
    for uri in client.redirect_uris.iter().chain(&client.post_logout_redirect_uris) {
        clients::validate_redirect_uri(uri).map_err(|e| anyhow::anyhow!("invalid redirect URI: {e}"))?;
    }
    if let Some(uri) = &client.backchannel_logout_uri {
        clients::validate_redirect_uri(uri).map_err(|e| anyhow::anyhow!("invalid back-channel logout URI: {e}"))?;
    }
    for grant in &client.grant_types {
        if !GRANT_TYPES.contains(&grant.as_str()) {
            bail!("unknown grant type {grant:?}: use one of {}", GRANT_TYPES.join(", "));
        }
    }
    if client.may_use_grant("authorization_code") && client.redirect_uris.is_empty() {
        bail!("the authorization_code grant needs at least one --redirect-uri");
    }
    if client.may_use_grant("client_credentials") {
        if client.is_public() && client.jwks.is_none() {
            bail!("client_credentials needs a confidential client (drop --public)");
        }
        if client.audiences.is_empty() {
            bail!("client_credentials needs at least one --audience (the API its tokens are for)");
        }
    }
    for audience in &client.audiences {
        url::Url::parse(audience)
            .map_err(|_| anyhow::anyhow!("invalid --audience {audience:?}: must be an absolute URI"))?;
    }
    for ttl in [
        client.access_token_ttl_secs,
        client.refresh_idle_ttl_secs,
        client.refresh_absolute_ttl_secs,
    ]
    .into_iter()
    .flatten()
    {
        if ttl <= 0 {
            bail!("lifetimes must be positive numbers of seconds");
        }
    }
    Ok(())
}

pub async fn run(config: &Config, cmd: ClientCommand, now: i64) -> anyhow::Result<()> {
    let store = open_store(config).await?;
    match cmd {
        ClientCommand::Create(args) => {
            let secret = (!args.public).then(clients::generate_secret);
            let id = args.client_id.unwrap_or_else(secrets::random_id);
            let mut client = Client::new(&id, &args.name, secret.as_deref().map(secrets::digest));
            client.created_at = now;
            args.settings.apply(&mut client)?;
            validate(&client)?;
            store.create_client(&client).await.map_err(|e| {
                if store::is_unique_violation(&e) {
                    anyhow::anyhow!("a client with id {:?} already exists", client.id)
                } else {
                    e.into()
                }
            })?;
            print_created(&client, secret.as_deref(), args.json);
            Ok(())
        }
        ClientCommand::Update(args) => {
            let mut client = store
                .client(&args.client_id)
                .await?
                .with_context(|| format!("no client with id {:?}", args.client_id))?;
            if let Some(name) = args.name {
                client.name = name;
            }
            let secret = (args.rotate_secret && !client.is_public()).then(clients::generate_secret);
            if let Some(secret) = &secret {
                client.secret_hash = Some(secrets::digest(secret));
            }
            args.settings.apply(&mut client)?;
            validate(&client)?;
            store.update_client(&client).await?;
            println!("updated client {}", client.id);
            if let Some(secret) = secret {
                println!("client_secret: {secret}");
                println!("Store the secret now: it is not kept and cannot be shown again.");
            }
            Ok(())
        }
        ClientCommand::List { json } => {
            let all = store.clients().await?;
            if json {
                println!("{}", serde_json::Value::Array(all.iter().map(client_json).collect()));
            } else {
                println!("{:<24} {:<12} {:<24} REDIRECT URIS", "CLIENT ID", "TYPE", "NAME");
                for c in &all {
                    let kind = if c.is_public() { "public" } else { "confidential" };
                    println!("{:<24} {:<12} {:<24} {}", c.id, kind, c.name, c.redirect_uris.join(" "));
                }
            }
            Ok(())
        }
        ClientCommand::Show { client_id, json } => {
            let client = store
                .client(&client_id)
                .await?
                .with_context(|| format!("no client with id {client_id:?}"))?;
            if json {
                println!("{}", client_json(&client));
            } else {
                println!("{}", serde_json::to_string_pretty(&client_json(&client))?);
            }
            Ok(())
        }
        ClientCommand::Delete { client_id } => {
            if !store.delete_client(&client_id).await? {
                bail!("no client with id {client_id:?}");
            }
            println!("deleted client {client_id}");
            Ok(())
        }
    }
}

fn print_created(client: &Client, secret: Option<&str>, as_json: bool) {
    if as_json {
        let mut out = client_json(client);
        if let Some(secret) = secret {
            out["client_secret"] = secret.into();
        }
        println!("{out}");
        return;
    }
    println!("client_id:     {}", client.id);
    match secret {
        Some(secret) => {
            println!("client_secret: {secret}");
            println!("Store the secret now: it is not kept and cannot be shown again.");
        }
        None => println!("public client: no secret; PKCE (S256) is required"),
    }
}

fn client_json(client: &Client) -> serde_json::Value {
    json!({
        "client_id": client.id,
        "name": client.name,
        "public": client.is_public(),
        "first_party": client.first_party,
        "require_pkce": client.pkce_required(),
        "grant_types": client.grant_types,
        "redirect_uris": client.redirect_uris,
        "post_logout_redirect_uris": client.post_logout_redirect_uris,
        "allowed_scopes": client.allowed_scopes,
        "audiences": client.audiences,
        "private_key_jwt": client.jwks.is_some(),
        "backchannel_logout_uri": client.backchannel_logout_uri,
        "always_refresh": client.always_refresh,
        "access_token_ttl_secs": client.access_token_ttl_secs,
        "refresh_idle_ttl_secs": client.refresh_idle_ttl_secs,
        "refresh_absolute_ttl_secs": client.refresh_absolute_ttl_secs,
        "require_mfa": client.require_mfa,
        "require_par": client.require_par,
        "created_at": client.created_at,
    })
}
