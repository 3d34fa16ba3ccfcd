//! Registered relying parties: their redirect URIs (matched exactly, never normalised),
//! whether they hold a secret, and how a secret is issued and checked.

use crate::config::is_loopback_host;
use crate::secrets;
use std::sync::{Arc, RwLock};
use url::Url;

#[derive(Debug, Clone)]
pub struct Client {
    pub id: String,
    pub name: String,
    /// SHA-256 digest of the secret; `None` for public clients (SPAs, native apps).
    pub secret_hash: Option<String>,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    /// PKCE is always required of public clients; this requires it of a confidential one.
    pub require_pkce: bool,
    pub created_at: i64,
    /// Grant types it may use at /token: authorization_code, refresh_token, client_credentials.
    pub grant_types: Vec<String>,
    /// First-party apps (the operator's own) skip the consent screen.
    pub first_party: bool,
    /// Scopes it may ask for; `None` means the OpenID Connect scopes we support.
    pub allowed_scopes: Option<Vec<String>>,
    /// Resources (RFC 8707) it may get client_credentials tokens for; the first is the default.
    pub audiences: Vec<String>,
    /// A JWK Set (JSON) of its public keys, enabling private_key_jwt.
    pub jwks: Option<String>,
    pub backchannel_logout_uri: Option<String>,
    /// Issue refresh tokens without asking for offline_access (first-party apps).
    pub always_refresh: bool,
    pub access_token_ttl_secs: Option<i64>,
    pub refresh_idle_ttl_secs: Option<i64>,
    pub refresh_absolute_ttl_secs: Option<i64>,
    /// Every sign-in for this client needs a second factor.
    pub require_mfa: bool,
    /// Its authorization requests must be pushed first (RFC 9126).
    pub require_par: bool,
    /// Every token request must carry a DPoP proof (RFC 9449 §5.2).
    pub require_dpop: bool,
    /// Where its JWK Set is published, instead of `jwks` (fetched, cached, refetched on
    /// an unknown `kid`, so the client can rotate its keys).
    pub jwks_uri: Option<String>,
    /// The `request_uri` values it may send to /authorize (OIDC Core §6.2), compared
    /// without their fragment.
    pub request_uris: Vec<String>,
    /// The document listing its redirect URIs that fixed `pairwise_sector` (OIDC Core §8.1).
    pub sector_identifier_uri: Option<String>,
    /// Pairwise subjects (OIDC Core §8.1) for this sector host; `None` for public ones.
    pub pairwise_sector: Option<String>,
    /// Shown on the consent page.
    pub logo_uri: Option<String>,
    pub policy_uri: Option<String>,
    pub tos_uri: Option<String>,
    /// `RS256`: UserInfo answers as a signed JWT (OIDC Core §5.3.2); `None`: JSON.
    pub userinfo_signed_response_alg: Option<String>,
}

/// Scopes we understand. Others are ignored, as RFC 6749 §3.3 allows.
pub const SUPPORTED_SCOPES: &[&str] = &["openid", "profile", "email", "address", "phone", "offline_access"];

/// The scope of the admin API, for first-party clients registered with it: through the
/// client credentials grant, or through /authorize for a user with the admin role only.
pub const ADMIN_SCOPE: &str = "gatehouse:admin";

/// The device authorization grant (RFC 8628).
pub const DEVICE_CODE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

pub const GRANT_TYPES: &[&str] = &[
    "authorization_code",
    "refresh_token",
    "client_credentials",
    DEVICE_CODE_GRANT,
];

impl Client {
    pub fn is_public(&self) -> bool {
        self.secret_hash.is_none()
    }

    /// Whether it has public keys, registered inline or by URL: then it signs in with
    /// private_key_jwt and may sign request objects.
    pub fn has_keys(&self) -> bool {
        self.jwks.is_some() || self.jwks_uri.is_some()
    }

    /// Whether `uri` is one of its pre-registered request URIs; the fragment is ignored on
    /// both sides (OIDC Dynamic Client Registration §2 lets it version a document).
    pub fn has_request_uri(&self, uri: &str) -> bool {
        let bare = |u: &str| u.split('#').next().unwrap_or_default().to_string();
        let presented = bare(uri);
        self.request_uris.iter().any(|r| bare(r) == presented)
    }

    pub fn pkce_required(&self) -> bool {
        self.is_public() || self.require_pkce
    }

