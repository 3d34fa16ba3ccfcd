//! Registered relying parties: their redirect URIs (matched exactly, never normalised),
//! whether they hold a secret, and how a secret is issued and checked.

use crate::config::is_loopback_host;
use crate::secrets;
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
}

impl Client {
    pub fn is_public(&self) -> bool {
        self.secret_hash.is_none()
    }

    pub fn pkce_required(&self) -> bool {
        self.is_public() || self.require_pkce
    }

    /// Exact string comparison, as RFC 9700 §4.1.3 and OIDC Core §3.1.2.1 require: no case
    /// folding, no trailing-slash or default-port leniency.
    pub fn has_redirect_uri(&self, uri: &str) -> bool {
        self.redirect_uris
            .iter()
            .any(|registered| registered == uri)
    }

    pub fn secret_matches(&self, presented: &str) -> bool {
        match &self.secret_hash {
            Some(hash) => secrets::constant_time_eq(hash, &secrets::digest(presented)),
            None => false,
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
        "http" => {
            return Err(format!(
                "{raw:?}: http is allowed only for loopback hosts; use https"
            ))
        }
        other => {
            return Err(format!(
                "{raw:?}: scheme {other:?} is not allowed; use https"
            ))
        }
    }
    if url.fragment().is_some() || raw.contains('#') {
        return Err(format!(
            "{raw:?}: a redirect URI must not have a fragment (RFC 6749 §3.1.2)"
        ));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(format!(
            "{raw:?}: a redirect URI must not carry user information"
        ));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(format!("{raw:?}: a redirect URI needs a host"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

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
            id: "c".into(),
            name: "c".into(),
            secret_hash: None,
            redirect_uris: vec!["https://app.example.com/cb".into()],
            post_logout_redirect_uris: vec![],
            require_pkce: false,
            created_at: 0,
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
