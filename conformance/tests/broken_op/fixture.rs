//! The fixture: a tiny in-memory OP on loopback (discovery, JWKS, authorize and login,
//! token, UserInfo, logout) that gets wrong exactly what its `Defects` say.

use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::{Form, Json, Router};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD as B64};
use base64::Engine;
use gatehouse_conformance::plans::flow::now;
use gatehouse_conformance::Target;
use josekit::jwk::alg::rsa::RsaKeyPair;
use josekit::jws::{JwsSigner, JwsVerifier, RS256};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::task::JoinHandle;
use url::Url;

/// What the fixture OP gets wrong; all false is an OP that passes the modules run here.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Defects {
    /// Authorization codes of 8 characters.
    pub(crate) short_code: bool,
    /// The authorization response leaves out `state`.
    pub(crate) drop_state: bool,
    /// The ID token's `aud` is not the client.
    pub(crate) wrong_aud: bool,
    /// The ID token leaves out the `nonce` that was sent.
    pub(crate) drop_nonce: bool,
    /// ID tokens are signed with a key the JWKS does not publish (under the published kid).
    pub(crate) foreign_signature: bool,
    /// A code can be redeemed any number of times.
    pub(crate) reusable_code: bool,
    /// Any redirect_uri is accepted.
    pub(crate) any_redirect_uri: bool,
    /// `prompt=none` without a session shows the login page.
    pub(crate) prompt_none_shows_login: bool,
    /// The JWKS publishes the private key.
    pub(crate) private_jwks: bool,
    /// UserInfo names another `sub` than the ID token.
    pub(crate) userinfo_other_sub: bool,
    /// end_session redirects to any post_logout_redirect_uri.
    pub(crate) any_post_logout_redirect_uri: bool,
}

const KID: &str = "fixture-key-1";
pub(crate) const CLIENTS: [(&str, &str); 2] = [("client-one", "secret-one"), ("client-two", "secret-two")];
pub(crate) const USER: (&str, &str) = ("alice", "wonderland");

#[derive(Clone)]
struct Grant {
    client_id: String,
    redirect_uri: String,
    nonce: Option<String>,
    sub: String,
    auth_time: i64,
}

#[derive(Clone)]
struct Session {
    sub: String,
    auth_time: i64,
}

struct Op {
    issuer: String,
    defects: Defects,
    /// The only redirect URI and post-logout redirect URI the clients registered.
    redirect_uri: String,
    post_logout_redirect_uri: String,
    key: RsaKeyPair,
    /// Signs instead of `key` when `foreign_signature` is set.
    stranger: RsaKeyPair,
    sessions: Mutex<HashMap<String, Session>>,
    codes: Mutex<HashMap<String, Grant>>,
    access_tokens: Mutex<HashMap<String, String>>,
}

type Params = HashMap<String, String>;

fn random(bytes: usize) -> String {
    use rand::RngCore;
    let mut buf = vec![0u8; bytes];
    rand::thread_rng().fill_bytes(&mut buf);
    B64.encode(buf)
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('"', "&quot;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn error_page(message: &str) -> Response {
    let body = format!(
        "<!doctype html><html><body><h1>Error</h1><p>{}</p></body></html>",
        escape(message)
    );
    (StatusCode::BAD_REQUEST, Html(body)).into_response()
}

fn redirect(to: &str, cookie: Option<String>) -> Response {
    let mut response = Response::builder()
        .status(StatusCode::SEE_OTHER)
        .header(header::LOCATION, to);
    if let Some(cookie) = cookie {
        response = response.header(header::SET_COOKIE, cookie);
    }
    response.body(Body::empty()).unwrap()
}

fn json_response(status: StatusCode, body: Value) -> Response {
    (status, [(header::CACHE_CONTROL, "no-store")], Json(body)).into_response()
}

fn with_params(base: &str, params: &[(&str, &str)]) -> String {
    let mut url = Url::parse(base).unwrap();
    url.query_pairs_mut().extend_pairs(params);
    url.into()
}

fn session_id(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|c| c.trim().strip_prefix("sid=").map(str::to_string))
}

