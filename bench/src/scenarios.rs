//! The measured operations. Each runs the same requests against whichever provider the
//! `Target` describes, and checks the answer a real client would check, so a fast wrong
//! answer counts as an error, not as throughput.

use crate::conn::Conn;
use crate::prepare::{authorize_url, basic, code_exchange_body, code_in, hidden_input, pkce};
use crate::target::{Target, User};
use hyper::header::{AUTHORIZATION, COOKIE, SET_COOKIE};
use std::sync::Arc;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Scenario {
    Discovery,
    Jwks,
    ClientCredentials,
    SsoLoop,
    Refresh,
    Userinfo,
    Introspection,
    PasswordLogin,
    SignupPage,
}

/// What limits a scenario: the share of the machine's signing or hashing capacity one
/// operation needs.
#[derive(Debug, Clone, Copy)]
pub enum Bound {
    Rs256 { signatures: u32 },
    Argon2,
    None,
}

impl Scenario {
    pub const ALL: [Scenario; 9] = [
        Scenario::Discovery,
        Scenario::Jwks,
        Scenario::ClientCredentials,
        Scenario::SsoLoop,
        Scenario::Refresh,
        Scenario::Userinfo,
        Scenario::Introspection,
        Scenario::PasswordLogin,
        Scenario::SignupPage,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Scenario::Discovery => "discovery",
            Scenario::Jwks => "jwks",
            Scenario::ClientCredentials => "client_credentials",
            Scenario::SsoLoop => "sso_loop",
            Scenario::Refresh => "refresh",
            Scenario::Userinfo => "userinfo",
            Scenario::Introspection => "introspection",
            Scenario::PasswordLogin => "password_login",
            Scenario::SignupPage => "signup_page",
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            Scenario::Discovery => "GET discovery document",
            Scenario::Jwks => "GET JWKS",
            Scenario::ClientCredentials => "client_credentials grant (1 RS256 access token)",
            Scenario::SsoLoop => "authorize with a live session, then code exchange (ID + access token)",
            Scenario::Refresh => "refresh_token grant with rotation (ID + access token)",
            Scenario::Userinfo => "GET userinfo with a bearer token",
            Scenario::Introspection => "token introspection (RFC 7662)",
            Scenario::PasswordLogin => "login page GET + password POST (argon2id)",
            Scenario::SignupPage => "GET sign-up page",
        }
    }

    pub fn bound(self) -> Bound {
        match self {
            Scenario::ClientCredentials => Bound::Rs256 { signatures: 1 },
            Scenario::SsoLoop | Scenario::Refresh => Bound::Rs256 { signatures: 2 },
            Scenario::PasswordLogin => Bound::Argon2,
            _ => Bound::None,
        }
    }

    /// Virtual users: 32 keep-alive connections, as wrk -c32 in the starting figures;
    /// the login flood uses 12, enough to keep every hasher busy.
    pub fn concurrency(self) -> usize {
        match self {
            Scenario::PasswordLogin => 12,
            _ => 32,
        }
    }

    /// Whether `target` offers this scenario at all (the peer has no hosted login or
    /// sign-up pages).
    pub fn applies_to(self, target: &Target) -> bool {
        match self {
            Scenario::PasswordLogin => target.login.is_some(),
            Scenario::SignupPage => target.signup_page.is_some(),
            _ => true,
        }
    }
}

/// A virtual user's own state: its prepared user (the refresh scenario rotates the token
/// in it) and the shared target.
pub struct VUser {
    pub target: Arc<Target>,
    pub user: User,
}

pub fn virtual_users(target: &Arc<Target>, count: usize) -> Vec<VUser> {
    (0..count)
        .map(|i| VUser {
            target: target.clone(),
            user: target.users[i % target.users.len()].clone(),
        })
        .collect()
}

fn expect(ok: bool, what: impl FnOnce() -> String) -> Result<(), String> {
    if ok {
        Ok(())
    } else {
        Err(what())
    }
}

fn contains(body: &[u8], needle: &str) -> bool {
    body.windows(needle.len()).any(|w| w == needle.as_bytes())
}

