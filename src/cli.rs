//! The command line: `gatehouse serve` and the administration commands an operator runs
//! on the host (clients, users, keys, migrations). Flags override `GATEHOUSE_*`
//! environment variables, which override `gatehouse.toml`.

use crate::accounts::{self, password::PasswordHasherPool};
use crate::clients::{self, Client};
use crate::clock::Clock;
use crate::config::{Config, Overrides};
use crate::keys::{self, KeySet};
use crate::secrets;
use crate::store::{self, accounts::NewAccount, Store};
use crate::{telemetry, App};
use anyhow::{bail, Context};
use clap::{Args, Parser, Subcommand};
use serde_json::json;
use std::io::Read;
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(
    name = "gatehouse",
    version,
    about = "A self-hostable OpenID Connect identity provider"
)]
pub struct Cli {
    /// Configuration file [default: ./gatehouse.toml if present]
    #[arg(long, global = true, env = "GATEHOUSE_CONFIG")]
    config: Option<PathBuf>,
    /// Address to listen on, e.g. 0.0.0.0:8080
    #[arg(long, global = true)]
    listen: Option<String>,
    /// Public base URL, exactly as it appears in tokens' `iss`
    #[arg(long, global = true)]
    issuer: Option<String>,
    /// sqlite://path/to/file.db or postgres://user:pass@host/db
    #[arg(long, global = true)]
    database_url: Option<String>,
    /// Directory holding the signing keys
    #[arg(long, global = true)]
    keys_dir: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the server (the default)
    Serve,
    /// Apply database migrations and exit
    Migrate,
    /// Manage signing keys
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Manage registered clients (relying parties)
    #[command(subcommand)]
    Client(ClientCommand),
    /// Manage user accounts
    #[command(subcommand)]
    User(UserCommand),
}

#[derive(Subcommand, Debug)]
enum KeysCommand {
    /// List keys with their state
    List,
    /// Add a key: published at once, signing after `keys.rotation_delay_secs`
    Rotate,
    /// Retire a key: it stops signing and leaves the JWKS (tokens it signed stop verifying)
    Retire { kid: String },
}

#[derive(Subcommand, Debug)]
enum ClientCommand {
    /// Register a client; prints its id and, for confidential clients, its secret (once)
    Create(CreateClient),
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
struct CreateClient {
    /// Name shown to users
    #[arg(long)]
    name: String,
    /// Allowed redirect URI (repeatable); matched exactly
    #[arg(long = "redirect-uri", required = true)]
    redirect_uris: Vec<String>,
    /// A public client (SPA, mobile, CLI): no secret, PKCE required
    #[arg(long)]
    public: bool,
    /// Allowed post-logout redirect URI (repeatable)
    #[arg(long = "post-logout-redirect-uri")]
    post_logout_redirect_uris: Vec<String>,
    /// Choose the client_id instead of a random one
    #[arg(long)]
    client_id: Option<String>,
    /// Require PKCE of this confidential client too
    #[arg(long)]
    require_pkce: bool,
    /// Print JSON
    #[arg(long)]
    json: bool,
}

#[derive(Subcommand, Debug)]
enum UserCommand {
    /// Create an account (email counts as verified); reads the password from stdin
    Create {
        #[arg(long)]
        username: String,
        #[arg(long)]
        email: String,
        #[arg(long)]
        given_name: Option<String>,
        #[arg(long)]
        family_name: Option<String>,
        /// Read the password from standard input (required: never pass it as an argument)
        #[arg(long, required = true)]
        password_stdin: bool,
    },
}

impl Cli {
    fn overrides(&self) -> Overrides {
        Overrides {
            listen: self.listen.clone(),
            issuer: self.issuer.clone(),
            database_url: self.database_url.clone(),
            keys_dir: self.keys_dir.clone(),
        }
    }
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let config = Config::load(cli.config.as_deref(), cli.overrides())?;
    telemetry::init(config.log_format);
    let clock = Clock::system();
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(config, clock).await,
        Command::Migrate => {
            let store = Store::connect(&config.database_url).await?;
            store.migrate().await?;
            println!(
                "database {} is up to date",
                store::redact_url(&config.database_url)
            );
            Ok(())
        }
        Command::Keys(cmd) => keys_command(&config, cmd, clock.now()),
        Command::Client(cmd) => client_command(&config, cmd, clock.now()).await,
        Command::User(cmd) => user_command(&config, cmd, clock.now()).await,
    }
}

