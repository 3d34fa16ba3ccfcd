//! The runner must be able to fail an OP. Against Gatehouse and a certified peer it reports
//! all PASS, which on its own would also be the result of checks that can never fire. So
//! here a tiny in-memory OP is started with one defect at a time, and each defect must
//! make the module the official suite catches it with FAIL, on the suite's condition.
//! With no defect the same OP must PASS those modules, so a failure is the defect's doing.

use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::{Form, Json, Router};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD as B64};
use base64::Engine;
use gatehouse_conformance::plans::flow::now;
use gatehouse_conformance::report::Severity;
use gatehouse_conformance::target::{ClientCreds, Interaction, InteractionKind, User};
use gatehouse_conformance::{run_plans, Plan, Report, Status, Target};
use josekit::jwk::alg::rsa::RsaKeyPair;
use josekit::jws::{JwsSigner, JwsVerifier, RS256};
use regex::Regex;
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::task::JoinHandle;
use url::Url;

/// What the fixture OP gets wrong; all false is an OP that passes the modules run here.
#[derive(Debug, Default, Clone, Copy)]
struct Defects {
    /// Authorization codes of 8 characters.
    short_code: bool,
    /// The authorization response leaves out `state`.
    drop_state: bool,
    /// The ID token's `aud` is not the client.
    wrong_aud: bool,
    /// The ID token leaves out the `nonce` that was sent.
    drop_nonce: bool,
    /// ID tokens are signed with a key the JWKS does not publish (under the published kid).
    foreign_signature: bool,
    /// A code can be redeemed any number of times.
    reusable_code: bool,
    /// Any redirect_uri is accepted.
    any_redirect_uri: bool,
    /// `prompt=none` without a session shows the login page.
    prompt_none_shows_login: bool,
    /// The JWKS publishes the private key.
    private_jwks: bool,
    /// UserInfo names another `sub` than the ID token.
    userinfo_other_sub: bool,
    /// end_session redirects to any post_logout_redirect_uri.
    any_post_logout_redirect_uri: bool,
}

const KID: &str = "fixture-key-1";
const CLIENTS: [(&str, &str); 2] = [("client-one", "secret-one"), ("client-two", "secret-two")];
const USER: (&str, &str) = ("alice", "wonderland");

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
struct Fixture {
    issuer: String,
    task: JoinHandle<()>,
}

