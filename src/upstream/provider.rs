//! One upstream provider: its cached discovery document and JWKS, the authorization URL
//! (code + PKCE S256 + state + nonce), and the code exchange with the ID token checked
//! for signature, `iss`, `aud`, `azp`, `exp`, `iat` and `nonce`.

use super::identity::{self, Identity};
use super::UpstreamError;
use crate::config::upstream::{Upstream, UpstreamKind, GOOGLE_ISSUER};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use openidconnect::core::{
    CoreAuthPrompt, CoreAuthenticationFlow, CoreClient, CoreClientAuthMethod, CoreJsonWebKeySet, CoreProviderMetadata,
    CoreTokenResponse,
};
use openidconnect::{
    AuthType, AuthorizationCode, ClaimsVerificationError, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce,
    OAuth2TokenResponse, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope, TokenResponse,
};
use secrecy::ExposeSecret;
use serde_json::{Map, Value};
use tokio::sync::Mutex;

/// A discovery document is used this long before it is fetched again.
const METADATA_TTL_SECS: i64 = 3600;
/// After a failed discovery, presses of the button wait this long before another try.
const RETRY_AFTER_SECS: i64 = 5;
/// An unknown `kid` refetches the JWKS at most this often (checklist B11).
const JWKS_REFRESH_SECS: i64 = 60;
/// How far in the future an `iat` may lie (clock skew).
const IAT_SKEW_SECS: i64 = 300;

/// What one trip to the upstream needs to remember for its callback.
pub struct Trip {
    pub url: url::Url,
    pub verifier: String,
    pub nonce: String,
}

#[derive(Default)]
struct Cache {
    metadata: Option<CoreProviderMetadata>,
    fetched_at: i64,
    last_attempt: i64,
    jwks_fetched_at: i64,
}

pub struct Provider {
    pub config: Upstream,
    redirect_uri: String,
    http: reqwest::Client,
    cache: Mutex<Cache>,
}

impl Provider {
    pub fn new(config: Upstream, redirect_uri: String, http: reqwest::Client) -> Provider {
        Provider {
            config,
            redirect_uri,
            http,
            cache: Mutex::new(Cache::default()),
        }
    }

    /// The issuer as identities are keyed: Google's tokens also say `accounts.google.com`,
    /// which is the same issuer.
    pub fn issuer_key(&self) -> &str {
        &self.config.issuer
    }

    fn accepts_issuer(&self, iss: &str) -> bool {
        iss == self.config.issuer
            || (self.config.kind == UpstreamKind::Google
                && self.config.issuer == GOOGLE_ISSUER
                && iss == "accounts.google.com")
    }

    /// The discovery document, from the cache or fetched now.
    async fn metadata(&self, now: i64) -> Result<CoreProviderMetadata, UpstreamError> {
        let mut cache = self.cache.lock().await;
        if let Some(metadata) = &cache.metadata {
            if now - cache.fetched_at < METADATA_TTL_SECS {
                return Ok(metadata.clone());
            }
        }
        if cache.metadata.is_none() && now - cache.last_attempt < RETRY_AFTER_SECS && cache.last_attempt != 0 {
            return Err(UpstreamError::Unreachable("discovery failed moments ago".into()));
        }
        cache.last_attempt = now;
        let issuer =
            IssuerUrl::new(self.config.issuer.clone()).map_err(|e| UpstreamError::Unreachable(e.to_string()))?;
        match CoreProviderMetadata::discover_async(issuer, &self.http).await {
            Ok(metadata) => {
                cache.metadata = Some(metadata.clone());
                cache.fetched_at = now;
                cache.jwks_fetched_at = now;
                Ok(metadata)
            }
            // A stale document beats none while the provider is briefly away.
            Err(e) => match &cache.metadata {
                Some(stale) => {
                    tracing::warn!(upstream = %self.config.id, error = %e, "rediscovery failed; using the cached document");
                    Ok(stale.clone())
                }
                None => Err(UpstreamError::Unreachable(format!("discovery: {e}"))),
            },
        }
    }