impl Op {
    fn client_known(&self, client_id: &str) -> bool {
        CLIENTS.iter().any(|(id, _)| *id == client_id)
    }

    fn redirect_uri_ok(&self, client_id: &str, redirect_uri: &str) -> bool {
        self.client_known(client_id) && (self.defects.any_redirect_uri || redirect_uri == self.redirect_uri)
    }

    fn session(&self, headers: &HeaderMap) -> Option<Session> {
        let sid = session_id(headers)?;
        self.sessions.lock().unwrap().get(&sid).cloned()
    }

    /// The login page; the request travels in hidden fields so the POST can finish it.
    fn login_page(&self, p: &Params) -> Response {
        let hidden: String = ["client_id", "redirect_uri", "state", "nonce", "scope"]
            .iter()
            .filter_map(|name| p.get(*name).map(|v| (name, v)))
            .map(|(name, v)| format!(r#"<input type="hidden" name="{name}" value="{}">"#, escape(v)))
            .collect();
        Html(format!(
            r#"<!doctype html><html><body><h1>Sign in</h1><form method="post" action="/login">{hidden}
            <input name="username"><input type="password" name="password"><button type="submit">Sign in</button>
            </form></body></html>"#
        ))
        .into_response()
    }

    /// Issues a code for the signed-in user and sends the browser back to the client.
    fn respond_with_code(&self, p: &Params, session: &Session, cookie: Option<String>) -> Response {
        let code = random(if self.defects.short_code { 6 } else { 32 });
        self.codes.lock().unwrap().insert(
            code.clone(),
            Grant {
                client_id: p["client_id"].clone(),
                redirect_uri: p["redirect_uri"].clone(),
                nonce: p.get("nonce").cloned(),
                sub: session.sub.clone(),
                auth_time: session.auth_time,
            },
        );
        let mut params = vec![("code", code.as_str())];
        if let Some(state) = p.get("state").filter(|_| !self.defects.drop_state) {
            params.push(("state", state));
        }
        redirect(&with_params(&p["redirect_uri"], &params), cookie)
    }

    fn id_token(&self, grant: &Grant) -> String {
        let now = now();
        let aud = if self.defects.wrong_aud {
            "someone-else"
        } else {
            grant.client_id.as_str()
        };
        let mut claims = json!({
            "iss": self.issuer, "sub": grant.sub, "aud": aud,
            "iat": now, "exp": now + 600, "auth_time": grant.auth_time,
        });
        if let Some(nonce) = grant.nonce.as_ref().filter(|_| !self.defects.drop_nonce) {
            claims["nonce"] = json!(nonce);
        }
        let header = json!({"alg": "RS256", "typ": "JWT", "kid": KID});
        let input = format!("{}.{}", B64.encode(header.to_string()), B64.encode(claims.to_string()));
        let key = if self.defects.foreign_signature {
            &self.stranger
        } else {
            &self.key
        };
        let signer = RS256.signer_from_jwk(&key.to_jwk_private_key()).unwrap();
        format!("{input}.{}", B64.encode(signer.sign(input.as_bytes()).unwrap()))
    }

    /// The client an ID token this OP signed was issued to.
    fn hint_client(&self, raw: &str) -> Option<String> {
        let (input, signature) = raw.rsplit_once('.')?;
        let verifier = RS256.verifier_from_jwk(&self.key.to_jwk_public_key()).ok()?;
        verifier.verify(input.as_bytes(), &B64.decode(signature).ok()?).ok()?;
        let payload = input.split_once('.')?.1;
        let claims: Value = serde_json::from_slice(&B64.decode(payload).ok()?).ok()?;
        (claims["iss"] == self.issuer).then(|| claims["aud"].as_str().map(str::to_string))?
    }

    fn end_session(&self, headers: &HeaderMap) -> String {
        if let Some(sid) = session_id(headers) {
            self.sessions.lock().unwrap().remove(&sid);
        }
        "sid=; Path=/; Max-Age=0".into()
    }
}

async fn discovery(State(op): State<Arc<Op>>) -> Json<Value> {
    let i = &op.issuer;
    Json(json!({
        "issuer": i,
        "authorization_endpoint": format!("{i}/authorize"),
        "token_endpoint": format!("{i}/token"),
        "userinfo_endpoint": format!("{i}/userinfo"),
        "jwks_uri": format!("{i}/jwks"),
        "end_session_endpoint": format!("{i}/logout"),
        "scopes_supported": ["openid"],
        "response_types_supported": ["code"],
        "grant_types_supported": ["authorization_code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic"],
        "claims_supported": ["sub", "iss", "aud", "exp", "iat", "auth_time", "nonce"],
    }))
}

async fn jwks(State(op): State<Arc<Op>>) -> Json<Value> {
    let mut jwk = if op.defects.private_jwks {
        op.key.to_jwk_private_key()
    } else {
        op.key.to_jwk_public_key()
    };
    jwk.set_key_id(KID);
    jwk.set_key_use("sig");
    jwk.set_algorithm("RS256");
    Json(json!({"keys": [Value::Object(jwk.as_ref().clone())]}))
}

async fn authorize(State(op): State<Arc<Op>>, headers: HeaderMap, Query(p): Query<Params>) -> Response {
    let client_id = p.get("client_id").map(String::as_str).unwrap_or("");
    let redirect_uri = p.get("redirect_uri").map(String::as_str).unwrap_or("");
    // Before the redirect URI is known to be the client's, nothing may be sent to it.
    if !op.redirect_uri_ok(client_id, redirect_uri) {
        return error_page("invalid request: unknown client or redirect_uri not registered");
    }
    let error = |error: &str| {
        let mut params = vec![("error", error)];
        if let Some(state) = p.get("state") {
            params.push(("state", state));
        }
        redirect(&with_params(redirect_uri, &params), None)
    };
    if p.get("response_type").map(String::as_str) != Some("code") {
        return error("unsupported_response_type");
    }
    let prompt = p.get("prompt").map(String::as_str).unwrap_or("");
    match op.session(&headers) {
        Some(session) if prompt != "login" => op.respond_with_code(&p, &session, None),
        _ if prompt == "none" && !op.defects.prompt_none_shows_login => error("login_required"),
        _ => op.login_page(&p),
    }
}

async fn login(State(op): State<Arc<Op>>, Form(p): Form<Params>) -> Response {
    let field = |name: &str| p.get(name).map(String::as_str).unwrap_or("");
    if !op.redirect_uri_ok(field("client_id"), field("redirect_uri")) {
        return error_page("invalid request: unknown client or redirect_uri not registered");
    }
    if (field("username"), field("password")) != USER {
        return op.login_page(&p);
    }
    let sid = random(24);
    let session = Session {
        sub: format!("user-{}", USER.0),
        auth_time: now(),
    };
    op.sessions.lock().unwrap().insert(sid.clone(), session.clone());
    op.respond_with_code(&p, &session, Some(format!("sid={sid}; Path=/; HttpOnly")))
}

async fn token(State(op): State<Arc<Op>>, headers: HeaderMap, Form(p): Form<Params>) -> Response {
    let creds = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b| STANDARD.decode(b).ok())
        .and_then(|b| String::from_utf8(b).ok());
    let decode = |s: &str| {
        url::form_urlencoded::parse(format!("x={s}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
    };
    let client = creds
        .as_deref()
        .and_then(|c| c.split_once(':'))
        .and_then(|(id, secret)| Some((decode(id)?, decode(secret)?)))
        .filter(|(id, secret)| CLIENTS.iter().any(|(i, s)| i == id && s == secret));
    let Some((client_id, _)) = client else {
        return json_response(StatusCode::UNAUTHORIZED, json!({"error": "invalid_client"}));
    };
    if p.get("grant_type").map(String::as_str) != Some("authorization_code") {
        return json_response(StatusCode::BAD_REQUEST, json!({"error": "unsupported_grant_type"}));
    }
    let code = p.get("code").cloned().unwrap_or_default();
    let grant = {
        let mut codes = op.codes.lock().unwrap();
        if op.defects.reusable_code {
            codes.get(&code).cloned()
        } else {
            codes.remove(&code)
        }
    };
    let grant = grant.filter(|g| g.client_id == client_id && p.get("redirect_uri") == Some(&g.redirect_uri));
    let Some(grant) = grant else {
        return json_response(StatusCode::BAD_REQUEST, json!({"error": "invalid_grant"}));
    };
    let access_token = random(32);
    op.access_tokens
        .lock()
        .unwrap()
        .insert(access_token.clone(), grant.sub.clone());
    json_response(
        StatusCode::OK,
        json!({
            "access_token": access_token, "token_type": "Bearer", "expires_in": 3600,
            "id_token": op.id_token(&grant),
        }),
    )
}

async fn userinfo(State(op): State<Arc<Op>>, headers: HeaderMap) -> Response {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let sub = bearer.and_then(|t| op.access_tokens.lock().unwrap().get(t).cloned());
    match sub {
        None => (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Bearer error=\"invalid_token\"")],
        )
            .into_response(),
        Some(sub) => {
            let sub = if op.defects.userinfo_other_sub {
                format!("{sub}-other")
            } else {
                sub
            };
            Json(json!({"sub": sub})).into_response()
        }
    }
}

async fn logout(State(op): State<Arc<Op>>, headers: HeaderMap, Query(p): Query<Params>) -> Response {
    let Some(target) = p.get("post_logout_redirect_uri") else {
        let cookie = op.end_session(&headers);
        let page = "<!doctype html><html><body><p>You are signed out.</p></body></html>";
        return ([(header::SET_COOKIE, cookie)], Html(page)).into_response();
    };
    let client = p.get("id_token_hint").and_then(|h| op.hint_client(h));
    let registered = op.defects.any_post_logout_redirect_uri || *target == op.post_logout_redirect_uri;
    if client.is_none_or(|c| !op.client_known(&c)) || !registered {
        return error_page("invalid logout request: id_token_hint or post_logout_redirect_uri not accepted");
    }
    let cookie = op.end_session(&headers);
    let params: Vec<(&str, &str)> = p.get("state").map(|s| ("state", s.as_str())).into_iter().collect();
    redirect(&with_params(target, &params), Some(cookie))
}

/// A running fixture OP; stops when dropped.
pub(crate) struct Fixture {
    pub(crate) issuer: String,
    task: JoinHandle<()>,
}

impl Drop for Fixture {
    fn drop(&mut self) {
        self.task.abort();
    }
}

pub(crate) async fn start_op(defects: Defects, target: &Target) -> Fixture {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let issuer = format!("http://{}", listener.local_addr().unwrap());
    let op = Arc::new(Op {
        issuer: issuer.clone(),
        defects,
        redirect_uri: target.redirect_uri(),
        post_logout_redirect_uri: target.post_logout_redirect_uri(),
        key: RS256.generate_key_pair(2048).unwrap(),
        stranger: RS256.generate_key_pair(2048).unwrap(),
        sessions: Mutex::default(),
        codes: Mutex::default(),
        access_tokens: Mutex::default(),
    });
    let app = Router::new()
        .route("/.well-known/openid-configuration", get(discovery))
        .route("/jwks", get(jwks))
        .route("/authorize", get(authorize))
        .route("/login", axum::routing::post(login))
        .route("/token", axum::routing::post(token))
        .route("/userinfo", get(userinfo).post(userinfo))
        .route("/logout", get(logout))
        .with_state(op);
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Fixture { issuer, task }
}
