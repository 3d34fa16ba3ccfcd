//! "Continue with Corp SSO": signing in to Gatehouse through an upstream OpenID Connect
//! provider (issue 10, `/work/notes/upstream-spec.md`).
//!
//! The upstream is a real OpenID Connect provider on loopback: a second Gatehouse (the
//! `Federation` fixture), on `localhost` so its cookies are not the downstream's (which
//! lives on `127.0.0.1`; cookies are per host, not per port). Where a test needs an
//! upstream that misbehaves (a bad ID token, no `email_verified`), a small hostile
//! provider written here (`MockOp`) stands in for it.
//!
//! Black-box like the rest of the suite: one cookie-keeping `Browser` talks to both hosts
//! and every redirect is followed by hand, so each test asserts what a user sees — status
//! codes, page text, where the browser lands, which account the app is told about, and
//! which emails arrived.
//!
//! Files by theme: `flow` (sign-up, sign-in again, tokens), `linking` (proofs, auto_link,
//! unconfirmed accounts), `callback` (state, replay, cancel, hd, upstream down),
//! `hostile` (bad ID tokens, email_verified), `account` (unlink rules), `browser` (the
//! whole journey in headless Chromium, with screenshots).

use crate::helpers::*;
use gatehouse::config::RawUpstream;
use serde_json::{json, Map, Value};
use std::sync::{Arc, Mutex};

