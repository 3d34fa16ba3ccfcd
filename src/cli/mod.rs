//! The command line: `gatehouse serve` and the administration commands an operator runs
//! on the host (clients, users, keys, migrations). Flags override `GATEHOUSE_*`
//! environment variables, which override `gatehouse.toml`.

mod client;
mod registration;

use crate::admin::keys::{self as admin_keys, KeyError};
use crate::admin::users::{self as admin_users, NewUser, UserError};
use crate::clock::Clock;
use crate::config::{Config, Overrides};
use crate::keys::Keys;
use crate::password::PasswordHasherPool;
use crate::store::{self, Store};
use crate::{telemetry, App};
use anyhow::{bail, Context};
use clap::{Parser, Subcommand};
use secrecy::ExposeSecret;
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
    Migrate {
        /// Apply nothing; exit non-zero when migrations are pending (for deploy pipelines)
        #[arg(long)]
        check: bool,
    },
    /// Manage signing keys
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Manage registered clients (relying parties)
    #[command(subcommand)]
    Client(Box<client::ClientCommand>),
    /// Manage user accounts
    #[command(subcommand)]
    User(UserCommand),
    /// Dynamic Client Registration: initial access tokens
    #[command(subcommand)]
    Registration(registration::RegistrationCommand),
}

#[derive(Subcommand, Debug)]
enum KeysCommand {
    /// List keys with their state
    List,
    /// Add a key: published at once, signing after `keys.rotation_delay_secs`
    Rotate,
    /// Retire a key: it stops signing and leaves the JWKS (tokens it signed stop verifying)
    Retire {
        /// A key id is a base64url thumbprint and may well start with `-`.
        #[arg(allow_hyphen_values = true)]
        kid: String,
        /// Retire even though tokens it signed may still be valid
        #[arg(long)]
        force: bool,
    },
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
    /// Give a user the admin role: a first-party app allowed the gatehouse:admin scope
    /// then gets it for them
    GrantAdmin { username: String },
    /// Take the admin role away (their admin tokens stop working at once)
    RevokeAdmin { username: String },
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
        Command::Migrate { check } => {
            let store = Store::connect_with(config.database_url.expose_secret(), &config.database).await?;
            if check {
                let pending = store.pending_migrations().await?;
                if !pending.is_empty() {
                    anyhow::bail!(
                        "{} migration(s) pending: {}; run `gatehouse migrate`",
                        pending.len(),
                        pending.join(", ")
                    );
                }
                println!(
                    "database {} is up to date",
                    store::redact_url(config.database_url.expose_secret())
                );
                return Ok(());
            }
            store.migrate().await?;
            println!(
                "database {} is up to date",
                store::redact_url(config.database_url.expose_secret())
            );
            Ok(())
        }
        Command::Keys(cmd) => keys_command(&config, cmd, clock.now()).await,
        Command::Client(cmd) => client::run(&config, *cmd, clock.now()).await,
        Command::Registration(cmd) => registration::run(&config, cmd, clock.now()).await,
        Command::User(cmd) => user_command(&config, cmd, clock.now()).await,
    }
}

async fn serve(config: Config, clock: Clock) -> anyhow::Result<()> {
    let app = App::build(config.clone(), clock).await?;
    let addr = app.local_addr()?;
    let data = if config.database_url.expose_secret().starts_with("sqlite:") {
        config.database_url.expose_secret().to_string()
    } else {
        store::redact_url(config.database_url.expose_secret())
    };
    if config.log_format == crate::config::LogFormat::Human {
        println!(
            "Gatehouse is listening on {}://{addr}",
            if config.tls.cert_file.is_some() {
                "https"
            } else {
                "http"
            }
        );
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

async fn keys_command(config: &Config, cmd: KeysCommand, now: i64) -> anyhow::Result<()> {
    let store = open_store(config).await?;
    let keys = Keys::open(&store, config, now).await?;
    let cli_error = |e: KeyError| match e {
        KeyError::Internal(e) => e,
        other => anyhow::anyhow!("{other}"),
    };
    match cmd {
        KeysCommand::List => {
            println!("{:<44} {:<10} {:>12} {:>12}", "KID", "STATE", "CREATED", "SIGNS FROM");
            for key in admin_keys::list(&keys, now).await.map_err(cli_error)? {
                println!(
                    "{:<44} {:<10} {:>12} {:>12}",
                    key.kid, key.state, key.created_at, key.signing_from
                );
            }
            Ok(())
        }
        KeysCommand::Rotate => {
            let key = admin_keys::rotate(&keys, config, now).await.map_err(cli_error)?;
            println!(
                "added key {} (published now, signing from unix time {})",
                key.kid, key.signing_from
            );
            println!("every running instance publishes it within seconds");
            Ok(())
        }
        KeysCommand::Retire { kid, force } => {
            if let Some(why) = admin_keys::retire(&keys, config, &kid, force, now)
                .await
                .map_err(cli_error)?
            {
                eprintln!("warning: {why}");
            }
            println!("retired key {kid}; every running instance stops publishing it within seconds");
            Ok(())
        }
    }
}

pub(crate) async fn open_store(config: &Config) -> anyhow::Result<Store> {
    let store = Store::connect_with(config.database_url.expose_secret(), &config.database).await?;
    store.migrate().await?;
    Ok(store)
}

async fn user_command(config: &Config, cmd: UserCommand, now: i64) -> anyhow::Result<()> {
    let (username, email, given_name, family_name) = match cmd {
        UserCommand::Create {
            username,
            email,
            given_name,
            family_name,
            password_stdin: _,
        } => (username, email, given_name, family_name),
        UserCommand::GrantAdmin { username } => return set_admin(config, &username, true, now).await,
        UserCommand::RevokeAdmin { username } => return set_admin(config, &username, false, now).await,
    };
    let mut password = String::new();
    std::io::stdin()
        .read_to_string(&mut password)
        .context("cannot read the password from stdin")?;
    let password = password.trim_end_matches(['\r', '\n']).to_string();
    let new = NewUser {
        username,
        email,
        given_name,
        family_name,
        password: password.into(),
    };
    let store = open_store(config).await?;
    let hasher = PasswordHasherPool::new(&config.password_hashing)?;
    let id = admin_users::create(&store, &hasher, new, now)
        .await
        .map_err(|e| match e {
            UserError::App(e) => anyhow::Error::from(e),
            other => anyhow::anyhow!("{other}"),
        })?;
    let username = store.account_by_id(&id).await?.map(|a| a.username).unwrap_or_default();
    println!("created user {username} (sub {id})");
    Ok(())
}

async fn set_admin(config: &Config, username: &str, admin: bool, now: i64) -> anyhow::Result<()> {
    let store = open_store(config).await?;
    if !store.set_admin(username, admin, now).await? {
        bail!("no user with username {username:?}");
    }
    match admin {
        true => println!("{username} is now an admin"),
        false => println!("{username} is no longer an admin"),
    }
    Ok(())
}
