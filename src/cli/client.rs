//! `gatehouse client …`: register, inspect, change and delete relying parties.

use super::open_store;
use crate::admin::clients::{self as service, ClientError, ClientSettings, ClientView};
use crate::clients::Client;
use crate::config::Config;
use anyhow::Context;
use clap::{Args, Subcommand};

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
    /// Every token request must carry a DPoP proof, so all its tokens are sender-constrained (RFC 9449)
    #[arg(long, num_args = 0..=1, default_missing_value = "true")]
    require_dpop: Option<bool>,
    /// URL of its published JWK Set (instead of --jwks-file), fetched and refetched as it rotates keys; empty removes it
    #[arg(long)]
    jwks_uri: Option<String>,
    /// A request_uri value it may send to /authorize (repeatable)
    #[arg(long = "request-uri")]
    request_uris: Vec<String>,
    /// public (one sub per user everywhere) or pairwise (a different sub for each sector, OIDC Core §8.1)
    #[arg(long)]
    subject_type: Option<String>,
    /// An https document listing its redirect URIs; its host is the pairwise sector; empty removes it
    #[arg(long)]
    sector_identifier_uri: Option<String>,
    /// Logo shown on the consent page; empty removes it
    #[arg(long)]
    logo_uri: Option<String>,
    /// Privacy policy linked from the consent page; empty removes it
    #[arg(long)]
    policy_uri: Option<String>,
    /// Terms of service linked from the consent page; empty removes it
    #[arg(long)]
    tos_uri: Option<String>,
    /// RS256 answers UserInfo as a signed JWT (OIDC Core §5.3.2); empty answers JSON
    #[arg(long)]
    userinfo_signed_response_alg: Option<String>,
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
    /// The shared settings type: an option left out (or a list not given) is `None`.
    fn into_shared(self) -> anyhow::Result<ClientSettings> {
        let list = |v: Vec<String>| (!v.is_empty()).then_some(v);
        let jwks = match self.jwks_file {
            Some(path) => {
                let text = std::fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?;
                // An empty value would remove the keys; from a file it is a mistake.
                anyhow::ensure!(!text.trim().is_empty(), "--jwks-file {} is empty", path.display());
                Some(text)
            }
            None => None,
        };
        Ok(ClientSettings {
            redirect_uris: list(self.redirect_uris),
            post_logout_redirect_uris: list(self.post_logout_redirect_uris),
            grant_types: list(self.grant_types),
            first_party: match (self.third_party, self.first_party) {
                (true, _) => Some(false),
                (_, true) => Some(true),
                _ => None,
            },
            scopes: list(self.scopes),
            audiences: list(self.audiences),
            jwks,
            backchannel_logout_uri: self.backchannel_logout_uri,
            always_refresh: self.always_refresh,
            require_pkce: self.require_pkce,
            require_mfa: self.require_mfa,
            require_par: self.require_par,
            require_dpop: self.require_dpop,
            access_token_ttl_secs: self.access_token_ttl,
            refresh_idle_ttl_secs: self.refresh_idle_ttl,
            refresh_absolute_ttl_secs: self.refresh_absolute_ttl,
            jwks_uri: self.jwks_uri,
            request_uris: list(self.request_uris),
            subject_type: self.subject_type,
            sector_identifier_uri: self.sector_identifier_uri,
            logo_uri: self.logo_uri,
            policy_uri: self.policy_uri,
            tos_uri: self.tos_uri,
            userinfo_signed_response_alg: self.userinfo_signed_response_alg,
            ..ClientSettings::default()
        })
    }
}

pub async fn run(config: &Config, cmd: ClientCommand, now: i64) -> anyhow::Result<()> {
    let store = open_store(config).await?;
    // The CLI checks a sector document as registration does, under the same guard.
    let outbound = crate::outbound::Outbound::new(&config.outbound)?;
    match cmd {
        ClientCommand::Create(args) => {
            let settings = ClientSettings {
                name: Some(args.name),
                client_id: args.client_id,
                public: Some(args.public),
                ..args.settings.into_shared()?
            };
            let issued = service::create(&store, &outbound, settings, now)
                .await
                .map_err(cli_error)?;
            print_created(&issued.client, issued.secret.as_deref(), args.json);
            Ok(())
        }
        ClientCommand::Update(args) => {
            let settings = ClientSettings {
                name: args.name,
                ..args.settings.into_shared()?
            };
            let issued = service::update(&store, &outbound, &args.client_id, settings, args.rotate_secret)
                .await
                .map_err(cli_error)?;
            println!("updated client {}", issued.client.id);
            if let Some(secret) = issued.secret {
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
            let client = service::show(&store, &client_id).await.map_err(cli_error)?;
            if json {
                println!("{}", client_json(&client));
            } else {
                println!("{}", serde_json::to_string_pretty(&client_json(&client))?);
            }
            Ok(())
        }
        ClientCommand::Delete { client_id } => {
            service::delete(&store, &client_id).await.map_err(cli_error)?;
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
    serde_json::to_value(ClientView::from(client)).unwrap_or_default()
}

/// The service's refusal as the CLI prints it.
fn cli_error(e: ClientError) -> anyhow::Error {
    match e {
        ClientError::Internal(e) => e,
        other => anyhow::anyhow!("{other}"),
    }
}