/// Declares each test twice, as `name::sqlite` and `name::postgres`, each given the
/// fixture that `$start` (an async fn of a `Backend`, returning `Option<Fixture>`, None
/// when PostgreSQL is not configured) makes for that backend.
macro_rules! federated {
    ($start:expr; $($(#[$meta:meta])* async fn $name:ident($fx:ident: $ty:ty) $body:block)*) => {
        $(
            $(#[$meta])*
            mod $name {
                #[allow(unused_imports)]
                use super::*;

                async fn run($fx: $ty) $body

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    run(($start)(Backend::Sqlite).await.expect("sqlite fixture")).await
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    if let Some(fx) = ($start)(Backend::Postgres).await {
                        run(fx).await
                    }
                }
            }
        )*
    };
}

mod account;
mod browser;
mod callback;
mod flow;
mod hostile;
mod linking;
mod second_factor;

/// The upstream's id in every fixture, and its button.
pub const CORP: &str = "corp";
pub const CORP_NAME: &str = "Corp SSO";
pub const CORP_BUTTON: &str = "Continue with Corp SSO";
pub const CORP_START: &str = "/login/upstream/corp";
pub const CORP_CALLBACK: &str = "/login/upstream/corp/callback";
/// The client id the downstream Gatehouse has at its upstream.
pub const DOWNSTREAM_CLIENT: &str = "downstream";

// ---------------------------------------------------------------------------------------
// Fixtures
// ---------------------------------------------------------------------------------------

/// An upstream Gatehouse on `http://localhost:<port>` and a downstream Gatehouse on
/// `http://127.0.0.1:<port>` whose `[[upstream]] corp` points at it; the downstream is a
/// first-party confidential client of the upstream.
pub struct Federation {
    /// The provider users come from.
    pub up: TestApp,
    /// The Gatehouse the apps use, with "Continue with Corp SSO".
    pub down: TestApp,
}

impl Federation {
    /// `[[upstream]]` with kind "oidc", adjusted by `adjust`.
    pub async fn start(backend: Backend, adjust: impl FnOnce(&mut RawUpstream)) -> Option<Federation> {
        let up = spawn_app_with(backend, |raw| raw.issuer = "http://localhost".into()).await?;
        assert!(up.base.starts_with("http://localhost:"), "{}", up.base);
        let secret = gatehouse::clients::generate_secret();
        let mut upstream = RawUpstream {
            id: CORP.into(),
            kind: "oidc".into(),
            name: Some(CORP_NAME.into()),
            issuer: Some(up.base.clone()),
            client_id: DOWNSTREAM_CLIENT.into(),
            client_secret: Some(secrecy::SecretString::from(secret.clone())),
            ..Default::default()
        };
        adjust(&mut upstream);
        let down = spawn_app_with(backend, move |raw| raw.upstream = vec![upstream]).await?;
        // The downstream's port is known only now; it fetches the upstream's discovery
        // document when the button is first pressed, so registering now is in time.
        let redirect = down.url(CORP_CALLBACK);
        add_client(&up.store, DOWNSTREAM_CLIENT, true, up.clock.now(), |c| {
            c.name = "Downstream Gatehouse".into();
            c.redirect_uris = vec![redirect];
            c.secret_hash = Some(gatehouse::secrets::digest(&secret));
            c.first_party = true;
        })
        .await;
        Some(Federation { up, down })
    }

    pub async fn corp(backend: Backend) -> Option<Federation> {
        Self::start(backend, |_| {}).await
    }

    pub async fn corp_auto_link(backend: Backend) -> Option<Federation> {
        Self::start(backend, |u| u.auto_link = true).await
    }

    /// The Google preset with its issuer pointed at the upstream Gatehouse.
    pub async fn google(backend: Backend) -> Option<Federation> {
        Self::start(backend, |u| u.kind = "google".into()).await
    }

    /// As `google`, for one Workspace domain: ID tokens must say `hd`.
    pub async fn google_hosted_domain(backend: Backend) -> Option<Federation> {
        Self::start(backend, |u| {
            u.kind = "google".into();
            u.hosted_domain = Some("corp.example".into());
        })
        .await
    }

    /// A browser with one cookie jar for both hosts.
    pub fn browser(&self) -> Browser {
        Browser::new(&self.down.base)
    }

    /// A user at the upstream (password `PASSWORD`).
    pub async fn upstream_user(&self, username: &str, email: &str) -> TestUser {
        create_user(&self.up.store, username, email, self.up.clock.now()).await
    }

    /// A confirmed local account at the downstream (password `PASSWORD`).
    pub async fn local_user(&self, username: &str, email: &str) -> TestUser {
        create_user(&self.down.store, username, email, self.down.clock.now()).await
    }

    /// The app's authorization request at the downstream, followed to its login page.
    pub async fn open_app(&self, browser: &Browser) -> (Page, String) {
        open_app(browser, &self.down).await
    }

    /// The whole way from the app, through the upstream (signing in there as `identifier`
    /// unless this browser is still signed in there), back to the downstream: the first
    /// page, or redirect out of Gatehouse, the user meets after the callback.
    pub async fn sign_in(&self, browser: &Browser, identifier: &str) -> (Page, String) {
        let (login, verifier) = self.open_app(browser).await;
        let callback = self.press_and_sign_in_upstream(browser, &login.text, identifier).await;
        (walk(browser, &callback, &[&self.down.base]).await, verifier)
    }

    /// Presses "Continue with Corp SSO" on `html` and signs in at the upstream; returns
    /// the callback URL the upstream sends the browser to (not yet visited).
    pub async fn press_and_sign_in_upstream(&self, browser: &Browser, html: &str, identifier: &str) -> String {
        let pressed = press(browser, &self.down, html).await;
        assert_eq!(pressed.status, 303, "the button leads to the upstream: {pressed:?}");
        let to_upstream = pressed.location.clone().expect("a redirect");
        assert!(to_upstream.starts_with(&self.up.base), "{to_upstream}");
        self.sign_in_upstream(browser, &to_upstream, identifier).await
    }

    /// Opens the upstream's authorization URL, signs in there if asked, and returns the
    /// callback URL it redirects to.
    pub async fn sign_in_upstream(&self, browser: &Browser, authorize: &str, identifier: &str) -> String {
        let mut page = walk_until(
            browser,
            authorize,
            &[&self.up.base],
            Some(&self.down.url(CORP_CALLBACK)),
        )
        .await;
        if page.status == 200 {
            assert!(
                page.url.starts_with(&self.up.url("/login")),
                "the upstream's login page: {page:?}"
            );
            let mut form = form_fields(&page.text, "/login").expect("the upstream's login form");
            set_field(&mut form, "identifier", identifier);
            set_field(&mut form, "password", PASSWORD);
            page = post(browser, &self.up.url("/login"), &form).await;
            assert_eq!(page.status, 303, "sign-in at the upstream as {identifier}: {page:?}");
            let next = page.location.clone().expect("redirect");
            if next.starts_with(&self.up.base) {
                page = walk_until(browser, &next, &[&self.up.base], Some(&self.down.url(CORP_CALLBACK))).await;
            }
        }
        let callback = page.location.clone().unwrap_or_default();
        assert!(
            is_redirect(page.status) && callback.starts_with(&self.down.url(CORP_CALLBACK)),
            "the upstream sends the browser back to the callback: {page:?}"
        );
        assert!(query_param(&callback, "code").is_some(), "{callback}");
        callback
    }

    /// Redeems the app's code; the ID token's claims and UserInfo's answer.
    pub async fn app_sees(&self, page: &Page, verifier: &str) -> (Value, Value) {
        app_sees(&self.down, page, verifier).await
    }
}

/// A downstream Gatehouse whose `[[upstream]] corp` is a `MockOp`.
pub struct Hostile {
    pub down: TestApp,
    pub op: MockOp,
}

impl Hostile {
    pub async fn start(backend: Backend, defect: Defect, claims: Value, auto_link: bool) -> Option<Hostile> {
        let op = MockOp::start(defect, claims).await;
        let upstream = RawUpstream {
            id: CORP.into(),
            kind: "oidc".into(),
            name: Some(CORP_NAME.into()),
            issuer: Some(op.base.clone()),
            client_id: DOWNSTREAM_CLIENT.into(),
            client_secret: Some(secrecy::SecretString::from("mock-secret".to_string())),
            auto_link,
            ..Default::default()
        };
        let down = spawn_app_with(backend, move |raw| raw.upstream = vec![upstream]).await?;
        Some(Hostile { down, op })
    }

    pub fn browser(&self) -> Browser {
        Browser::new(&self.down.base)
    }

    /// From the app through the provider and back: the first page (or redirect out of
    /// Gatehouse) after the callback.
    pub async fn sign_in(&self, browser: &Browser) -> (Page, String) {
        let (login, verifier) = open_app(browser, &self.down).await;
        let pressed = press(browser, &self.down, &login.text).await;
        assert_eq!(pressed.status, 303, "the button leads to the provider: {pressed:?}");
        let to = pressed.location.clone().expect("redirect");
        assert!(to.starts_with(&self.op.base), "{to}");
        (walk(browser, &to, &[&self.op.base, &self.down.base]).await, verifier)
    }
}

// ---------------------------------------------------------------------------------------
// A browser's view: pages, redirects and forms
// ---------------------------------------------------------------------------------------

/// One response as a browser sees it.
pub struct Page {
    pub status: u16,
    /// The URL that answered.
    pub url: String,
    /// Where it redirects to, made absolute.
    pub location: Option<String>,
    pub text: String,
}

impl std::fmt::Debug for Page {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let text: String = self.text.chars().take(3000).collect();
        write!(
            f,
            "{} from {} (Location: {:?})\n{}",
            self.status, self.url, self.location, text
        )
    }
}

impl Page {
    async fn from(url: &str, response: reqwest::Response) -> Page {
        let status = response.status().as_u16();
        let location = location(response.headers()).map(|l| {
            url::Url::parse(url)
                .and_then(|base| base.join(&l))
                .map(|u| u.to_string())
                .unwrap_or(l)
        });
        Page {
            status,
            url: url.to_string(),
            location,
            text: response.text().await.unwrap_or_default(),
        }
    }

    /// Gatehouse's own error page with `status` and a way back to the login page.
    #[track_caller]
    pub fn assert_error_page(&self, status: u16) {
        assert_eq!(self.status, status, "{self:?}");
        assert!(self.location.is_none(), "an error page, not a redirect: {self:?}");
        let back = ["href=\"/login", "href=\"&#x2f;login"];
        assert!(
            back.iter().any(|b| self.text.contains(b)),
            "a link back to /login: {self:?}"
        );
    }

    /// The app's redirect URI with a code: the sign-in went through.
    #[track_caller]
    pub fn app_code(&self) -> String {
        let to = self.location.clone().unwrap_or_default();
        assert!(
            is_redirect(self.status) && to.starts_with(CONFIDENTIAL_REDIRECT),
            "expected a redirect to the app with a code: {self:?}"
        );
        assert!(query_param(&to, "error").is_none(), "{to}");
        query_param(&to, "code").unwrap_or_else(|| panic!("a code in {to}"))
    }

    #[track_caller]
    pub fn assert_step(&self, heading: &str) {
        assert_eq!(self.status, 200, "expected the {heading:?} page: {self:?}");
        assert!(self.text.contains(heading), "expected the {heading:?} page: {self:?}");
    }
}

/// A redirect as Gatehouse sends them (303 from forms, 302 from /authorize).
pub fn is_redirect(status: u16) -> bool {
    matches!(status, 302 | 303)
}

pub async fn get(browser: &Browser, url: &str) -> Page {
    Page::from(url, browser.http.get(url).send().await.expect("GET")).await
}

pub async fn post(browser: &Browser, url: &str, form: &[(String, String)]) -> Page {
    Page::from(url, browser.http.post(url).form(form).send().await.expect("POST")).await
}

fn on_host(url: &str, bases: &[&str]) -> bool {
    bases
        .iter()
        .any(|base| url == *base || url.starts_with(&format!("{base}/")) || url.starts_with(&format!("{base}?")))
}

/// GETs `url` and follows redirects while they stay on one of `bases`; returns the first
/// page, or redirect elsewhere.
pub async fn walk(browser: &Browser, url: &str, bases: &[&str]) -> Page {
    walk_until(browser, url, bases, None).await
}

/// As `walk`, also stopping at a redirect to a URL starting with `stop`.
pub async fn walk_until(browser: &Browser, url: &str, bases: &[&str], stop: Option<&str>) -> Page {
    let mut page = get(browser, url).await;
    for _ in 0..15 {
        match &page.location {
            Some(next) if on_host(next, bases) && !stop.is_some_and(|s| next.starts_with(s)) => {
                let next = next.clone();
                page = get(browser, &next).await;
            }
            _ => return page,
        }
    }
    panic!("a redirect loop: {page:?}");
}

/// The fields of the form posting to `action` in `html`, as a browser would submit them
/// (inputs with their values; what the user types is set with `set_field`).
pub fn form_fields(html: &str, action: &str) -> Option<Vec<(String, String)>> {
    // minijinja escapes `/` in what it fills in; a literal in the template is not.
    let at = [action.to_string(), action.replace('/', "&#x2f;")]
        .iter()
        .find_map(|a| html.find(&format!("action=\"{a}\"")))?;
    let start = html[..at].rfind("<form")?;
    let end = at + html[at..].find("</form>")?;
    let form = &html[start..end];
    let mut fields = Vec::new();
    let mut rest = form;
    while let Some(i) = rest.find("<input") {
        let tag_end = rest[i..].find('>').map(|e| i + e).unwrap_or(rest.len());
        let tag = &rest[i..tag_end];
        if let Some(name) = attr(tag, "name") {
            fields.push((name, attr(tag, "value").unwrap_or_default()));
        }
        rest = &rest[tag_end..];
    }
    Some(fields)
}

pub fn set_field(form: &mut Vec<(String, String)>, name: &str, value: &str) {
    form.retain(|(n, _)| n != name);
    form.push((name.to_string(), value.to_string()));
}

pub fn field<'a>(form: &'a [(String, String)], name: &str) -> Option<&'a str> {
    form.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
}

