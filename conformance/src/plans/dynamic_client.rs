//! The relying party of the dynamic plan: its RSA keys, its registration at the OP's
//! `registration_endpoint` (OpenID Connect Dynamic Client Registration 1.0, RFC 7591) as
//! the suite's OIDCCCreateDynamicClientRegistrationRequest builds it, and what it signs
//! with its key: client assertions (private_key_jwt, OIDCC-9) and request objects (OIDCC-6).

use super::flow::{now, Reference, Which};
use super::{header_text, Ctx};
use crate::checks::Stop;
use crate::jose::random_token;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use josekit::jws::{JwsSigner, RS256};
use serde_json::{json, Map, Value};

/// One RSA signing key of the RP, with a `kid` of its own.
#[derive(Clone)]
pub struct RpKey {
    pub kid: String,
    private: josekit::jwk::Jwk,
    public: Value,
}

impl std::fmt::Debug for RpKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RpKey").field("kid", &self.kid).finish()
    }
}

impl RpKey {
    /// A fresh 2048-bit RSA key (GenerateRS256ClientJWKsWithKeyID).
    pub fn generate() -> Result<RpKey, String> {
        let pair = RS256.generate_key_pair(2048).map_err(|e| e.to_string())?;
        let kid = format!("rp-{}", random_token(9));
        let mut private = pair.to_jwk_private_key();
        private.set_key_id(&kid);
        private.set_algorithm("RS256");
        private.set_key_use("sig");
        let mut public = pair.to_jwk_public_key();
        public.set_key_id(&kid);
        public.set_algorithm("RS256");
        public.set_key_use("sig");
        Ok(RpKey {
            kid,
            private,
            public: Value::Object(public.as_ref().clone()),
        })
    }

    /// The public half as a JWK Set.
    pub fn jwks(&self) -> Value {
        json!({ "keys": [self.public.clone()] })
    }

    /// A compact JWS of `claims`, RS256, with this key's kid and the given `typ`.
    pub fn sign(&self, claims: &Map<String, Value>, typ: Option<&str>) -> Result<String, String> {
        let signer = RS256.signer_from_jwk(&self.private).map_err(|e| e.to_string())?;
        let mut header = json!({ "alg": "RS256", "kid": self.kid });
        if let Some(typ) = typ {
            header["typ"] = Value::String(typ.into());
        }
        let input = format!(
            "{}.{}",
            B64.encode(header.to_string()),
            B64.encode(Value::Object(claims.clone()).to_string())
        );
        let signature = signer.sign(input.as_bytes()).map_err(|e| e.to_string())?;
        Ok(format!("{input}.{}", B64.encode(signature)))
    }
}

/// A client this module registered.
#[derive(Debug, Clone)]
pub struct DynClient {
    pub id: String,
    pub secret: Option<String>,
    pub redirect_uri: String,
    /// The key the client signs with now.
    pub key: RpKey,
    pub registration_client_uri: Option<String>,
    pub registration_access_token: Option<String>,
}

/// A registration request before it is sent: the metadata and the key it names.
pub struct Registration {
    pub body: Map<String, Value>,
    pub key: RpKey,
    pub redirect_uri: String,
}

impl Registration {
    pub fn set(&mut self, name: &str, value: Value) -> &mut Self {
        self.body.insert(name.into(), value);
        self
    }

    pub fn remove(&mut self, name: &str) -> &mut Self {
        self.body.remove(name);
        self
    }
}

/// The registration endpoint's answer.
pub struct RegAnswer {
    pub status: u16,
    pub content_type: String,
    pub json: Option<Map<String, Value>>,
}

impl RegAnswer {
    pub fn error(&self) -> Option<&str> {
        self.json.as_ref()?.get("error")?.as_str()
    }

    fn describe(&self) -> String {
        match (self.error(), &self.json) {
            (Some(error), Some(json)) => format!(
                "HTTP {}, error {error}: {}",
                self.status,
                json.get("error_description").and_then(Value::as_str).unwrap_or("")
            ),
            _ => format!("HTTP {}", self.status),
        }
    }
}

const OIDCR: &str = "OIDCR-3.2";

impl Ctx {
    /// The suite's default registration: the code flow, a public JWK Set by value,
    /// private_key_jwt, one redirect URI, and contacts.
    pub fn registration(&mut self, redirect_uri: &str) -> Result<Registration, Stop> {
        let key = RpKey::generate().map_err(|e| Stop::Error(format!("generating the RP's RSA key: {e}")))?;
        let body = json!({
            "client_name": "gatehouse-conformance dynamic client",
            "grant_types": ["authorization_code"],
            "jwks": key.jwks(),
            "token_endpoint_auth_method": "private_key_jwt",
            "response_types": ["code"],
            "redirect_uris": [redirect_uri],
            "contacts": ["certification@oidf.example.com"],
        });
        let Value::Object(body) = body else {
            return Err(Stop::Error("the registration request is not an object".into()));
        };
        Ok(Registration {
            body,
            key,
            redirect_uri: redirect_uri.to_string(),
        })
    }

