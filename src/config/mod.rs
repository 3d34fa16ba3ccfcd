//! Configuration: `gatehouse.toml` (optional) < `GATEHOUSE_*` environment < CLI flags,
//! parsed once into [`RawConfig`] and validated into the typed [`Config`] the rest of the
//! program uses. Nothing reads the environment after startup.

use anyhow::{anyhow, bail, Context};
use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use url::Url;

pub mod outbound;
pub mod registration;
pub mod upstream;

pub use outbound::OutboundSettings;
pub use registration::{RegistrationMode, RegistrationSettings};
pub use upstream::{RawUpstream, Upstream, UpstreamKind};

/// Environment variables with the GATEHOUSE_ prefix that belong to the CLI or the test
/// harness (GATEHOUSE_TEST_*, GATEHOUSE_REQUIRE_*), not to the server's configuration.
const NON_CONFIG_ENV: &[&str] = &["config"];
/// `GATEHOUSE_UPSTREAM__<ID>__CLIENT_SECRET` is read by [`upstream::validate`]: the
/// `[[upstream]]` list is an array, which the environment cannot address by id.
const NON_CONFIG_ENV_PREFIXES: &[&str] = &["test_", "require_", "upstream__", "upstream."];

fn is_config_env(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    !NON_CONFIG_ENV.contains(&key.as_str()) && !NON_CONFIG_ENV_PREFIXES.iter().any(|p| key.starts_with(p))
}

/// What a user may write, before validation. Field names are the TOML keys; nested
/// sections are reached from the environment with `__`, e.g.
/// `GATEHOUSE_TOKENS__ACCESS_TOKEN_TTL_SECS=600`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawConfig {
    pub listen: String,
    /// Serve `/metrics` here instead of on `listen` (an address only operators reach).
    pub metrics_listen: Option<String>,
    pub issuer: String,
    pub database_url: String,
    pub keys_dir: PathBuf,
    pub templates_dir: Option<PathBuf>,
    pub log_format: LogFormat,
    pub product_name: String,
    pub tokens: TokenSettings,
    pub sessions: SessionSettings,
    pub keys: KeySettings,
    pub password_hashing: HashingSettings,
    pub mail: MailSettings,
    pub accounts: AccountSettings,
    pub branding: BrandingSettings,
    pub tls: TlsSettings,
    pub http: HttpSettings,
    pub database: DatabaseSettings,
    pub audit: AuditSettings,
    pub registration: RegistrationSettings,
    pub dpop: DpopSettings,
    pub outbound: OutboundSettings,
    /// `[[upstream]]`: providers to sign in with.
    pub upstream: Vec<RawUpstream>,
}

impl Default for RawConfig {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8080".into(),
            metrics_listen: None,
            issuer: "http://127.0.0.1:8080".into(),
            database_url: "sqlite://data/gatehouse.db".into(),
            keys_dir: "keys".into(),
            templates_dir: None,
            log_format: LogFormat::Human,
            product_name: "Gatehouse".into(),
            tokens: TokenSettings::default(),
            sessions: SessionSettings::default(),
            keys: KeySettings::default(),
            password_hashing: HashingSettings::default(),
            mail: MailSettings::default(),
            accounts: AccountSettings::default(),
            branding: BrandingSettings::default(),
            tls: TlsSettings::default(),
            http: HttpSettings::default(),
            database: DatabaseSettings::default(),
            audit: AuditSettings::default(),
            registration: RegistrationSettings::default(),
            dpop: DpopSettings::default(),
            outbound: OutboundSettings::default(),
            upstream: Vec::new(),
        }
    }
}

/// Serve https directly (no proxy in front): both files, or neither.
/// Limits of the HTTP server itself (see `serve.rs`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpSettings {
    /// Open connections at once; more wait in the kernel's backlog until one closes.
    pub max_connections: usize,
    /// A client must send a request's whole head within this time (slowloris).
    pub header_read_timeout_secs: u64,
    /// The largest request head (request line and headers); 431 beyond it.
    pub max_head_bytes: usize,
}

