//! What is under test: the OP's issuer, the two statically registered clients, the test
//! user, and how to get through the OP's own pages (login, consent, logout confirmation).

use anyhow::{bail, Context};
use regex::Regex;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Target {
    pub issuer: String,
    /// A PEM root to trust besides the system's (the harness's throwaway CA).
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// The runner's callback listener: `http://127.0.0.1:{port}/callback` is the redirect
    /// URI and `/post_logout_redirect` the post-logout redirect URI both clients register.
    pub callback_port: u16,
    pub client: ClientCreds,
    pub client2: ClientCreds,
    pub user: User,
    /// A built-in description of the OP's pages (`gatehouse`), used when `interaction` is empty.
    #[serde(default)]
    pub pages: Option<String>,
    #[serde(default)]
    pub interaction: Vec<Interaction>,
    /// Modules run at once (each with its own browser); the 30-second code-reuse wait
    /// overlaps with the rest.
    #[serde(default = "default_concurrency")]
    pub concurrency: usize,
    /// How the runner makes the OP rotate its signing keys (`oidcc-server-rotate-keys`).
    /// Without it that module ends in REVIEW, as the suite leaves it to a person.
    #[serde(default)]
    pub rotate_keys: Option<Hook>,
    /// How long `oidcc-refresh-token-rp-key-rotation` waits between putting the RP's new
    /// key in its `jwks_uri` and using it (the suite waits 60 s, so that an OP that limits
    /// how often it refetches a JWK Set is not caught out).
    #[serde(default = "default_rp_key_rotation_wait")]
    pub rp_key_rotation_wait_secs: u64,
}

fn default_concurrency() -> usize {
    6
}

fn default_rp_key_rotation_wait() -> u64 {
    60
}

/// An action the runner takes on the OP itself: a command it runs (argv, no shell), or
/// an HTTP request it sends (e.g. an admin API call). Succeeds on exit status 0 or a 2xx.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Hook {
    #[serde(default)]
    pub command: Vec<String>,
    #[serde(default)]
    pub url: Option<String>,
    /// The HTTP method for `url` (POST by default).
    #[serde(default)]
    pub method: Option<String>,
    /// A bearer token sent with the request to `url`.
    #[serde(default)]
    pub bearer: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientCreds {
    pub id: String,
    pub secret: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct User {
    pub username: String,
    pub password: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InteractionKind {
    Login,
    Consent,
    LogoutConfirm,
}

/// One of the OP's pages and how a user gets past it: which page (URL and/or form action,
/// as regular expressions), what to type, and which button to press.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Interaction {
    pub kind: InteractionKind,
    #[serde(default, with = "opt_regex")]
    pub url: Option<Regex>,
    #[serde(default, with = "opt_regex")]
    pub form: Option<Regex>,
    /// Field values; `{username}` and `{password}` are replaced by the test user's.
    #[serde(default)]
    pub fields: BTreeMap<String, String>,
    /// `name=value` of the submit button to press, when the form has several.
    #[serde(default)]
    pub submit: Option<String>,
    /// `name=value` of a field the form must carry, for OPs whose pages share one URL
    /// (oidc-provider's login and consent forms differ only in a hidden `prompt`).
    #[serde(default)]
    pub when_field: Option<String>,
}

impl Interaction {
    /// Whether `form` on the page at `url` is this interaction.
    pub fn matches(&self, url: &url::Url, form: &crate::html::Form, first: bool) -> bool {
        if self.url.as_ref().is_some_and(|re| !re.is_match(url.as_str())) {
            return false;
        }
        let action_ok = match &self.form {
            Some(re) => re.is_match(form.action.as_str()),
            // Only the page's URL was described: its first form.
            None => self.url.is_some() && first,
        };
        let field_ok = self.when_field.as_deref().is_none_or(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            form.fields.iter().any(|(n, v)| n == name && v == value)
        });
        action_ok && field_ok
    }
}

mod opt_regex {
    use regex::Regex;
    use serde::{Deserialize, Deserializer};

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Regex>, D::Error> {
        let raw: Option<String> = Option::deserialize(d)?;
        raw.map(|r| Regex::new(&r).map_err(serde::de::Error::custom))
            .transpose()
    }
}

impl Target {
    pub fn load(path: &Path) -> anyhow::Result<Target> {
        let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let mut target: Target = toml::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
        if let Some(ca) = &target.ca_file {
            if ca.is_relative() {
                target.ca_file = Some(path.parent().unwrap_or(Path::new(".")).join(ca));
            }
        }
        target.resolve_pages()?;
        Ok(target)
    }

    /// Fills in the interactions from a built-in page description when none are given.
    pub fn resolve_pages(&mut self) -> anyhow::Result<()> {
        if !self.interaction.is_empty() {
            return Ok(());
        }
        match self.pages.as_deref() {
            Some("gatehouse") | None => {
                self.interaction = gatehouse_pages();
                Ok(())
            }
            Some(other) => bail!("unknown built-in pages {other:?}: describe them with [[interaction]]"),
        }
    }

    pub fn issuer(&self) -> &str {
        self.issuer.trim_end_matches('/')
    }

    pub fn redirect_uri(&self) -> String {
        format!("http://127.0.0.1:{}/callback", self.callback_port)
    }

    /// Where both clients register their back-channel logout endpoint.
    pub fn backchannel_logout_uri(&self) -> String {
        format!(
            "http://127.0.0.1:{}{}",
            self.callback_port,
            crate::callback::BACKCHANNEL_PATH
        )
    }

    pub fn post_logout_redirect_uri(&self) -> String {
        format!("http://127.0.0.1:{}/post_logout_redirect", self.callback_port)
    }

    pub fn callback_base(&self) -> String {
        format!("http://127.0.0.1:{}/", self.callback_port)
    }

    /// The absolute URL of a path on the runner's listener.
    pub fn listener_url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.callback_port)
    }
}

/// Gatehouse's hosted pages.
pub fn gatehouse_pages() -> Vec<Interaction> {
    let form = |re: &str| Some(Regex::new(re).unwrap_or_else(|_| unreachable!("constant regex")));
    vec![
        Interaction {
            kind: InteractionKind::Login,
            url: None,
            form: form(r"/login$"),
            fields: BTreeMap::from([
                ("identifier".into(), "{username}".into()),
                ("password".into(), "{password}".into()),
            ]),
            submit: None,
            when_field: None,
        },
        Interaction {
            kind: InteractionKind::Consent,
            url: None,
            form: form(r"/consent$"),
            fields: BTreeMap::new(),
            submit: Some("decision=allow".into()),
            when_field: None,
        },
        Interaction {
            kind: InteractionKind::LogoutConfirm,
            url: None,
            form: form(r"/logout/confirm$"),
            fields: BTreeMap::new(),
            submit: None,
            when_field: None,
        },
    ]
}
