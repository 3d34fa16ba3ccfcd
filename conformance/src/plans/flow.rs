//! The authorization code flow as steps: build and send the authorization request, read
//! the response at the callback, redeem the code, call UserInfo. Each step runs the
//! checks the official suite runs at that point.

use super::{header_text, Ctx};
use crate::browser::{Landing, Policy, Visit};
use crate::checks::{authz, id_token, token, userinfo, Stop};
use crate::jose::{pkce_pair, random_token, Jwt};
use serde_json::{Map, Value};
use url::Url;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Which {
    Client,
    Client2,
    /// A client the module registered itself (dynamic plan), by index in `Ctx::dynamic`.
    Dynamic(u8),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuth {
    Basic,
    Post,
    /// A client assertion signed with the client's RSA key, `aud` the token endpoint.
    PrivateKeyJwt,
    /// The same with the issuer as `aud` (oidcc-ensure-client-assertion-with-iss-aud-succeeds).
    PrivateKeyJwtIssuerAud,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserInfoCall {
    Get,
    PostHeader,
    PostBody,
}

/// An authorization request before it is sent.
#[derive(Debug, Clone)]
pub struct AuthRequest {
    pub which: Which,
    pub scope: String,
    pub nonce: bool,
    pub response_type: Option<&'static str>,
    pub params: Vec<(String, String)>,
    pub pkce: bool,
    pub post: bool,
    pub redirect_uri: Option<String>,
    /// Parameters in reverse order (oidcc-alternate-happy-flow).
    pub reversed: bool,
    /// Leave redirect_uri out (oidcc-ensure-redirect-uri-in-authorization-request).
    pub omit_redirect_uri: bool,
    /// Send the request as a signed request object the runner serves at this URL.
    pub by_reference: Option<Reference>,
}

/// Where the runner serves a request object: its URL and the path on the listener.
#[derive(Debug, Clone)]
pub struct Reference {
    pub url: String,
    pub path: String,
}

impl AuthRequest {
    pub fn new() -> AuthRequest {
        AuthRequest {
            which: Which::Client,
            scope: "openid".into(),
            nonce: true,
            response_type: Some("code"),
            params: Vec::new(),
            pkce: false,
            post: false,
            redirect_uri: None,
            reversed: false,
            omit_redirect_uri: false,
            by_reference: None,
        }
    }

    pub fn scope(mut self, scope: &str) -> Self {
        self.scope = scope.into();
        self
    }

    pub fn param(mut self, name: &str, value: &str) -> Self {
        self.params.push((name.into(), value.into()));
        self
    }

    pub fn client(mut self, which: Which) -> Self {
        self.which = which;
        self
    }
}

impl Default for AuthRequest {
    fn default() -> Self {
        AuthRequest::new()
    }
}

/// What was sent, to check the response against.
#[derive(Debug, Clone)]
pub struct Sent {
    pub which: Which,
    pub state: String,
    pub nonce: Option<String>,
    pub verifier: Option<String>,
    pub redirect_uri: String,
    pub scope: String,
    /// Whether the request named claims (`claims` parameter) beyond what the scope gives.
    pub asked_claims: bool,
}

/// A redeemed code.
#[derive(Debug, Clone)]
pub struct Tokens {
    pub json: Value,
    pub access_token: String,
    pub refresh_token: Option<String>,
    pub id_token: Jwt,
    /// What UserInfo said for the access token, when it was asked.
    pub userinfo: Map<String, Value>,
}

impl Tokens {
    pub fn sub(&self) -> &str {
        self.id_token.claim_str("sub").unwrap_or("")
    }

    pub fn auth_time(&self) -> Option<i64> {
        self.id_token.claim_i64("auth_time")
    }
}

/// The runner's wall clock, against which the OP's `iat`, `exp` and `auth_time` are judged.
// The workspace clippy.toml bans SystemTime::now in favour of Gatehouse's injectable
// clock; the runner is a separate crate that must compare with the real time the OP sees.
#[allow(clippy::disallowed_methods)]
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

impl Ctx {
    pub fn endpoint(&mut self, field: &str) -> Result<Url, Stop> {
        let value = self
            .op
            .metadata()
            .get(field)
            .and_then(Value::as_str)
            .map(str::to_string);
        match value.as_deref().map(Url::parse) {
            Some(Ok(url)) => Ok(url),
            _ => Err(self.log.stop(
                "CheckServerConfiguration",
                "OIDCD-3",
                format!("discovery has no usable {field}"),
            )),
        }
    }

    pub fn client_id(&self, which: Which) -> &str {
        match which {
            Which::Client => &self.op.target.client.id,
            Which::Client2 => &self.op.target.client2.id,
            Which::Dynamic(i) => self.dynamic.get(i as usize).map(|c| c.id.as_str()).unwrap_or(""),
        }
    }

    fn secret(&self, which: Which) -> &str {
        match which {
            Which::Client => &self.op.target.client.secret,
            Which::Client2 => &self.op.target.client2.secret,
            Which::Dynamic(i) => self
                .dynamic
                .get(i as usize)
                .and_then(|c| c.secret.as_deref())
                .unwrap_or(""),
        }
    }

    /// How `which` authenticates at the token endpoint unless a module says otherwise.
    pub fn default_auth(&self, which: Which) -> ClientAuth {
        match which {
            Which::Dynamic(_) => ClientAuth::PrivateKeyJwt,
            _ => ClientAuth::Basic,
        }
    }

    /// The redirect URI `which` registered.
    pub fn default_redirect_uri(&self, which: Which) -> String {
        match which {
            Which::Dynamic(i) => self
                .dynamic
                .get(i as usize)
                .map(|c| c.redirect_uri.clone())
                .unwrap_or_default(),
            _ => self.op.target.redirect_uri(),
        }
    }

    /// The issuer as discovery spells it: `iss` must match it exactly (OIDCC-3.1.3.7,
    /// RFC 9207 §2.4), trailing slash and all.
    pub fn issuer(&self) -> String {
        match self.op.metadata().get("issuer").and_then(Value::as_str) {
            Some(issuer) => issuer.to_string(),
            None => self.op.target.issuer().to_string(),
        }
    }

    /// Sends the user to the authorization endpoint and follows through to wherever that ends.
    pub async fn authorize(&mut self, req: &AuthRequest, policy: Policy) -> Result<(Sent, Visit), Stop> {
        let endpoint = self.endpoint("authorization_endpoint")?;
        let sent = Sent {
            which: req.which,
            state: random_token(16),
            nonce: req.nonce.then(|| random_token(16)),
            verifier: None,
            redirect_uri: req
                .redirect_uri
                .clone()
                .unwrap_or_else(|| self.default_redirect_uri(req.which)),
            scope: req.scope.clone(),
            asked_claims: req.params.iter().any(|(name, _)| name == "claims"),
        };
        let mut params: Vec<(String, String)> = vec![("client_id".into(), self.client_id(req.which).into())];
        if let Some(rt) = req.response_type {
            params.push(("response_type".into(), rt.into()));
        }
        params.push(("scope".into(), req.scope.clone()));
        if !req.omit_redirect_uri {
            params.push(("redirect_uri".into(), sent.redirect_uri.clone()));
        }
        params.push(("state".into(), sent.state.clone()));
        if let Some(nonce) = &sent.nonce {
            params.push(("nonce".into(), nonce.clone()));
        }
        if self.form_post {
            params.push(("response_mode".into(), "form_post".into()));
        }
        let mut sent = sent;
        if req.pkce {
            let (verifier, challenge) = pkce_pair();
            params.push(("code_challenge".into(), challenge));
            params.push(("code_challenge_method".into(), "S256".into()));
            sent.verifier = Some(verifier);
        }
        params.extend(req.params.iter().cloned());
        if req.reversed {
            params.reverse();
        }
        if let Some(reference) = &req.by_reference {
            params = self.by_reference(req.which, params, reference)?;
        }
        let visit = if req.post {
            self.browser.post(endpoint, params, policy).await?
        } else {
            let mut url = endpoint;
            url.query_pairs_mut().extend_pairs(params);
            self.browser.get(url, policy).await?
        };
        Ok((sent, visit))
    }

    fn authz_expect<'a>(&self, sent: &'a Sent, issuer: &'a str) -> authz::Expect<'a> {
        authz::Expect {
            state: &sent.state,
            issuer,
            form_post: self.form_post,
        }
    }

    /// The visit must end at the callback with a code.
    pub fn expect_code(&mut self, sent: &Sent, visit: &Visit) -> Result<String, Stop> {
        let issuer = self.issuer();
        match &visit.landing {
            Landing::Callback(arrival) => {
                let expect = self.authz_expect(sent, &issuer);
                authz::success(&mut self.log, arrival, &expect)
            }
            Landing::Page(page) => Err(self.log.stop(
                "ExpectRedirectToCallback",
                "OIDCC-3.1.2.5",
                format!(
                    "the browser stopped at {} (HTTP {}) instead of returning to the client",
                    page.url, page.status
                ),
            )),
        }
    }

    /// The visit must end at the callback with one of the `allowed` errors.
    pub fn expect_error(&mut self, sent: &Sent, visit: &Visit, allowed: &[&str]) -> Result<(), Stop> {
        let issuer = self.issuer();
        match &visit.landing {
            Landing::Callback(arrival) => {
                let expect = self.authz_expect(sent, &issuer);
                authz::error(&mut self.log, arrival, &expect, allowed)
            }
            Landing::Page(page) => Err(self.log.stop(
                "EnsureErrorFromAuthorizationEndpointResponse",
                "OIDCC-3.1.2.6",
                format!(
                    "expected a redirect with error in {allowed:?}; the browser stopped at {} (HTTP {}), showing UI",
                    page.url, page.status
                ),
            )),
        }
    }

    /// POSTs to the token endpoint as `which`, authenticating with `auth`.
    pub async fn token_call(
        &mut self,
        which: Which,
        mut form: Vec<(String, String)>,
        auth: ClientAuth,
    ) -> Result<token::Answer, Stop> {
        let endpoint = self.endpoint("token_endpoint")?;
        let id = self.client_id(which).to_string();
        let secret = self.secret(which).to_string();
        let mut request = self.op.api.post(endpoint.clone());
        match auth {
            ClientAuth::PrivateKeyJwt | ClientAuth::PrivateKeyJwtIssuerAud => {
                let aud = match auth {
                    ClientAuth::PrivateKeyJwt => endpoint.to_string(),
                    _ => self.issuer(),
                };
                let assertion = self.client_assertion(which, &aud)?;
                form.push((
                    "client_assertion_type".into(),
                    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer".into(),
                ));
                form.push(("client_assertion".into(), assertion));
            }
            ClientAuth::Basic => {
                // RFC 6749 §2.3.1: both parts form-urlencoded before the Basic encoding.
                let enc = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
                request = request.basic_auth(enc(&id), Some(enc(&secret)));
            }
            ClientAuth::Post => {
                form.push(("client_id".into(), id));
                form.push(("client_secret".into(), secret));
            }
        }
        let response = request.form(&form).send().await.map_err(anyhow::Error::from)?;
        let content_type = header_text(&response, reqwest::header::CONTENT_TYPE);
        let cache_control = header_text(&response, reqwest::header::CACHE_CONTROL);
        let status = response.status().as_u16();
        let body = response.text().await.map_err(anyhow::Error::from)?;
        Ok(token::Answer {
            status,
            content_type,
            cache_control,
            body,
        })
    }

    /// Redeems a code and validates everything that comes back.
    pub async fn exchange(&mut self, sent: &Sent, code: &str, auth: ClientAuth) -> Result<Tokens, Stop> {
        let mut form = vec![
            ("grant_type".to_string(), "authorization_code".to_string()),
            ("code".to_string(), code.to_string()),
            ("redirect_uri".to_string(), sent.redirect_uri.clone()),
        ];
        if let Some(verifier) = &sent.verifier {
            form.push(("code_verifier".into(), verifier.clone()));
        }
        let answer = self.token_call(sent.which, form, auth).await?;
        let json = token::success(&mut self.log, &answer, false)?;
        let nonce = match &sent.nonce {
            Some(n) => id_token::Nonce::Sent(n),
            None => id_token::Nonce::NotSent,
        };
        let tokens = self.tokens_from(json, sent.which, nonce).await?;
        // Data minimisation, in every module: asked for nothing but openid, the ID token
        // says nothing else about the user.
        if sent.scope == "openid" && !sent.asked_claims {
            id_token::minimal(&mut self.log, &tokens.id_token);
        }
        Ok(tokens)
    }

    /// Reads and validates a token response's tokens.
    pub async fn tokens_from(&mut self, json: Value, which: Which, nonce: id_token::Nonce<'_>) -> Result<Tokens, Stop> {
        let access_token = json
            .get("access_token")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let refresh_token = json.get("refresh_token").and_then(Value::as_str).map(str::to_string);
        let raw = json.get("id_token").and_then(Value::as_str).unwrap_or("").to_string();
        let issuer = self.issuer();
        let client_id = self.client_id(which).to_string();
        let expect = id_token::Expect {
            issuer: &issuer,
            client_id: &client_id,
            nonce,
            access_token: Some(&access_token),
            now: now(),
        };
        let kid = Jwt::parse(&raw)
            .ok()
            .and_then(|jwt| jwt.header.get("kid").and_then(Value::as_str).map(str::to_string));
        let jwks = self.op.keys_for(kid.as_deref()).await;
        let id_token = id_token::validate(&mut self.log, &raw, &jwks, &expect)?;
        Ok(Tokens {
            json,
            access_token,
            refresh_token,
            id_token,
            userinfo: Map::new(),
        })
    }

    /// The whole happy path: sign in, get a code, redeem it, and use the access token at
    /// UserInfo with GET, as every module of the suite ends.
    pub async fn sign_in(&mut self, req: &AuthRequest) -> Result<(Sent, Visit, Tokens), Stop> {
        self.sign_in_then(req, Some(UserInfoCall::Get)).await
    }

    /// As `sign_in`, using UserInfo the way `how` says (or not at all).
    pub async fn sign_in_then(
        &mut self,
        req: &AuthRequest,
        how: Option<UserInfoCall>,
    ) -> Result<(Sent, Visit, Tokens), Stop> {
        let (sent, visit) = self.authorize(req, Policy::USER).await?;
        let code = self.expect_code(&sent, &visit)?;
        let auth = self.default_auth(req.which);
        let mut tokens = self.exchange(&sent, &code, auth).await?;
        if let Some(how) = how {
            tokens.userinfo = self.userinfo(&tokens, how).await?;
        }
        Ok((sent, visit, tokens))
    }

    /// Calls UserInfo; returns (status, content type, body).
    pub async fn userinfo_call(
        &mut self,
        access_token: &str,
        how: UserInfoCall,
    ) -> Result<(u16, String, String), Stop> {
        let endpoint = self.endpoint("userinfo_endpoint")?;
        let request = match how {
            UserInfoCall::Get => self.op.api.get(endpoint).bearer_auth(access_token),
            UserInfoCall::PostHeader => self.op.api.post(endpoint).bearer_auth(access_token),
            UserInfoCall::PostBody => self.op.api.post(endpoint).form(&[("access_token", access_token)]),
        };
        let response = request.send().await.map_err(anyhow::Error::from)?;
        let status = response.status().as_u16();
        let content_type = header_text(&response, reqwest::header::CONTENT_TYPE);
        let body = response.text().await.map_err(anyhow::Error::from)?;
        Ok((status, content_type, body))
    }

    /// Calls UserInfo and checks the answer against the ID token.
    pub async fn userinfo(&mut self, tokens: &Tokens, how: UserInfoCall) -> Result<Map<String, Value>, Stop> {
        let (status, content_type, body) = self.userinfo_call(&tokens.access_token, how).await?;
        userinfo::success(&mut self.log, status, &content_type, &body, tokens.sub())
    }
}