impl Default for HttpSettings {
    fn default() -> Self {
        Self {
            max_connections: 1024,
            header_read_timeout_secs: 10,
            max_head_bytes: 16 * 1024,
        }
    }
}

/// The connection pool to the database.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseSettings {
    /// Connections this instance may hold. With several instances on one PostgreSQL, their
    /// sum must stay below the server's `max_connections`.
    pub max_connections: u32,
    /// How long a request waits for a free connection before it is answered 503.
    pub acquire_timeout_secs: u64,
}

impl Default for DatabaseSettings {
    fn default() -> Self {
        Self {
            max_connections: 10,
            acquire_timeout_secs: 5,
        }
    }
}

/// The audit trail (`src/audit.rs`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuditSettings {
    /// Events older than this many days are deleted by the janitor.
    pub retention_days: i64,
}

impl Default for AuditSettings {
    fn default() -> Self {
        Self { retention_days: 90 }
    }
}

/// Sender-constrained tokens (DPoP, RFC 9449).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DpopSettings {
    /// `/token` and `/par` accept a DPoP proof only with a nonce they issued (§8),
    /// answering `use_dpop_nonce` and a `DPoP-Nonce` header first: proofs cannot be made
    /// ahead.
    pub require_nonce: bool,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TlsSettings {
    /// PEM certificate chain, leaf first.
    pub cert_file: Option<PathBuf>,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1), mode 0600.
    pub key_file: Option<PathBuf>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MailSettings {
    /// The From header of every message.
    pub from: String,
    /// `smtps://user:pass@host:465` (implicit TLS), `smtp://user:pass@host:587?tls=required`
    /// (STARTTLS) or `smtp://host:25` (plain, for a local relay). Unset: messages are
    /// written as .eml files to `file_dir` instead.
    /// Carries credentials: never printed, never serialized back out.
    #[serde(skip_serializing)]
    pub smtp_url: Option<SecretString>,
    pub file_dir: PathBuf,
}