    /// POSTs a registration request and reads the answer, whatever it is.
    pub async fn call_registration(&mut self, body: &Map<String, Value>) -> Result<RegAnswer, Stop> {
        let endpoint = self.endpoint("registration_endpoint")?;
        let response = self
            .op
            .api
            .post(endpoint)
            .json(body)
            .send()
            .await
            .map_err(anyhow::Error::from)?;
        let status = response.status().as_u16();
        let content_type = header_text(&response, reqwest::header::CONTENT_TYPE);
        let text = response.text().await.map_err(anyhow::Error::from)?;
        let json = match serde_json::from_str::<Value>(&text) {
            Ok(Value::Object(map)) => Some(map),
            _ => None,
        };
        Ok(RegAnswer {
            status,
            content_type,
            json,
        })
    }

    /// Registers the client and checks the answer as the suite does (EnsureContentTypeJson,
    /// EnsureHttpStatusCodeIs201, ExtractDynamicRegistrationResponse).
    pub async fn register(&mut self, registration: Registration) -> Result<Which, Stop> {
        let answer = self.call_registration(&registration.body).await?;
        self.log.expect(
            answer.content_type.starts_with("application/json"),
            "EnsureContentTypeJson",
            OIDCR,
            format!("the registration answer's content type is {:?}", answer.content_type),
        );
        self.log.expect(
            answer.status == 201,
            "EnsureHttpStatusCodeIs201",
            OIDCR,
            format!("the registration endpoint answered {}", answer.describe()),
        );
        let id = answer
            .json
            .as_ref()
            .and_then(|j| j.get("client_id"))
            .and_then(Value::as_str)
            .filter(|id| !id.is_empty())
            .map(str::to_string);
        let Some(id) = id else {
            return Err(self.log.stop(
                "ExtractDynamicRegistrationResponse",
                OIDCR,
                format!("no client_id in the registration answer ({})", answer.describe()),
            ));
        };
        let field = |name: &str| {
            answer
                .json
                .as_ref()
                .and_then(|j| j.get(name))
                .and_then(Value::as_str)
                .map(str::to_string)
        };
        let index = u8::try_from(self.dynamic.len()).map_err(|_| Stop::Error("too many clients".into()))?;
        self.dynamic.push(DynClient {
            id,
            secret: field("client_secret"),
            redirect_uri: registration.redirect_uri,
            key: registration.key,
            registration_client_uri: field("registration_client_uri"),
            registration_access_token: field("registration_access_token"),
        });
        Ok(Which::Dynamic(index))
    }

    /// Deletes the clients this module registered (RFC 7592 §2.3), as the suite's cleanup
    /// does; an OP without the management endpoint is no finding (the suite logs INFO).
    pub async fn unregister_all(&mut self) {
        for client in std::mem::take(&mut self.dynamic) {
            if let (Some(uri), Some(token)) = (&client.registration_client_uri, &client.registration_access_token) {
                let _ = self.op.api.delete(uri).bearer_auth(token).send().await;
            }
        }
    }

    /// The registered client `which` (dynamic plan), if there is one.
    pub fn dyn_client(&mut self, which: Which) -> Result<&mut DynClient, Stop> {
        match which {
            Which::Dynamic(i) if (i as usize) < self.dynamic.len() => Ok(&mut self.dynamic[i as usize]),
            _ => Err(Stop::Error(format!("{which:?} is not a registered client"))),
        }
    }

    /// A private_key_jwt client assertion for `which` with audience `aud` (RFC 7523 §3).
    pub fn client_assertion(&mut self, which: Which, aud: &str) -> Result<String, Stop> {
        let client = self.dyn_client(which)?;
        let now = now();
        let claims = json!({
            "iss": client.id,
            "sub": client.id,
            "aud": aud,
            "jti": random_token(16),
            "iat": now,
            "exp": now + 60,
        });
        let Value::Object(claims) = claims else {
            return Err(Stop::Error("claims are not an object".into()));
        };
        client
            .key
            .sign(&claims, None)
            .map_err(|e| Stop::Error(format!("signing the client assertion: {e}")))
    }

    /// Turns the authorization request into an RS256 request object served at
    /// `reference` (ConvertAuthorizationEndpointRequestToRequestObject, AddAudToRequestObject,
    /// AddIssToRequestObject, SignRequestObject), and returns what the URL then carries
    /// (BuildRequestObjectByReferenceRedirectToAuthorizationEndpoint): client_id,
    /// response_type and scope again, as OIDCC-6.1 requires them outside the object, and
    /// request_uri.
    pub fn by_reference(
        &mut self,
        which: Which,
        params: Vec<(String, String)>,
        reference: &Reference,
    ) -> Result<Vec<(String, String)>, Stop> {
        let issuer = self.issuer();
        let client = self.dyn_client(which)?;
        let mut claims = Map::new();
        for (name, value) in &params {
            claims.insert(name.clone(), Value::String(value.clone()));
        }
        claims.insert("iss".into(), Value::String(client.id.clone()));
        claims.insert("aud".into(), Value::String(issuer));
        let jwt = client
            .key
            .sign(&claims, None)
            .map_err(|e| Stop::Error(format!("signing the request object: {e}")))?;
        self.op.documents.publish(&reference.path, "application/jose", jwt);
        let mut url_params: Vec<(String, String)> = params
            .into_iter()
            .filter(|(name, _)| ["client_id", "response_type", "scope"].contains(&name.as_str()))
            .collect();
        url_params.push(("request_uri".into(), reference.url.clone()));
        Ok(url_params)
    }
}