/// One operation of `scenario` for `v` on `conn`.
pub async fn once(scenario: Scenario, conn: &mut Conn, v: &mut VUser) -> Result<(), String> {
    let t = v.target.clone();
    let e = |e: anyhow::Error| format!("{e:#}");
    match scenario {
        Scenario::Discovery | Scenario::Jwks | Scenario::SignupPage => {
            let path = match scenario {
                Scenario::Discovery => &t.paths.discovery,
                Scenario::Jwks => &t.paths.jwks,
                _ => t.signup_page.as_ref().expect("applies_to checked"),
            };
            let r = conn.get(path, &[]).await.map_err(e)?;
            expect(r.status == 200 && !r.body.is_empty(), || r.describe())
        }
        Scenario::ClientCredentials => {
            let auth = basic(&t.cc.id, t.cc.secret.as_deref());
            let r = conn
                .post(&t.paths.token, &[(AUTHORIZATION, &auth)], &t.cc_body)
                .await
                .map_err(e)?;
            expect(r.status == 200 && contains(&r.body, "\"access_token\""), || {
                r.describe()
            })
        }
        Scenario::SsoLoop => {
            let (verifier, challenge) = pkce();
            let url = authorize_url(&t, &t.web_scope, &challenge);
            let r = conn.get(&url, &[(COOKIE, &v.user.session_cookie)]).await.map_err(e)?;
            if !r.status.is_redirection() {
                return Err(format!("authorize: {}", r.describe()));
            }
            let code = code_in(r.location().unwrap_or(""), &t.web.redirect_uri)?;
            let auth = basic(&t.web.id, t.web.secret.as_deref());
            let body = code_exchange_body(&t, &code, &verifier);
            let r = conn
                .post(&t.paths.token, &[(AUTHORIZATION, &auth)], &body)
                .await
                .map_err(e)?;
            expect(r.status == 200 && contains(&r.body, "\"id_token\""), || {
                format!("code exchange: {}", r.describe())
            })
        }
        Scenario::Refresh => {
            let auth = basic(&t.web.id, t.web.secret.as_deref());
            let body = form_urlencoded::Serializer::new(String::new())
                .append_pair("grant_type", "refresh_token")
                .append_pair("refresh_token", &v.user.refresh_token)
                .finish();
            let r = conn
                .post(&t.paths.token, &[(AUTHORIZATION, &auth)], &body)
                .await
                .map_err(e)?;
            if r.status != 200 {
                return Err(r.describe());
            }
            let json = r.json().map_err(e)?;
            let next = json["refresh_token"].as_str().ok_or("no rotated refresh_token")?;
            v.user.refresh_token = next.to_string();
            expect(json["access_token"].is_string(), || r.describe())
        }
        Scenario::Userinfo => {
            let auth = format!("Bearer {}", v.user.access_token);
            let r = conn
                .get(&t.paths.userinfo, &[(AUTHORIZATION, &auth)])
                .await
                .map_err(e)?;
            expect(r.status == 200 && contains(&r.body, "\"sub\""), || r.describe())
        }
        Scenario::Introspection => {
            let auth = basic(&t.cc.id, t.cc.secret.as_deref());
            let body = format!("token={}", t.introspect_token);
            let r = conn
                .post(&t.paths.introspection, &[(AUTHORIZATION, &auth)], &body)
                .await
                .map_err(e)?;
            expect(r.status == 200 && contains(&r.body, "\"active\":true"), || r.describe())
        }
        Scenario::PasswordLogin => {
            let login = t.login.as_ref().expect("applies_to checked");
            // A new visitor each time: no cookies but the ones the login page sets.
            let page = conn.get(&login.login_path, &[]).await.map_err(e)?;
            let html = String::from_utf8_lossy(&page.body);
            let csrf = hidden_input(&html, "csrf_token").ok_or_else(|| format!("login page: {}", page.describe()))?;
            let cookies: Vec<&str> = page
                .headers
                .get_all(SET_COOKIE)
                .iter()
                .filter_map(|v| v.to_str().ok()?.split(';').next())
                .collect();
            let cookie = cookies.join("; ");
            let body = form_urlencoded::Serializer::new(String::new())
                .append_pair("identifier", &login.identifier)
                .append_pair("password", &login.password)
                .append_pair("csrf_token", &csrf)
                .finish();
            let r = conn
                .post(&login.login_path, &[(COOKIE, &cookie)], &body)
                .await
                .map_err(e)?;
            expect(r.status == 303, || format!("login POST: {}", r.describe()))
        }
    }
}