impl Drop for Fixture {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn start_op(defects: Defects, target: &Target) -> Fixture {
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

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The target the runner is given; `issuer` is filled in once the OP is listening.
fn target(callback_port: u16) -> Target {
    let creds = |(id, secret): (&str, &str)| ClientCreds {
        id: id.into(),
        secret: secret.into(),
    };
    Target {
        issuer: String::new(),
        ca_file: None,
        callback_port,
        client: creds(CLIENTS[0]),
        client2: creds(CLIENTS[1]),
        user: User {
            username: USER.0.into(),
            password: USER.1.into(),
        },
        pages: None,
        interaction: vec![Interaction {
            kind: InteractionKind::Login,
            url: None,
            form: Some(Regex::new("/login$").unwrap()),
            fields: BTreeMap::from([
                ("username".into(), "{username}".into()),
                ("password".into(), "{password}".into()),
            ]),
            submit: None,
            when_field: None,
        }],
        concurrency: 3,
    }
}

/// Runs `modules` of `plan` against a fresh fixture with `defects`.
async fn run(defects: Defects, plan: Plan, modules: &[&str]) -> Report {
    let only: Vec<String> = modules.iter().map(|m| m.to_string()).collect();
    // The runner binds the callback port itself, so a port found free can be taken by a
    // test running alongside before it does: then try another.
    for _ in 0..3 {
        let mut target = target(free_port());
        let fixture = start_op(defects, &target).await;
        target.issuer = fixture.issuer.clone();
        let outcome = tokio::time::timeout(Duration::from_secs(20), run_plans(target, &[plan], &only))
            .await
            .expect("the run took longer than 20 s");
        match outcome {
            Err(e) if format!("{e:#}").contains("callback listener") => continue,
            Err(e) => panic!("the run could not start: {e:#}"),
            Ok(report) => {
                assert_eq!(
                    report.results.len(),
                    modules.len(),
                    "every module named ran:\n{}",
                    report.table()
                );
                return report;
            }
        }
    }
    panic!("no free callback port in 3 tries");
}

/// The module ran against an OP with `defects` and FAILED on `condition`.
async fn assert_fails(defects: Defects, plan: Plan, module: &str, condition: &str) {
    let report = run(defects, plan, &[module]).await;
    let result = &report.results[0];
    assert_eq!(
        result.status,
        Status::Failed,
        "{module} must fail against {defects:?}:\n{}",
        report.table()
    );
    assert!(
        result
            .findings
            .iter()
            .any(|f| f.severity == Severity::Failure && f.condition == condition),
        "{module} must fail on {condition} against {defects:?}:\n{}",
        report.table()
    );
}

const BASIC_MODULES: &[&str] = &[
    "oidcc-server",
    "oidcc-codereuse",
    "oidcc-ensure-registered-redirect-uri",
    "oidcc-prompt-none-not-logged-in",
    "oidcc-prompt-none-logged-in",
];
const LOGOUT_MODULES: &[&str] = &[
    "oidcc-rp-initiated-logout",
    "oidcc-rp-initiated-logout-bad-post-logout-redirect-uri",
];

#[tokio::test]
async fn a_correct_op_passes_the_basic_modules() {
    let report = run(Defects::default(), Plan::Basic, BASIC_MODULES).await;
    assert!(
        report.results.iter().all(|r| r.status == Status::Passed),
        "{}",
        report.table()
    );
}

#[tokio::test]
async fn a_correct_op_passes_the_logout_modules() {
    let report = run(Defects::default(), Plan::RpInitiatedLogout, LOGOUT_MODULES).await;
    assert!(
        report.results.iter().all(|r| r.status == Status::Passed),
        "{}",
        report.table()
    );
}

#[tokio::test]
async fn plain_http_fails_discovery_verification_on_https_only() {
    let report = run(
        Defects::default(),
        Plan::Config,
        &["oidcc-discovery-endpoint-verification"],
    )
    .await;
    let result = &report.results[0];
    assert_eq!(result.status, Status::Failed, "{}", report.table());
    let failed: Vec<&str> = result
        .findings
        .iter()
        .filter(|f| f.severity == Severity::Failure)
        .map(|f| f.condition.as_str())
        .collect();
    assert!(
        failed.contains(&"CheckDiscEndpointAllEndpointsAreHttps"),
        "{}",
        report.table()
    );
    // The document is otherwise sound: every failure is about the scheme.
    let https_conditions = [
        "CheckDiscEndpointDiscoveryUrl",
        "IssuerIsValidUrl",
        "CheckDiscEndpointAllEndpointsAreHttps",
        "CheckDiscEndpointUserinfoEndpoint",
        "CheckJwksUri",
    ];
    assert!(
        failed.iter().all(|c| https_conditions.contains(c)),
        "{}",
        report.table()
    );
}

#[tokio::test]
async fn a_module_name_no_chosen_plan_has_is_an_error() {
    let mut target = target(free_port());
    target.issuer = "http://127.0.0.1:9".into();
    let outcome = run_plans(target, &[Plan::Basic], &["oidcc-sever".into()]).await;
    assert!(outcome.is_err_and(|e| e.to_string().contains("oidcc-sever")));
}

#[tokio::test]
async fn short_authorization_code() {
    let defects = Defects {
        short_code: true,
        ..Defects::default()
    };
    assert_fails(
        defects,
        Plan::Basic,
        "oidcc-server",
        "EnsureMinimumAuthorizationCodeLength",
    )
    .await;
}

#[tokio::test]
async fn state_not_echoed() {
    let defects = Defects {
        drop_state: true,
        ..Defects::default()
    };
    assert_fails(defects, Plan::Basic, "oidcc-server", "CheckMatchingStateParameter").await;
}

#[tokio::test]
async fn id_token_for_another_audience() {
    let defects = Defects {
        wrong_aud: true,
        ..Defects::default()
    };
    assert_fails(defects, Plan::Basic, "oidcc-server", "ValidateIdToken").await;
}

#[tokio::test]
async fn nonce_not_echoed() {
    let defects = Defects {
        drop_nonce: true,
        ..Defects::default()
    };
    assert_fails(defects, Plan::Basic, "oidcc-server", "ValidateIdTokenNonce").await;
}

#[tokio::test]
async fn id_token_signed_with_an_unpublished_key() {
    let defects = Defects {
        foreign_signature: true,
        ..Defects::default()
    };
    assert_fails(defects, Plan::Basic, "oidcc-server", "ValidateIdTokenSignature").await;
}

#[tokio::test]
async fn code_redeemable_twice() {
    let defects = Defects {
        reusable_code: true,
        ..Defects::default()
    };
    assert_fails(
        defects,
        Plan::Basic,
        "oidcc-codereuse",
        "CheckTokenEndpointReturnedInvalidGrantForReusedCode",
    )
    .await;
}

#[tokio::test]
async fn redirect_to_an_unregistered_uri() {
    let defects = Defects {
        any_redirect_uri: true,
        ..Defects::default()
    };
    assert_fails(
        defects,
        Plan::Basic,
        "oidcc-ensure-registered-redirect-uri",
        "ExpectRedirectUriErrorPage",
    )
    .await;
}

#[tokio::test]
async fn prompt_none_without_session_shows_login() {
    let defects = Defects {
        prompt_none_shows_login: true,
        ..Defects::default()
    };
    let condition = "EnsureErrorFromAuthorizationEndpointResponse";
    assert_fails(defects, Plan::Basic, "oidcc-prompt-none-not-logged-in", condition).await;
}

#[tokio::test]
async fn jwks_publishes_the_private_key() {
    let defects = Defects {
        private_jwks: true,
        ..Defects::default()
    };
    assert_fails(
        defects,
        Plan::Basic,
        "oidcc-server",
        "EnsureServerJwksDoesNotContainPrivateOrSymmetricKeys",
    )
    .await;
}

#[tokio::test]
async fn userinfo_names_another_subject() {
    let defects = Defects {
        userinfo_other_sub: true,
        ..Defects::default()
    };
    assert_fails(
        defects,
        Plan::Basic,
        "oidcc-server",
        "VerifyUserInfoAndIdTokenInTokenEndpointSameSub",
    )
    .await;
}

#[tokio::test]
async fn logout_redirects_to_an_unregistered_uri() {
    let defects = Defects {
        any_post_logout_redirect_uri: true,
        ..Defects::default()
    };
    let module = "oidcc-rp-initiated-logout-bad-post-logout-redirect-uri";
    assert_fails(
        defects,
        Plan::RpInitiatedLogout,
        module,
        "ExpectNoRedirectToPostLogoutRedirectUri",
    )
    .await;
}