async fn serve(config: Config, clock: Clock) -> anyhow::Result<()> {
    let app = App::build(config.clone(), clock).await?;
    let addr = app.local_addr()?;
    let data = if config.database_url.starts_with("sqlite:") {
        config.database_url.clone()
    } else {
        store::redact_url(&config.database_url)
    };
    if config.log_format == crate::config::LogFormat::Human {
        println!("Gatehouse is listening on http://{addr}");
        println!("  issuer:    {}", config.issuer_str());
        println!("  discovery: {}", config.url_for(crate::oauth::DISCOVERY));
        println!("  database:  {data}");
        println!("  keys:      {}", config.keys_dir.display());
    }
    tracing::info!(
        %addr,
        issuer = config.issuer_str(),
        discovery = config.url_for(crate::oauth::DISCOVERY),
        database = data,
        keys = %config.keys_dir.display(),
        "listening"
    );
    app.serve().await
}

fn keys_command(config: &Config, cmd: KeysCommand, now: i64) -> anyhow::Result<()> {
    let dir = &config.keys_dir;
    match cmd {
        KeysCommand::List => {
            let set = KeySet::load_or_init(dir, config.keys.rsa_bits, now)?;
            println!(
                "{:<44} {:<10} {:>12} {:>12}",
                "KID", "STATE", "CREATED", "SIGNS FROM"
            );
            for meta in set.metas() {
                let state = match meta.retired_at {
                    Some(_) => "retired",
                    None if meta.signing_from > now => "published",
                    None => "active",
                };
                println!(
                    "{:<44} {:<10} {:>12} {:>12}",
                    meta.kid, state, meta.created_at, meta.signing_from
                );
            }
            Ok(())
        }
        KeysCommand::Rotate => {
            let from = now + config.keys.rotation_delay_secs;
            let meta = keys::generate(dir, config.keys.rsa_bits, now, from)?;
            println!(
                "added key {} (published now, signing from unix time {from})",
                meta.kid
            );
            println!("running servers pick it up when restarted");
            Ok(())
        }
        KeysCommand::Retire { kid } => {
            let meta = keys::retire(dir, &kid, now)?;
            println!("retired key {}", meta.kid);
            Ok(())
        }
    }
}

async fn open_store(config: &Config) -> anyhow::Result<Store> {
    let store = Store::connect(&config.database_url).await?;
    store.migrate().await?;
    Ok(store)
}