/// An attribute of one tag, unescaped as a browser does.
fn attr(tag: &str, name: &str) -> Option<String> {
    let marker = format!(" {name}=\"");
    let start = tag.find(&marker)? + marker.len();
    let end = tag[start..].find('"')?;
    Some(
        tag[start..start + end]
            .replace("&#x2f;", "/")
            .replace("&#x27;", "'")
            .replace("&quot;", "\"")
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&amp;", "&"),
    )
}

/// The app's authorization request at `down`, followed to the login page.
pub async fn open_app(browser: &Browser, down: &TestApp) -> (Page, String) {
    let (authorize, verifier) = down.authorize_url(&down.client, &[]);
    let page = walk(browser, &authorize, &[&down.base]).await;
    assert_eq!(page.status, 200, "the login page: {page:?}");
    assert!(
        page.text.contains(CORP_BUTTON),
        "the login page offers {CORP_BUTTON:?}: {page:?}"
    );
    (page, verifier)
}

/// Presses "Continue with Corp SSO" on a downstream page; the response, not followed.
pub async fn press(browser: &Browser, down: &TestApp, html: &str) -> Page {
    let form = form_fields(html, CORP_START).expect("the Corp SSO form");
    assert!(field(&form, "csrf_token").is_some_and(|v| !v.is_empty()), "{form:?}");
    post(browser, &down.url(CORP_START), &form).await
}

