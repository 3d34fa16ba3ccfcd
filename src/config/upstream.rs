//! `[[upstream]]`: OpenID Connect providers users may sign in with ("Continue with
//! Google"). Validated here at startup, so a typo stops the server with the key named;
//! the provider itself is only contacted when someone presses its button.

use super::is_loopback_host;
use anyhow::{bail, Context};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use url::Url;

pub const GOOGLE_ISSUER: &str = "https://accounts.google.com";
const DEFAULT_SCOPES: &[&str] = &["openid", "email", "profile"];

/// One `[[upstream]]` table as written.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawUpstream {
    pub id: String,
    pub kind: String,
    pub name: Option<String>,
    pub issuer: Option<String>,
    pub client_id: String,
    #[serde(skip_serializing)]
    pub client_secret: Option<SecretString>,
    pub client_secret_file: Option<PathBuf>,
    pub scopes: Option<Vec<String>>,
    pub hosted_domain: Option<String>,
    pub auto_link: bool,
    pub trust_amr: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpstreamKind {
    Google,
    Oidc,
}

/// A validated upstream.
#[derive(Debug, Clone)]
pub struct Upstream {
    pub id: String,
    pub kind: UpstreamKind,
    /// The button says "Continue with {name}".
    pub name: String,
    /// Exactly as the provider's ID tokens spell `iss`.
    pub issuer: String,
    pub client_id: String,
    pub client_secret: Option<SecretString>,
    pub scopes: Vec<String>,
    /// Google Workspace domain: sent as `hd`, and required in the ID token's `hd`.
    pub hosted_domain: Option<String>,
    /// Link to a local account with the same email without asking for proof (dangerous:
    /// only when the upstream says `email_verified: true` and the local email is confirmed).
    pub auto_link: bool,
    /// Believe the upstream's `amr`: a sign-in there that says `mfa` counts as two factors
    /// here too. Off by default, so an upstream sign-in is one factor.
    pub trust_amr: bool,
}

/// Validates every `[[upstream]]`; `secret_from_env` looks up
/// `GATEHOUSE_UPSTREAM__<ID>__CLIENT_SECRET` (the id upper-cased, `-` as `_`).
pub fn validate(
    raw: &[RawUpstream],
    secret_from_env: &dyn Fn(&str) -> Option<String>,
) -> anyhow::Result<Vec<Upstream>> {
    let mut out: Vec<Upstream> = Vec::new();
    for (i, u) in raw.iter().enumerate() {
        let at = format!("upstream[{i}]");
        let id_ok = !u.id.is_empty()
            && u.id.len() <= 32
            && u.id
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if !id_ok {
            bail!("invalid `{at}.id` {:?}: use 1-32 of a-z, 0-9 and -", u.id);
        }
        let at = format!("upstream.{}", u.id);
        if out.iter().any(|o| o.id == u.id) {
            bail!("invalid `{at}`: the id {:?} is used by two [[upstream]] tables", u.id);
        }
        let kind = match u.kind.as_str() {
            "google" => UpstreamKind::Google,
            "oidc" => UpstreamKind::Oidc,
            other => bail!("invalid `{at}.kind` {other:?}: use \"google\" or \"oidc\""),
        };
        let issuer = match (kind, &u.issuer) {
            (_, Some(issuer)) => issuer.clone(),
            (UpstreamKind::Google, None) => GOOGLE_ISSUER.to_string(),
            (UpstreamKind::Oidc, None) => {
                bail!("missing `{at}.issuer`: kind = \"oidc\" needs the provider's issuer URL")
            }
        };
        check_issuer(&at, &issuer)?;
        if u.client_id.trim().is_empty() {
            bail!("missing `{at}.client_id`: the client id registered at the provider");
        }
        let client_secret = match (&u.client_secret, &u.client_secret_file) {
            (Some(_), Some(_)) => bail!("invalid `{at}`: set `client_secret` or `client_secret_file`, not both"),
            (Some(secret), None) => Some(secret.clone()),
            (None, Some(path)) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("invalid `{at}.client_secret_file`: cannot read {}", path.display()))?;
                Some(SecretString::from(text.trim().to_string()))
            }
            (None, None) => secret_from_env(&u.id).map(SecretString::from),
        };
        let scopes = u
            .scopes
            .clone()
            .unwrap_or_else(|| DEFAULT_SCOPES.iter().map(|s| s.to_string()).collect());
        if !scopes.iter().any(|s| s == "openid") {
            bail!("invalid `{at}.scopes`: OpenID Connect needs the `openid` scope");
        }
        if u.hosted_domain.is_some() && kind != UpstreamKind::Google {
            bail!("invalid `{at}.hosted_domain`: only kind = \"google\" has hosted domains");
        }
        let name = u.name.clone().unwrap_or_else(|| match kind {
            UpstreamKind::Google => "Google".into(),
            UpstreamKind::Oidc => u.id.clone(),
        });
        out.push(Upstream {
            id: u.id.clone(),
            kind,
            name,
            issuer,
            client_id: u.client_id.trim().to_string(),
            client_secret,
            scopes,
            hosted_domain: u.hosted_domain.clone(),
            auto_link: u.auto_link,
            trust_amr: u.trust_amr,
        });
    }
    Ok(out)
}