async fn client_command(config: &Config, cmd: ClientCommand, now: i64) -> anyhow::Result<()> {
    let store = open_store(config).await?;
    match cmd {
        ClientCommand::Create(args) => {
            for uri in args
                .redirect_uris
                .iter()
                .chain(&args.post_logout_redirect_uris)
            {
                clients::validate_redirect_uri(uri)
                    .map_err(|e| anyhow::anyhow!("invalid redirect URI: {e}"))?;
            }
            let id = args.client_id.unwrap_or_else(secrets::random_id);
            if id.is_empty()
                || id.len() > 128
                || id
                    .chars()
                    .any(|c| c.is_whitespace() || c.is_control() || c == ':')
            {
                bail!("invalid client id {id:?}: 1-128 characters, no spaces, control characters or ':'");
            }
            let secret = (!args.public).then(clients::generate_secret);
            let client = Client {
                id,
                name: args.name,
                secret_hash: secret.as_deref().map(secrets::digest),
                redirect_uris: args.redirect_uris,
                post_logout_redirect_uris: args.post_logout_redirect_uris,
                require_pkce: args.require_pkce,
                created_at: now,
            };
            store.create_client(&client).await.map_err(|e| {
                if store::is_unique_violation(&e) {
                    anyhow::anyhow!("a client with id {:?} already exists", client.id)
                } else {
                    e.into()
                }
            })?;
            if args.json {
                let mut out = client_json(&client);
                if let Some(secret) = &secret {
                    out["client_secret"] = secret.clone().into();
                }
                println!("{out}");
            } else {
                println!("client_id:     {}", client.id);
                match &secret {
                    Some(secret) => {
                        println!("client_secret: {secret}");
                        println!("Store the secret now: it is not kept and cannot be shown again.");
                    }
                    None => println!("public client: no secret; PKCE (S256) is required"),
                }
            }
            Ok(())
        }
        ClientCommand::List { json } => {
            let all = store.clients().await?;
            if json {
                println!(
                    "{}",
                    serde_json::Value::Array(all.iter().map(client_json).collect())
                );
            } else {
                println!(
                    "{:<24} {:<12} {:<24} REDIRECT URIS",
                    "CLIENT ID", "TYPE", "NAME"
                );
                for c in &all {
                    let kind = if c.is_public() {
                        "public"
                    } else {
                        "confidential"
                    };
                    println!(
                        "{:<24} {:<12} {:<24} {}",
                        c.id,
                        kind,
                        c.name,
                        c.redirect_uris.join(" ")
                    );
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
                println!("client_id:     {}", client.id);
                println!("name:          {}", client.name);
                println!(
                    "type:          {}",
                    if client.is_public() {
                        "public"
                    } else {
                        "confidential"
                    }
                );
                println!("require_pkce:  {}", client.pkce_required());
                for uri in &client.redirect_uris {
                    println!("redirect_uri:  {uri}");
                }
                for uri in &client.post_logout_redirect_uris {
                    println!("post_logout:   {uri}");
                }
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

fn client_json(client: &Client) -> serde_json::Value {
    json!({
        "client_id": client.id,
        "name": client.name,
        "public": client.is_public(),
        "require_pkce": client.pkce_required(),
        "redirect_uris": client.redirect_uris,
        "post_logout_redirect_uris": client.post_logout_redirect_uris,
        "created_at": client.created_at,
    })
}

async fn user_command(config: &Config, cmd: UserCommand, now: i64) -> anyhow::Result<()> {
    let UserCommand::Create {
        username,
        email,
        given_name,
        family_name,
        password_stdin: _,
    } = cmd;
    let username = accounts::validate_username(&username)
        .map_err(|e| anyhow::anyhow!("invalid --username: {e}"))?;
    let email =
        accounts::validate_email(&email).map_err(|e| anyhow::anyhow!("invalid --email: {e}"))?;
    let mut password = String::new();
    std::io::stdin()
        .read_to_string(&mut password)
        .context("cannot read the password from stdin")?;
    let password = password.trim_end_matches(['\r', '\n']);
    if password.chars().count() < 8 {
        bail!("the password must be at least 8 characters");
    }
    if password.len() > accounts::password::MAX_PASSWORD_BYTES {
        bail!("the password is too long");
    }
    let store = open_store(config).await?;
    let hasher = PasswordHasherPool::new(&config.password_hashing)?;
    let hash = hasher.hash(password).await?;
    let id = secrets::random_id();
    let new = NewAccount {
        id: &id,
        username: &username,
        email: &email,
        email_verified: true,
        given_name: given_name.as_deref().unwrap_or_default(),
        family_name: family_name.as_deref().unwrap_or_default(),
        password_hash: &hash,
    };
    store.create_account(&new, now).await.map_err(|e| {
        if store::is_unique_violation(&e) {
            anyhow::anyhow!("that username or email is already taken")
        } else {
            e.into()
        }
    })?;
    println!("created user {username} (sub {id})");
    Ok(())
}