/// Submits the "Choose a username" step (with `username`, or the suggestion) and follows
/// it as far as it goes on the downstream.
pub async fn choose_username(browser: &Browser, down: &TestApp, step: &Page, username: Option<&str>) -> Page {
    let mut form = form_fields(&step.text, "/login/upstream/username").expect("the username form");
    if let Some(username) = username {
        set_field(&mut form, "username", username);
    }
    follow_post(browser, down, "/login/upstream/username", &form).await
}

/// POSTs a form at `down` and follows the redirect as far as it stays on `down`.
pub async fn follow_post(browser: &Browser, down: &TestApp, path: &str, form: &[(String, String)]) -> Page {
    let page = post(browser, &down.url(path), form).await;
    match &page.location {
        Some(next) if on_host(next, &[&down.base]) => walk(browser, &next.clone(), &[&down.base]).await,
        _ => page,
    }
}

/// Whether this browser has a session at `down` (its account page opens).
pub async fn signed_in_at(browser: &Browser, down: &TestApp) -> bool {
    get(browser, &down.url("/account")).await.status == 200
}

/// Redeems the code the app got: the ID token's claims and what UserInfo says.
pub async fn app_sees(down: &TestApp, page: &Page, verifier: &str) -> (Value, Value) {
    let code = page.app_code();
    let response = down.redeem(&down.client, &code, verifier).await;
    assert_eq!(response.status(), 200, "code exchange");
    let tokens: Value = response.json().await.expect("token JSON");
    let claims = jwt_claims(tokens["id_token"].as_str().expect("an ID token"));
    let userinfo: Value = reqwest::Client::new()
        .get(down.url("/userinfo"))
        .bearer_auth(tokens["access_token"].as_str().expect("access token"))
        .send()
        .await
        .expect("userinfo")
        .json()
        .await
        .expect("userinfo JSON");
    (claims, userinfo)
}