fn check_issuer(at: &str, issuer: &str) -> anyhow::Result<()> {
    let url = Url::parse(issuer).with_context(|| format!("invalid `{at}.issuer` {issuer:?}: not an absolute URL"))?;
    match url.scheme() {
        "https" => Ok(()),
        "http" if is_loopback_host(&url) => Ok(()),
        _ => bail!("invalid `{at}.issuer` {issuer:?}: must be https (http only on a loopback host)"),
    }
}

/// The environment variable that may carry an upstream's client secret.
pub fn secret_env_name(id: &str) -> String {
    format!(
        "GATEHOUSE_UPSTREAM__{}__CLIENT_SECRET",
        id.to_ascii_uppercase().replace('-', "_")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn google() -> RawUpstream {
        RawUpstream {
            id: "google".into(),
            kind: "google".into(),
            client_id: "x.apps.googleusercontent.com".into(),
            ..Default::default()
        }
    }

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn the_google_preset_fills_issuer_name_and_scopes() {
        let up = validate(&[google()], &no_env).unwrap().remove(0);
        assert_eq!(up.issuer, GOOGLE_ISSUER);
        assert_eq!(up.name, "Google");
        assert_eq!(up.scopes, ["openid", "email", "profile"]);
        assert!(!up.auto_link);
    }

    #[test]
    fn bad_configs_name_the_key() {
        let cases: Vec<(RawUpstream, &str)> = vec![
            (
                RawUpstream {
                    kind: "saml".into(),
                    ..google()
                },
                "upstream.google.kind",
            ),
            (
                RawUpstream {
                    client_id: " ".into(),
                    ..google()
                },
                "upstream.google.client_id",
            ),
            (
                RawUpstream {
                    id: "Google!".into(),
                    ..google()
                },
                "upstream[0].id",
            ),
            (
                RawUpstream {
                    issuer: Some("http://sso.example.com".into()),
                    ..google()
                },
                "upstream.google.issuer",
            ),
            (
                RawUpstream {
                    kind: "oidc".into(),
                    ..google()
                },
                "upstream.google.issuer",
            ),
            (
                RawUpstream {
                    scopes: Some(vec!["email".into()]),
                    ..google()
                },
                "upstream.google.scopes",
            ),
        ];
        for (raw, key) in cases {
            let err = validate(&[raw], &no_env).unwrap_err().to_string();
            assert!(err.contains(key), "{key}: {err}");
        }
        let err = validate(&[google(), google()], &no_env).unwrap_err().to_string();
        assert!(err.contains("upstream.google") && err.contains("two"), "{err}");
    }

    #[test]
    fn loopback_http_issuers_are_allowed_for_development() {
        let raw = RawUpstream {
            issuer: Some("http://127.0.0.1:9000".into()),
            ..google()
        };
        assert_eq!(validate(&[raw], &no_env).unwrap()[0].issuer, "http://127.0.0.1:9000");
    }

    #[test]
    fn the_secret_may_come_from_the_environment() {
        let env = |id: &str| (id == "google").then(|| "s3cret".to_string());
        let up = validate(&[google()], &env).unwrap().remove(0);
        use secrecy::ExposeSecret;
        assert_eq!(up.client_secret.unwrap().expose_secret(), "s3cret");
        assert_eq!(
            secret_env_name("corp-sso"),
            "GATEHOUSE_UPSTREAM__CORP_SSO__CLIENT_SECRET"
        );
    }
}
