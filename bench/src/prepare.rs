//! Unmeasured set-up through the real flows: a cookie-keeping HTTP client that signs in on
//! the hosted page, runs an authorization-code flow, and asks for client_credentials.

use crate::target::{PasswordLogin, Target};
use anyhow::{bail, Context};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use reqwest::cookie::CookieStore;
use sha2::{Digest, Sha256};
use std::sync::Arc;

pub struct Browser {
    pub http: reqwest::Client,
    jar: Arc<reqwest::cookie::Jar>,
    base: String,
}

impl Browser {
    pub fn new(base: &str) -> anyhow::Result<Browser> {
        let jar = Arc::new(reqwest::cookie::Jar::default());
        let http = reqwest::Client::builder()
            .cookie_provider(jar.clone())
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(Browser {
            http,
            jar,
            base: base.to_string(),
        })
    }

    /// The `Cookie` header this browser sends to the provider.
    pub fn cookie_header(&self) -> String {
        let url = url::Url::parse(&self.base).expect("base URL");
        self.jar
            .cookies(&url)
            .and_then(|v| v.to_str().ok().map(str::to_string))
            .unwrap_or_default()
    }

    pub async fn password_login(&self, login: &PasswordLogin) -> anyhow::Result<()> {
        let page = self
            .http
            .get(format!("{}{}", self.base, login.login_path))
            .send()
            .await?;
        let html = page.text().await?;
        let csrf = hidden_input(&html, "csrf_token").context("no csrf_token on the login page")?;
        let form = [
            ("identifier", login.identifier.as_str()),
            ("password", login.password.as_str()),
            ("csrf_token", csrf.as_str()),
        ];
        let response = self
            .http
            .post(format!("{}{}", self.base, login.login_path))
            .form(&form)
            .send()
            .await?;
        if response.status() != 303 {
            bail!("login refused: {}", response.status());
        }
        Ok(())
    }
}

/// A PKCE verifier and its S256 challenge.
pub fn pkce() -> (String, String) {
    let verifier = URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>());
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    (verifier, challenge)
}

pub fn authorize_url(target: &Target, scope: &str, challenge: &str) -> String {
    let query = form_urlencoded::Serializer::new(String::new())
        .append_pair("response_type", "code")
        .append_pair("client_id", &target.web.id)
        .append_pair("redirect_uri", &target.web.redirect_uri)
        .append_pair("scope", scope)
        .append_pair("state", "bench-state")
        .append_pair("nonce", "bench-nonce")
        .append_pair("code_challenge", challenge)
        .append_pair("code_challenge_method", "S256")
        .finish();
    format!("{}?{query}{}", target.paths.authorize, target.authorize_extra)
}

pub fn code_exchange_body(target: &Target, code: &str, verifier: &str) -> String {
    let body = form_urlencoded::Serializer::new(String::new())
        .append_pair("grant_type", "authorization_code")
        .append_pair("code", code)
        .append_pair("redirect_uri", &target.web.redirect_uri)
        .append_pair("code_verifier", verifier)
        .finish();
    format!("{body}{}", target.token_extra)
}

/// The `code` in a redirect to the client, or why there is none.
pub fn code_in(location: &str, redirect_uri: &str) -> Result<String, String> {
    if !location.starts_with(redirect_uri) {
        return Err(format!("redirected to {location}, not back to the client"));
    }
    let url = url::Url::parse(location).map_err(|e| e.to_string())?;
    url.query_pairs()
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v.into_owned())
        .ok_or_else(|| format!("no code in {location}"))
}

pub fn basic(id: &str, secret: Option<&str>) -> String {
    let enc = |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", enc(id), enc(secret.unwrap_or(""))))
    )
}

/// A signed-in browser's code flow for `scope`; returns the token response.
pub async fn code_flow(browser: &Browser, target: &Target, scope: &str) -> anyhow::Result<serde_json::Value> {
    let (verifier, challenge) = pkce();
    let response = browser
        .http
        .get(format!("{}{}", target.base, authorize_url(target, scope, &challenge)))
        .send()
        .await?;
    let location = response
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .with_context(|| format!("authorize answered {} without a redirect", response.status()))?
        .to_string();
    let code = code_in(&location, &target.web.redirect_uri).map_err(anyhow::Error::msg)?;
    let response = browser
        .http
        .post(format!("{}{}", target.base, target.paths.token))
        .header("authorization", basic(&target.web.id, target.web.secret.as_deref()))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(code_exchange_body(target, &code, &verifier))
        .send()
        .await?;
    if !response.status().is_success() {
        bail!("code exchange: {} {}", response.status(), response.text().await?);
    }
    Ok(response.json().await?)
}

/// An access token from client_credentials, as the measured request gets one.
pub async fn client_credentials(target: &Target) -> anyhow::Result<String> {
    let response = reqwest::Client::new()
        .post(format!("{}{}", target.base, target.paths.token))
        .header("authorization", basic(&target.cc.id, target.cc.secret.as_deref()))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(target.cc_body.clone())
        .send()
        .await?;
    if !response.status().is_success() {
        bail!("client_credentials: {} {}", response.status(), response.text().await?);
    }
    let body: serde_json::Value = response.json().await?;
    Ok(body["access_token"].as_str().context("access_token")?.to_string())
}

/// The value of `<input type="hidden" name=NAME value="...">`, unescaped as a browser
/// would before submitting it.
pub fn hidden_input(html: &str, name: &str) -> Option<String> {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker)? + marker.len();
    let end = html[start..].find('"')?;
    Some(
        html[start..start + end]
            .replace("&#x2f;", "/")
            .replace("&#x3d;", "=")
            .replace("&quot;", "\"")
            .replace("&#x27;", "'")
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&amp;", "&"),
    )
}