impl Default for MailSettings {
    fn default() -> Self {
        Self {
            from: "Gatehouse <no-reply@localhost>".into(),
            smtp_url: None,
            file_dir: "data/mail".into(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AccountSettings {
    /// Whether the sign-up page is open.
    pub signup_enabled: bool,
    /// Shortest password accepted, in characters (NIST SP 800-63B: at least 8).
    pub password_min_length: usize,
    /// Attempts per client IP per minute on login, signup, resend and forgot-password.
    pub rate_limit_per_minute: u32,
    /// The same attempts from all clients together per minute (credential stuffing from
    /// many addresses); 429 for everyone beyond it.
    pub global_rate_limit_per_minute: u32,
    /// Authorization requests per client IP per minute that may wait for a sign-in (each
    /// is stored until the login page finishes); beyond it /authorize answers
    /// `temporarily_unavailable`.
    pub parked_requests_per_minute: u32,
    /// Link mails per recipient per hour (confirmations, resets, email changes); security
    /// notices to an account's owner have their own, higher cap.
    pub mail_per_recipient_per_hour: u32,
    /// Proxies whose X-Forwarded-For is believed (exact IP addresses).
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// Every sign-in needs a second factor (an authenticator app or a passkey); users
    /// without one set one up before they continue.
    pub require_mfa: bool,
}

impl Default for AccountSettings {
    fn default() -> Self {
        Self {
            signup_enabled: true,
            password_min_length: 8,
            rate_limit_per_minute: 20,
            global_rate_limit_per_minute: 1200,
            parked_requests_per_minute: 120,
            mail_per_recipient_per_hour: 5,
            trusted_proxies: vec![],
            require_mfa: false,
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BrandingSettings {
    /// URL of a logo shown above every page (https, or a path on Gatehouse).
    pub logo_url: Option<String>,
    /// Accent colour as #rrggbb.
    pub accent_color: Option<String>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Human,
    Json,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TokenSettings {
    /// Authorization codes: RFC 6749 §4.1.2 says at most 10 minutes; 60 s is plenty.
    pub code_ttl_secs: i64,
    pub access_token_ttl_secs: i64,
    pub id_token_ttl_secs: i64,
    /// How long a sign-in that went to the login page may take before it must restart.
    pub authorization_request_ttl_secs: i64,
    /// A refresh token unused this long expires; each use starts the clock again.
    pub refresh_idle_ttl_secs: i64,
    /// A refresh token family ends this long after the sign-in, however active.
    pub refresh_absolute_ttl_secs: i64,
}

impl Default for TokenSettings {
    fn default() -> Self {
        Self {
            code_ttl_secs: 60,
            access_token_ttl_secs: 15 * 60,
            id_token_ttl_secs: 60 * 60,
            authorization_request_ttl_secs: 30 * 60,
            refresh_idle_ttl_secs: 14 * 24 * 3600,
            refresh_absolute_ttl_secs: 90 * 24 * 3600,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SessionSettings {
    /// A session unused for this long ends.
    pub idle_ttl_secs: i64,
    /// A session ends this long after login, however active.
    pub absolute_ttl_secs: i64,
}

impl Default for SessionSettings {
    fn default() -> Self {
        Self {
            idle_ttl_secs: 3 * 24 * 3600,
            absolute_ttl_secs: 30 * 24 * 3600,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct KeySettings {
    /// A key added by `gatehouse keys rotate` is published at once but signs only after
    /// this delay, so verifiers that cache the JWKS have seen it first.
    pub rotation_delay_secs: i64,
    /// RSA modulus size for new keys.
    pub rsa_bits: u32,
    /// The key-encryption key sealing the signing keys in the database: 32 random bytes,
    /// base64. Never printed, never serialized back out.
    #[serde(skip_serializing)]
    pub encryption_key: Option<SecretString>,
    /// A file (mode 0600) holding the same, base64.
    pub encryption_key_file: Option<PathBuf>,
}

impl Default for KeySettings {
    fn default() -> Self {
        Self {
            rotation_delay_secs: 3600,
            rsa_bits: 2048,
            encryption_key: None,
            encryption_key_file: None,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HashingSettings {
    /// argon2id memory cost in KiB (OWASP: 19456 with t=2, p=1).
    pub memory_kib: u32,
    pub iterations: u32,
    /// How many hashes may run at once; 0 means one per CPU core.
    pub max_concurrent: usize,
}

impl Default for HashingSettings {
    fn default() -> Self {
        Self {
            memory_kib: 19456,
            iterations: 2,
            max_concurrent: 0,
        }
    }
}

/// How long verifiers may cache the JWKS (its `Cache-Control: max-age`). A rotated-in
/// key must be published at least this long before it signs.
pub const JWKS_CACHE_SECS: i64 = 300;

/// Validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    /// `/metrics` on its own address; `None` serves it on `listen`.
    pub metrics_listen: Option<SocketAddr>,
    /// Issuer exactly as it appears in `iss`: no trailing slash.
    pub issuer: Url,
    /// May carry a password: printed as `[REDACTED]`.
    pub database_url: SecretString,
    pub keys_dir: PathBuf,
    pub templates_dir: Option<PathBuf>,
    pub log_format: LogFormat,
    pub product_name: String,
    pub tokens: TokenSettings,
    pub sessions: SessionSettings,
    pub keys: KeySettings,
    pub password_hashing: HashingSettings,
    pub mail: MailSettings,
    pub accounts: AccountSettings,
    pub branding: BrandingSettings,
    pub tls: TlsSettings,
    pub http: HttpSettings,
    pub database: DatabaseSettings,
    pub audit: AuditSettings,
    pub registration: RegistrationSettings,
    pub dpop: DpopSettings,
    pub outbound: OutboundSettings,
    pub upstreams: Vec<Upstream>,
}

/// CLI flags that override the file and the environment.
#[derive(Debug, Default, Serialize)]
pub struct Overrides {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listen: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keys_dir: Option<PathBuf>,
}

impl Config {
    /// Loads `file` (if it exists; an explicitly named file must exist), the environment,
    /// then `overrides`, and validates the result.
    pub fn load(file: Option<&Path>, overrides: Overrides) -> anyhow::Result<Config> {
        let default_file = Path::new("gatehouse.toml");
        let path = match file {
            Some(p) if !p.exists() => bail!("config file {} does not exist", p.display()),
            Some(p) => Some(p),
            None => default_file.exists().then_some(default_file),
        };
        let mut figment = Figment::from(Serialized::defaults(RawConfig::default()));
        if let Some(path) = path {
            figment = figment.merge(Toml::file_exact(path));
        }
        figment = figment
            .merge(
                Env::prefixed("GATEHOUSE_")
                    .split("__")
                    .filter(|key| is_config_env(key.as_str())),
            )
            .merge(Serialized::defaults(overrides));
        let raw: RawConfig = figment.extract().map_err(describe_figment_error)?;
        Config::from_raw(raw)
    }

    pub fn from_raw(raw: RawConfig) -> anyhow::Result<Config> {
        let listen: SocketAddr = raw.listen.parse().with_context(|| {
            format!(
                "invalid `listen` {:?}: expected host:port such as 127.0.0.1:8080",
                raw.listen
            )
        })?;
        let metrics_listen = match &raw.metrics_listen {
            None => None,
            Some(addr) => Some(addr.parse::<SocketAddr>().with_context(|| {
                format!("invalid `metrics_listen` {addr:?}: expected host:port such as 127.0.0.1:9090")
            })?),
        };
        let issuer = parse_issuer(&raw.issuer)?;
        let scheme = raw.database_url.split(':').next().unwrap_or_default();
        if !matches!(scheme, "sqlite" | "postgres" | "postgresql") {
            bail!("invalid `database_url`: scheme {scheme:?} is not supported (use sqlite://path or postgres://...)");
        }
        let positive = [
            ("tokens.code_ttl_secs", raw.tokens.code_ttl_secs),
            ("tokens.access_token_ttl_secs", raw.tokens.access_token_ttl_secs),
            ("tokens.id_token_ttl_secs", raw.tokens.id_token_ttl_secs),
            (
                "tokens.authorization_request_ttl_secs",
                raw.tokens.authorization_request_ttl_secs,
            ),
            ("tokens.refresh_idle_ttl_secs", raw.tokens.refresh_idle_ttl_secs),
            ("tokens.refresh_absolute_ttl_secs", raw.tokens.refresh_absolute_ttl_secs),
            ("sessions.idle_ttl_secs", raw.sessions.idle_ttl_secs),
            ("sessions.absolute_ttl_secs", raw.sessions.absolute_ttl_secs),
        ];
        for (key, value) in positive {
            if value <= 0 {
                bail!("invalid `{key}`: must be a positive number of seconds, got {value}");
            }
        }
        if raw.tokens.code_ttl_secs > 600 {
            bail!("invalid `tokens.code_ttl_secs`: RFC 6749 §4.1.2 allows at most 600 seconds");
        }
        if raw.keys.rotation_delay_secs < JWKS_CACHE_SECS {
            bail!(
                "invalid `keys.rotation_delay_secs`: at least {JWKS_CACHE_SECS}, the time verifiers may cache the JWKS, so a new key is known everywhere before it signs"
            );
        }
        if raw.keys.rsa_bits < 2048 || raw.keys.rsa_bits > 8192 {
            bail!("invalid `keys.rsa_bits`: must be between 2048 and 8192");
        }
        if raw.tls.cert_file.is_some() != raw.tls.key_file.is_some() {
            bail!("invalid `tls`: set both `tls.cert_file` and `tls.key_file`, or neither");
        }
        if raw.tls.cert_file.is_some() && !raw.issuer.starts_with("https://") {
            bail!("invalid `issuer`: serving TLS (`tls.cert_file`) needs an https issuer");
        }
        if raw.accounts.password_min_length < 8 {
            bail!("invalid `accounts.password_min_length`: NIST SP 800-63B asks for at least 8");
        }
        if let Some(color) = &raw.branding.accent_color {
            let ok = color.len() == 7 && color.starts_with('#') && color[1..].chars().all(|c| c.is_ascii_hexdigit());
            if !ok {
                bail!("invalid `branding.accent_color` {color:?}: use #rrggbb");
            }
        }
        if let Some(url) = raw.mail.smtp_url.as_ref().map(ExposeSecret::expose_secret) {
            if !(url.starts_with("smtp://") || url.starts_with("smtps://")) {
                bail!("invalid `mail.smtp_url`: use smtp://host:port or smtps://host:port");
            }
        }
        if raw.http.max_connections == 0 || raw.http.header_read_timeout_secs == 0 {
            bail!("invalid `http`: max_connections and header_read_timeout_secs must be at least 1");
        }
        if raw.database.max_connections == 0 || raw.database.acquire_timeout_secs == 0 {
            bail!("invalid `database`: max_connections and acquire_timeout_secs must be at least 1");
        }
        if raw.audit.retention_days < 1 {
            bail!(
                "invalid `audit.retention_days`: at least 1, got {}",
                raw.audit.retention_days
            );
        }
        if raw.outbound.timeout_secs == 0 || raw.outbound.max_bytes < 1024 {
            bail!("invalid `outbound`: timeout_secs must be at least 1 and max_bytes at least 1024");
        }
        if raw.http.max_head_bytes < 8 * 1024 {
            bail!("invalid `http.max_head_bytes`: at least 8192");
        }
        if raw.password_hashing.memory_kib < 8 * 1024 || raw.password_hashing.iterations == 0 {
            bail!("invalid `password_hashing`: memory_kib must be at least 8192 and iterations at least 1");
        }
        let upstreams = upstream::validate(&raw.upstream, &|id| std::env::var(upstream::secret_env_name(id)).ok())?;
        Ok(Config {
            upstreams,
            listen,
            metrics_listen,
            issuer,
            database_url: raw.database_url.into(),
            keys_dir: raw.keys_dir,
            templates_dir: raw.templates_dir,
            log_format: raw.log_format,
            product_name: raw.product_name,
            tokens: raw.tokens,
            sessions: raw.sessions,
            keys: raw.keys,
            password_hashing: raw.password_hashing,
            mail: raw.mail,
            accounts: raw.accounts,
            branding: raw.branding,
            tls: raw.tls,
            http: raw.http,
            database: raw.database,
            audit: raw.audit,
            registration: raw.registration,
            dpop: raw.dpop,
            outbound: raw.outbound,
        })
    }

    /// The issuer as a string without a trailing slash, as it appears in `iss`.
    pub fn issuer_str(&self) -> &str {
        self.issuer.as_str().trim_end_matches('/')
    }

    /// An absolute URL for one of our paths.
    pub fn url_for(&self, path: &str) -> String {
        format!("{}{}", self.issuer_str(), path)
    }

    pub fn is_https(&self) -> bool {
        self.issuer.scheme() == "https"
    }
}

fn parse_issuer(raw: &str) -> anyhow::Result<Url> {
    let url = Url::parse(raw).with_context(|| format!("invalid `issuer` {raw:?}: not an absolute URL"))?;
    if url.query().is_some() || url.fragment().is_some() {
        bail!("invalid `issuer` {raw:?}: OpenID Connect Discovery §3 forbids a query or fragment");
    }
    match url.scheme() {
        "https" => {}
        "http" if is_loopback_host(&url) => {}
        _ => bail!("invalid `issuer` {raw:?}: must be https (http is allowed only for localhost / 127.0.0.1)"),
    }
    if raw.ends_with('/') {
        bail!("invalid `issuer` {raw:?}: remove the trailing slash (iss must match it exactly)");
    }
    Ok(url)
}

/// True for `localhost`, 127.0.0.0/8 and `[::1]`: the hosts where plain http is acceptable.
pub fn is_loopback_host(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

fn describe_figment_error(err: figment::Error) -> anyhow::Error {
    let mut parts = Vec::new();
    for e in err {
        let key = if e.path.is_empty() {
            String::new()
        } else {
            format!(" `{}`", e.path.join("."))
        };
        let source = e
            .metadata
            .as_ref()
            .map(|m| format!(" (from {})", m.name))
            .unwrap_or_default();
        parts.push(format!("invalid configuration{key}{source}: {}", e.kind));
    }
    anyhow!(parts.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        let config = Config::from_raw(RawConfig::default()).unwrap();
        assert_eq!(config.issuer_str(), "http://127.0.0.1:8080");
        assert_eq!(config.listen.to_string(), "127.0.0.1:8080");
    }

    #[test]
    fn a_rotated_key_must_be_published_for_the_jwks_cache_period_checklist_b7() {
        let mut raw = RawConfig::default();
        raw.keys.rotation_delay_secs = JWKS_CACHE_SECS - 1;
        let err = Config::from_raw(raw.clone()).unwrap_err().to_string();
        assert!(err.contains("keys.rotation_delay_secs"), "{err}");
        raw.keys.rotation_delay_secs = JWKS_CACHE_SECS;
        assert!(Config::from_raw(raw).is_ok());
    }

    #[test]
    fn issuer_rules() {
        for bad in [
            "http://example.com",
            "https://a.example/?x=1",
            "https://a.example/",
            "not a url",
        ] {
            let raw = RawConfig {
                issuer: bad.into(),
                ..RawConfig::default()
            };
            let err = Config::from_raw(raw).unwrap_err().to_string();
            assert!(err.contains("`issuer`"), "{bad}: {err}");
        }
        let raw = RawConfig {
            issuer: "https://id.example.com/tenant".into(),
            ..RawConfig::default()
        };
        let config = Config::from_raw(raw).unwrap();
        assert_eq!(config.url_for("/token"), "https://id.example.com/tenant/token");
    }

    #[test]
    fn audit_retention_is_at_least_a_day() {
        assert_eq!(Config::from_raw(RawConfig::default()).unwrap().audit.retention_days, 90);
        let mut raw = RawConfig::default();
        raw.audit.retention_days = 0;
        let err = Config::from_raw(raw).unwrap_err().to_string();
        assert!(err.contains("audit.retention_days"), "{err}");
    }

    #[test]
    fn bad_database_scheme_names_the_key() {
        let raw = RawConfig {
            database_url: "mysql://x".into(),
            ..RawConfig::default()
        };
        assert!(Config::from_raw(raw)
            .unwrap_err()
            .to_string()
            .contains("`database_url`"));
    }

    #[test]
    fn upstreams_load_from_toml_with_the_secret_from_the_environment() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("gatehouse.toml");
        std::fs::write(
            &path,
            "[[upstream]]\nid = \"corp-sso\"\nkind = \"oidc\"\nname = \"Corp SSO\"\n\
             issuer = \"https://sso.corp.example\"\nclient_id = \"gatehouse\"\n\n\
             [[upstream]]\nid = \"google\"\nkind = \"google\"\nclient_id = \"x.apps.googleusercontent.com\"\n\
             hosted_domain = \"example.com\"\n",
        )
        .unwrap();
        // The array cannot be reached through GATEHOUSE_UPSTREAM__…, so figment must not try.
        std::env::set_var("GATEHOUSE_UPSTREAM__CORP_SSO__CLIENT_SECRET", "from-env");
        let config = Config::load(Some(&path), Overrides::default()).unwrap();
        std::env::remove_var("GATEHOUSE_UPSTREAM__CORP_SSO__CLIENT_SECRET");
        let [corp, google] = &config.upstreams[..] else {
            panic!("two upstreams expected: {:?}", config.upstreams)
        };
        assert_eq!(
            corp.client_secret
                .as_ref()
                .map(|s| s.expose_secret().to_string())
                .as_deref(),
            Some("from-env")
        );
        assert_eq!(google.issuer, upstream::GOOGLE_ISSUER);
        assert_eq!(google.hosted_domain.as_deref(), Some("example.com"));

        std::fs::write(&path, "[[upstream]]\nid = \"corp\"\nkind = \"oidc\"\nissuer = \"https://sso.example\"\nclient_id = \"x\"\ntypo = 1\n").unwrap();
        let err = Config::load(Some(&path), Overrides::default()).unwrap_err().to_string();
        assert!(err.contains("typo"), "{err}");
    }
}