    pub fn may_use_grant(&self, grant_type: &str) -> bool {
        self.grant_types.iter().any(|g| g == grant_type)
    }

    /// Whether it may ask for `scope` in an authorization request.
    pub fn may_request_scope(&self, scope: &str) -> bool {
        match &self.allowed_scopes {
            Some(allowed) => allowed.iter().any(|s| s == scope),
            None => SUPPORTED_SCOPES.contains(&scope),
        }
    }

    /// Where it may be sent after logout: exact match, as for redirect URIs.
    pub fn has_post_logout_redirect_uri(&self, uri: &str) -> bool {
        self.post_logout_redirect_uris
            .iter()
            .any(|registered| registered == uri)
    }

    /// Origins a browser app of this client runs on, from its redirect URIs: the only ones
    /// that get CORS answers for its token requests.
    pub fn origins(&self) -> Vec<String> {
        self.redirect_uris
            .iter()
            .filter_map(|u| Url::parse(u).ok())
            .map(|u| u.origin().ascii_serialization())
            .collect()
    }

    /// Exact string comparison, as RFC 9700 §4.1.3 and OIDC Core §3.1.2.1 require: no case
    /// folding, no trailing-slash or default-port leniency.
    /// Exact string comparison, no normalisation (RFC 9700 §4.1.3); the one exception is
    /// RFC 8252 §7.3: a native (public) client's loopback IP redirect URI matches on any
    /// port, since the app listens on whatever port it gets.
    pub fn has_redirect_uri(&self, uri: &str) -> bool {
        self.redirect_uris
            .iter()
            .any(|registered| registered == uri || (self.is_public() && same_loopback_but_port(registered, uri)))
    }

    pub fn secret_matches(&self, presented: &str) -> bool {
        match &self.secret_hash {
            Some(hash) => secrets::constant_time_eq(hash, &secrets::digest(presented)),
            None => false,
        }
    }
}

impl Client {
    /// A client with the defaults `gatehouse client create` uses: first party, code and
    /// refresh grants, no redirect URIs yet.
    pub fn new(id: &str, name: &str, secret_hash: Option<String>) -> Client {
        Client {
            id: id.to_string(),
            name: name.to_string(),
            secret_hash,
            redirect_uris: vec![],
            post_logout_redirect_uris: vec![],
            require_pkce: false,
            created_at: 0,
            grant_types: vec!["authorization_code".into(), "refresh_token".into()],
            first_party: true,
            allowed_scopes: None,
            audiences: vec![],
            jwks: None,
            backchannel_logout_uri: None,
            always_refresh: false,
            access_token_ttl_secs: None,
            refresh_idle_ttl_secs: None,
            refresh_absolute_ttl_secs: None,
            require_mfa: false,
            require_par: false,
            require_dpop: false,
            jwks_uri: None,
            request_uris: vec![],
            sector_identifier_uri: None,
            pairwise_sector: None,
            logo_uri: None,
            policy_uri: None,
            tos_uri: None,
            userinfo_signed_response_alg: None,
        }
    }
}

/// A new client secret: 256 random bits. Shown once; only its digest is stored.
pub fn generate_secret() -> String {
    secrets::random_token()
}

/// Checks a redirect (or post-logout redirect) URI at registration: absolute, https (or
/// http on a loopback host for native and development apps), no fragment, no userinfo.
pub fn validate_redirect_uri(raw: &str) -> Result<(), String> {
    let url = Url::parse(raw).map_err(|e| format!("{raw:?} is not an absolute URL ({e})"))?;
    match url.scheme() {
        "https" => {}
        "http" if is_loopback_host(&url) => {}
        "http" => return Err(format!("{raw:?}: http is allowed only for loopback hosts; use https")),
        other => return Err(format!("{raw:?}: scheme {other:?} is not allowed; use https")),
    }
    if url.fragment().is_some() || raw.contains('#') {
        return Err(format!(
            "{raw:?}: a redirect URI must not have a fragment (RFC 6749 §3.1.2)"
        ));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(format!("{raw:?}: a redirect URI must not carry user information"));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(format!("{raw:?}: a redirect URI needs a host"));
    }
    Ok(())
}