    fn client(&self, metadata: CoreProviderMetadata) -> Result<RpClient, UpstreamError> {
        let post_only = metadata.token_endpoint_auth_methods_supported().is_some_and(|methods| {
            !methods.contains(&CoreClientAuthMethod::ClientSecretBasic)
                && methods.contains(&CoreClientAuthMethod::ClientSecretPost)
        });
        let secret = self
            .config
            .client_secret
            .as_ref()
            .map(|s| ClientSecret::new(s.expose_secret().to_string()));
        let redirect =
            RedirectUrl::new(self.redirect_uri.clone()).map_err(|e| UpstreamError::Unreachable(e.to_string()))?;
        let mut client =
            CoreClient::from_provider_metadata(metadata, ClientId::new(self.config.client_id.clone()), secret)
                .set_redirect_uri(redirect);
        if post_only {
            client = client.set_auth_type(AuthType::RequestBody);
        }
        Ok(client)
    }

    /// The authorization URL for one trip, with fresh state, nonce and PKCE verifier.
    /// `reauth` asks the provider for a new authentication (prompt=login, max_age=0).
    pub async fn start(&self, now: i64, state: &str, reauth: bool) -> Result<Trip, UpstreamError> {
        let metadata = self.metadata(now).await?;
        let client = self.client(metadata)?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let state = state.to_string();
        let mut request = client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                move || CsrfToken::new(state),
                Nonce::new_random,
            )
            .set_pkce_challenge(challenge);
        for scope in self.config.scopes.iter().filter(|s| *s != "openid") {
            request = request.add_scope(Scope::new(scope.clone()));
        }
        if let Some(domain) = &self.config.hosted_domain {
            request = request.add_extra_param("hd", domain.clone());
        }
        if reauth {
            request = request
                .add_prompt(CoreAuthPrompt::Login)
                .set_max_age(std::time::Duration::ZERO);
        }
        let (url, _, nonce) = request.url();
        Ok(Trip {
            url,
            verifier: verifier.secret().clone(),
            nonce: nonce.secret().clone(),
        })
    }

    /// Exchanges the code and validates what comes back. `started_at` is when the trip
    /// began: a re-authentication must be newer than that.
    pub async fn finish(
        &self,
        now: i64,
        code: &str,
        verifier: &str,
        nonce: &str,
        reauth_since: Option<i64>,
    ) -> Result<Identity, UpstreamError> {
        let metadata = self.metadata(now).await?;
        let client = self.client(metadata)?;
        let tokens: CoreTokenResponse = client
            .exchange_code(AuthorizationCode::new(code.to_string()))
            .map_err(|e| UpstreamError::Unreachable(format!("no token endpoint: {e}")))?
            .set_pkce_verifier(PkceCodeVerifier::new(verifier.to_string()))
            .request_async(&self.http)
            .await
            .map_err(|e| match e {
                openidconnect::RequestTokenError::ServerResponse(r) => {
                    UpstreamError::BadToken(format!("token endpoint said {}", r.error()))
                }
                // It answered, with something that is not a valid token response (an
                // `email_verified` of "true", say): the provider is up, its answer is bad.
                openidconnect::RequestTokenError::Parse(e, _) => {
                    UpstreamError::BadToken(format!("unreadable token response: {e}"))
                }
                other => UpstreamError::Unreachable(format!("token endpoint: {other}")),
            })?;
        let id_token = tokens
            .id_token()
            .ok_or_else(|| UpstreamError::BadToken("the token response has no id_token".into()))?;
        let nonce = Nonce::new(nonce.to_string());
        let verified = {
            let verifier = self.verifier(&client, now);
            id_token.claims(&verifier, &nonce).map(|_| ())
        };
        match verified {
            Ok(()) => {}
            // A key the cached JWKS lacks: the provider may have rotated. Refetch, rarely.
            Err(ClaimsVerificationError::SignatureVerification(_)) if self.refresh_jwks(now).await? => {
                let client = self.client(self.metadata(now).await?)?;
                let verifier = self.verifier(&client, now);
                id_token
                    .claims(&verifier, &nonce)
                    .map_err(|e| UpstreamError::BadToken(e.to_string()))?;
            }
            Err(e) => return Err(UpstreamError::BadToken(e.to_string())),
        }
        let claims = payload(&id_token.to_string())?;
        let iss = claims.get("iss").and_then(Value::as_str).unwrap_or_default();
        if !self.accepts_issuer(iss) {
            return Err(UpstreamError::BadToken(format!(
                "iss {iss:?} is not the configured issuer"
            )));
        }
        if let Some(domain) = &self.config.hosted_domain {
            let hd = claims.get("hd").and_then(Value::as_str).unwrap_or_default();
            if !hd.eq_ignore_ascii_case(domain) {
                return Err(UpstreamError::BadToken(format!("hd {hd:?} is not {domain:?}")));
            }
        }
        if let Some(since) = reauth_since {
            let auth_time = claims.get("auth_time").and_then(Value::as_i64).unwrap_or(0);
            if auth_time < since - IAT_SKEW_SECS {
                return Err(UpstreamError::BadToken(
                    "the provider did not authenticate the user again".into(),
                ));
            }
        }
        let userinfo = if claims.get("email").is_none() {
            self.userinfo(&client, tokens.access_token().secret()).await
        } else {
            None
        };
        Ok(identity::from_claims(&self.config.issuer, &claims, userinfo.as_ref()))
    }

    fn verifier<'a>(&self, client: &'a RpClient, now: i64) -> openidconnect::core::CoreIdTokenVerifier<'a> {
        let verifier = client.id_token_verifier();
        let verifier = if self.config.kind == UpstreamKind::Google {
            // Google's tokens may say `accounts.google.com`; `accepts_issuer` checks instead.
            verifier.require_issuer_match(false)
        } else {
            verifier
        };
        verifier.set_issue_time_verifier_fn(move |iat| {
            if iat.timestamp() > now + IAT_SKEW_SECS {
                Err(format!("iat {} is in the future", iat.timestamp()))
            } else {
                Ok(())
            }
        })
    }

    /// Refetches the JWKS unless it was fetched within the last minute. True if it did.
    async fn refresh_jwks(&self, now: i64) -> Result<bool, UpstreamError> {
        let mut cache = self.cache.lock().await;
        if now - cache.jwks_fetched_at < JWKS_REFRESH_SECS {
            return Ok(false);
        }
        cache.jwks_fetched_at = now;
        let Some(metadata) = cache.metadata.as_mut() else {
            return Ok(false);
        };
        let jwks = CoreJsonWebKeySet::fetch_async(metadata.jwks_uri(), &self.http)
            .await
            .map_err(|e| UpstreamError::Unreachable(format!("jwks: {e}")))?;
        *metadata = metadata.clone().set_jwks(jwks);
        Ok(true)
    }

    /// UserInfo, for claims the ID token lacks. A failure here costs only those claims.
    async fn userinfo(&self, client: &RpClient, access_token: &str) -> Option<Map<String, Value>> {
        let url = client.user_info_url()?.url().clone();
        let response = self.http.get(url).bearer_auth(access_token).send().await.ok()?;
        if !response.status().is_success() {
            tracing::warn!(upstream = %self.config.id, status = %response.status(), "userinfo refused");
            return None;
        }
        response.json::<Map<String, Value>>().await.ok()
    }
}

type RpClient = CoreClient<
    openidconnect::EndpointSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointMaybeSet,
    openidconnect::EndpointMaybeSet,
>;

/// The claims of a JWT whose signature has been verified.
fn payload(jwt: &str) -> Result<Map<String, Value>, UpstreamError> {
    let part = jwt.split('.').nth(1).unwrap_or_default();
    let bytes = URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|e| UpstreamError::BadToken(format!("payload: {e}")))?;
    serde_json::from_slice(&bytes).map_err(|e| UpstreamError::BadToken(format!("payload: {e}")))
}