/// The ID token of an upstream sign-in says so.
#[track_caller]
pub fn assert_federated(claims: &Value) {
    assert_eq!(claims["amr"], json!(["fed"]), "{claims}");
    assert_eq!(claims["idp"], json!(CORP), "{claims}");
}

// ---------------------------------------------------------------------------------------
// A hostile OpenID provider
// ---------------------------------------------------------------------------------------

/// What is wrong with the ID tokens `MockOp` issues.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Defect {
    /// Nothing: a well-behaved provider (for claims the upstream Gatehouse cannot send).
    None,
    WrongAudience,
    /// Signed by a key that is not in its JWKS (same `kid`).
    ForgedSignature,
    Expired,
    WrongNonce,
    WrongIssuer,
}

struct OpState {
    base: String,
    defect: Defect,
    claims: Map<String, Value>,
    nonce: Option<String>,
    signer: josekit::jws::alg::rsassa::RsassaJwsSigner,
    forger: josekit::jws::alg::rsassa::RsassaJwsSigner,
    jwks: Value,
    /// The second key's public JWK, published by `rotate`.
    next_public: Value,
    /// Signing with the second key (`kid` k2) since `rotate`.
    rotated: bool,
    jwks_fetches: usize,
}

/// An OpenID provider on loopback: discovery, JWKS, an authorization endpoint that sends
/// the browser straight back with a code, a token endpoint whose ID token has `defect`
/// and carries `claims` (its `sub`, `email`, `email_verified`, names), and UserInfo
/// answering only `sub`.
pub struct MockOp {
    pub base: String,
    state: Arc<Mutex<OpState>>,
}

impl MockOp {
    pub async fn start(defect: Defect, claims: Value) -> MockOp {
        use axum::routing::{get, post};
        use josekit::jws::RS256;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind mock OP");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let pair = RS256.generate_key_pair(2048).expect("RSA key");
        let forged = RS256.generate_key_pair(2048).expect("RSA key");
        let mut public = pair.to_jwk_public_key();
        public.set_key_id("k1");
        public.set_algorithm("RS256");
        public.set_key_use("sig");
        let jwks = json!({ "keys": [serde_json::to_value(public.as_ref()).expect("JWK")] });
        let mut next_public = forged.to_jwk_public_key();
        next_public.set_key_id("k2");
        next_public.set_algorithm("RS256");
        next_public.set_key_use("sig");
        let next_public = serde_json::to_value(next_public.as_ref()).expect("JWK");
        let mut claims = claims.as_object().cloned().unwrap_or_default();
        claims.entry("sub").or_insert(json!("mock-user-1"));
        let state = Arc::new(Mutex::new(OpState {
            base: base.clone(),
            defect,
            claims,
            nonce: None,
            signer: RS256.signer_from_jwk(&pair.to_jwk_private_key()).expect("signer"),
            forger: RS256.signer_from_jwk(&forged.to_jwk_private_key()).expect("signer"),
            jwks,
            next_public,
            rotated: false,
            jwks_fetches: 0,
        }));
        let router = axum::Router::new()
            .route("/.well-known/openid-configuration", get(op_discovery))
            .route("/jwks", get(op_jwks))
            .route("/authorize", get(op_authorize))
            .route("/token", post(op_token))
            .route("/userinfo", get(op_userinfo))
            .with_state(state.clone());
        tokio::spawn(async move { axum::serve(listener, router).await });
        MockOp { base, state }
    }