/// `http://127.0.0.1[:port]/rest` or `http://[::1][:port]/rest`: the host and `rest`,
/// for loopback IP literals only (`localhost` may resolve elsewhere, RFC 8252 §8.3).
fn loopback_parts(uri: &str) -> Option<(&'static str, &str)> {
    let (host, after) = ["127.0.0.1", "[::1]"]
        .iter()
        .find_map(|h| uri.strip_prefix("http://")?.strip_prefix(h).map(|rest| (*h, rest)))?;
    let rest = match after.strip_prefix(':') {
        Some(port_and_rest) => {
            let digits = port_and_rest.bytes().take_while(u8::is_ascii_digit).count();
            if digits == 0 || digits > 5 {
                return None;
            }
            &port_and_rest[digits..]
        }
        None => after,
    };
    (rest.is_empty() || rest.starts_with('/')).then_some((host, rest))
}

fn same_loopback_but_port(registered: &str, presented: &str) -> bool {
    matches!((loopback_parts(registered), loopback_parts(presented)), (Some(a), Some(b)) if a == b)
}

/// How long the set of allowed CORS origins is reused before asking the database again.
const ORIGIN_CACHE_SECS: i64 = 30;

/// The origins of every registered redirect URI, cached briefly for the CORS layer.
#[derive(Default)]
pub struct OriginCache {
    inner: RwLock<(i64, Arc<Vec<String>>)>,
}

impl OriginCache {
    /// The cached origins, unless they are older than the cache's lifetime.
    pub fn fresh(&self, now: i64) -> Option<Arc<Vec<String>>> {
        let (at, origins) = self.inner.read().ok()?.clone();
        (at != 0 && now - at < ORIGIN_CACHE_SECS).then_some(origins)
    }

    pub fn put(&self, now: i64, origins: Vec<String>) -> Arc<Vec<String>> {
        let origins = Arc::new(origins);
        if let Ok(mut cache) = self.inner.write() {
            *cache = (now, origins.clone());
        }
        origins
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_ip_redirects_of_native_apps_match_any_port_rfc8252_7_3() {
        let mut native = Client::new("app", "App", None);
        native.redirect_uris = vec!["http://127.0.0.1/cb".into(), "http://[::1]:8000/cb".into()];
        assert!(native.has_redirect_uri("http://127.0.0.1:51234/cb"));
        assert!(native.has_redirect_uri("http://127.0.0.1/cb"));
        assert!(native.has_redirect_uri("http://[::1]:9/cb"));
        for other in [
            "http://127.0.0.1:51234/cb/",
            "http://127.0.0.1:51234/CB",
            "http://127.0.0.1:51234/cb?x=1",
            "http://127.0.0.1.evil.tld:1/cb",
            "http://127.0.0.1:/cb",
            "http://127.0.0.1:99999999/cb",
            "http://localhost:51234/cb",
            "https://127.0.0.1:51234/cb",
            "http://[::1]:9/other",
        ] {
            assert!(!native.has_redirect_uri(other), "{other}");
        }
        // A confidential client's loopback URI is matched exactly, as every other.
        let mut web = native.clone();
        web.secret_hash = Some("x".into());
        assert!(!web.has_redirect_uri("http://127.0.0.1:51234/cb"));
        assert!(web.has_redirect_uri("http://127.0.0.1/cb"));
    }

    #[test]
    fn accepts_https_and_loopback_http() {
        for ok in [
            "https://app.example.com/callback",
            "http://127.0.0.1:9000/cb",
            "http://localhost/cb",
            "http://[::1]:8000/cb",
            "https://app.example.com/cb?tenant=1",
        ] {
            assert!(validate_redirect_uri(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn refuses_dangerous_uris_security_checklist_a3() {
        for bad in [
            "javascript:alert(1)",
            "JaVaScRiPt:alert(1)",
            "data:text/html,hi",
            "http://app.example.com/cb",
            "http://localhost.evil.tld/cb",
            "https://app.example.com/cb#frag",
            "https://a@evil.example/cb",
            "/relative",
            "file:///etc/passwd",
        ] {
            assert!(validate_redirect_uri(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn redirect_match_is_exact_security_checklist_a1() {
        let client = Client {
            redirect_uris: vec!["https://app.example.com/cb".into()],
            ..Client::new("c", "c", None)
        };
        assert!(client.has_redirect_uri("https://app.example.com/cb"));
        for near in [
            "https://APP.example.com/cb",
            "https://app.example.com/cb/",
            "https://app.example.com/cb?x=1",
            "https://app.example.com:443/cb",
            "https://app.example.com/%63b",
            "https://app.example.com.evil.tld/cb",
        ] {
            assert!(!client.has_redirect_uri(near), "{near}");
        }
    }
}
