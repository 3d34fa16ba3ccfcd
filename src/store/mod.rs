//! The database. All SQL lives under this module. One portable dialect runs on SQLite
//! and PostgreSQL through sqlx's `Any` driver: `$n` placeholders, TEXT ids, BIGINT unix
//! seconds and flags, and single-use consumption as `UPDATE … WHERE consumed_at IS NULL
//! RETURNING`, which lets the database pick exactly one winner of any race.

pub mod accounts;
pub mod audit;
pub mod clients;
pub mod codes;
pub mod consents;
pub mod device_codes;
pub mod dpop;
pub mod email_tokens;
pub mod factors;
pub mod federation;
pub mod grants;
pub mod logout;
pub mod mail;
pub mod outbox;
pub mod pairwise;
pub mod passkeys;
pub mod registrations;
pub mod requests;
pub mod sessions;
pub mod signing_keys;
pub mod stats;
pub mod tokens;

use anyhow::Context;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, Executor};
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
}

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

impl Store {
    /// Opens the database named by `url`, creating a SQLite file (and its directory) when
    /// missing. Does not migrate; see [`Store::migrate`].
    pub async fn connect(url: &str) -> anyhow::Result<Store> {
        Self::connect_with(url, &crate::config::DatabaseSettings::default()).await
    }

    /// As [`Store::connect`], with the pool sized and bounded by `settings`.
    pub async fn connect_with(url: &str, settings: &crate::config::DatabaseSettings) -> anyhow::Result<Store> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else {
            Backend::Postgres
        };
        let url = match backend {
            Backend::Sqlite => prepare_sqlite_url(url)?,
            Backend::Postgres => url.to_string(),
        };
        let options = AnyConnectOptions::from_str(&url).context("invalid `database_url`")?;
        let pool = AnyPoolOptions::new()
            .max_connections(settings.max_connections)
            .acquire_timeout(Duration::from_secs(settings.acquire_timeout_secs))
            .after_connect(move |conn, _meta| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        // WAL lets readers run beside the writer; FULL sync makes every
                        // acknowledged commit survive power loss; foreign keys are off by
                        // default in SQLite; the busy timeout turns writer contention
                        // into waiting rather than errors.
                        conn.execute(
                            "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; \
                             PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000;",
                        )
                        .await?;
                    }
                    Ok(())
                })
            })
            .connect_with(options)
            .await
            .with_context(|| format!("cannot open the database at {}", redact_url(&url)))?;
        Ok(Store { pool, backend })
    }

    /// Applies pending migrations from `migrations/<backend>`. On PostgreSQL, sqlx holds an
    /// advisory lock meanwhile, so instances starting together migrate once.
    pub async fn migrate(&self) -> anyhow::Result<()> {
        self.migrator()
            .run(&self.pool)
            .await
            .context("database migration failed")
    }

    /// Migrations not yet applied, as `version description`, without applying any.
    pub async fn pending_migrations(&self) -> anyhow::Result<Vec<String>> {
        let migrator = self.migrator();
        // No bookkeeping table yet means nothing was ever applied.
        let applied: Vec<i64> = sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success")
            .fetch_all(&self.pool)
            .await
            .unwrap_or_default();
        Ok(migrator
            .iter()
            .filter(|m| !applied.contains(&m.version))
            .map(|m| format!("{} {}", m.version, m.description))
            .collect())
    }

    fn migrator(&self) -> &'static sqlx::migrate::Migrator {
        match self.backend {
            Backend::Sqlite => &SQLITE_MIGRATIONS,
            Backend::Postgres => &POSTGRES_MIGRATIONS,
        }
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// A cheap round trip, for readiness checks.
    pub async fn ping(&self) -> Result<(), sqlx::Error> {
        sqlx::query("SELECT 1").execute(&self.pool).await.map(|_| ())
    }

    pub async fn close(&self) {
        self.pool.close().await
    }
}

/// True when `err` is a unique-constraint violation (a duplicate username, say).
pub fn is_unique_violation(err: &sqlx::Error) -> bool {
    err.as_database_error()
        .is_some_and(|db| db.kind() == sqlx::error::ErrorKind::UniqueViolation)
}

fn prepare_sqlite_url(url: &str) -> anyhow::Result<String> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .unwrap_or(url);
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    if path.is_empty() || path == ":memory:" {
        anyhow::bail!(
            "invalid `database_url`: in-memory SQLite gives each pooled connection its own database; use a file path"
        );
    }
    if let Some(dir) = Path::new(path).parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create the database directory {}", dir.display()))?;
    }
    let query = if query.split('&').any(|kv| kv.starts_with("mode=")) {
        query.to_string()
    } else if query.is_empty() {
        "mode=rwc".to_string()
    } else {
        format!("{query}&mode=rwc")
    };
    Ok(format!("sqlite://{path}?{query}"))
}

/// The URL without its password, for messages.
pub fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_urls_get_create_mode() {
        assert!(prepare_sqlite_url("sqlite::memory:").is_err());
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/sub/g.db", dir.path().display());
        assert!(prepare_sqlite_url(&url).unwrap().ends_with("/sub/g.db?mode=rwc"));
        assert!(dir.path().join("sub").is_dir());
    }

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(redact_url("postgres://u:pw@h/db"), "postgres://u:***@h/db");
    }
}