    /// Rotates: the second key joins the JWKS and signs every ID token from now on.
    pub fn rotate(&self) {
        let mut op = self.state.lock().unwrap();
        let next = op.next_public.clone();
        if let Some(keys) = op.jwks["keys"].as_array_mut() {
            keys.push(next);
        }
        op.rotated = true;
    }

    /// How often the JWKS was fetched.
    pub fn jwks_fetches(&self) -> usize {
        self.state.lock().unwrap().jwks_fetches
    }
}

type Op = axum::extract::State<Arc<Mutex<OpState>>>;

async fn op_discovery(axum::extract::State(op): Op) -> axum::Json<Value> {
    let base = op.lock().unwrap().base.clone();
    axum::Json(json!({
        "issuer": base,
        "authorization_endpoint": format!("{base}/authorize"),
        "token_endpoint": format!("{base}/token"),
        "jwks_uri": format!("{base}/jwks"),
        "userinfo_endpoint": format!("{base}/userinfo"),
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "scopes_supported": ["openid", "email", "profile"],
        "code_challenge_methods_supported": ["S256"],
    }))
}

async fn op_jwks(axum::extract::State(op): Op) -> axum::Json<Value> {
    let mut op = op.lock().unwrap();
    op.jwks_fetches += 1;
    axum::Json(op.jwks.clone())
}

async fn op_authorize(
    axum::extract::State(op): Op,
    axum::extract::Query(query): axum::extract::Query<std::collections::HashMap<String, String>>,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    op.lock().unwrap().nonce = query.get("nonce").cloned();
    let Some(Ok(mut back)) = query.get("redirect_uri").map(|r| url::Url::parse(r)) else {
        return (axum::http::StatusCode::BAD_REQUEST, "no redirect_uri").into_response();
    };
    back.query_pairs_mut()
        .append_pair("code", "mock-code")
        .append_pair("state", query.get("state").map(String::as_str).unwrap_or_default());
    axum::response::Redirect::to(back.as_str()).into_response()
}

async fn op_token(axum::extract::State(op): Op) -> axum::Json<Value> {
    let op = op.lock().unwrap();
    // The downstream's clock is the system clock too (Clock::system in the harness).
    let now = gatehouse::Clock::system().now();
    let mut claims = op.claims.clone();
    let defect = op.defect;
    let nonce = op.nonce.clone().unwrap_or_default();
    let set = |claims: &mut Map<String, Value>, k: &str, v: Value| {
        claims.insert(k.to_string(), v);
    };
    set(
        &mut claims,
        "iss",
        json!(if defect == Defect::WrongIssuer {
            "http://127.0.0.1:1"
        } else {
            op.base.as_str()
        }),
    );
    set(
        &mut claims,
        "aud",
        json!(if defect == Defect::WrongAudience {
            "someone-else"
        } else {
            DOWNSTREAM_CLIENT
        }),
    );
    let (iat, exp) = if defect == Defect::Expired {
        (now - 1200, now - 600)
    } else {
        (now, now + 300)
    };
    set(&mut claims, "iat", json!(iat));
    set(&mut claims, "exp", json!(exp));
    set(&mut claims, "auth_time", json!(iat));
    set(
        &mut claims,
        "nonce",
        json!(if defect == Defect::WrongNonce {
            "not-the-nonce".to_string()
        } else {
            nonce
        }),
    );
    let mut header = josekit::jws::JwsHeader::new();
    header.set_key_id(if op.rotated { "k2" } else { "k1" });
    header.set_token_type("JWT");
    let payload = josekit::jwt::JwtPayload::from_map(claims).expect("claims");
    let signer = if defect == Defect::ForgedSignature || op.rotated {
        &op.forger
    } else {
        &op.signer
    };
    let id_token = josekit::jwt::encode_with_signer(&payload, &header, signer).expect("sign");
    axum::Json(json!({
        "access_token": "mock-access-token",
        "token_type": "Bearer",
        "expires_in": 300,
        "id_token": id_token,
    }))
}

async fn op_userinfo(axum::extract::State(op): Op) -> axum::Json<Value> {
    let sub = op.lock().unwrap().claims.get("sub").cloned().unwrap_or_default();
    axum::Json(json!({ "sub": sub }))
}
