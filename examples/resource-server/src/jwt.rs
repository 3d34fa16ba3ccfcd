//! `GET /jwt/hello`: the access token (an RFC 9068 JWT) verified here, against
//! Gatehouse's JWKS held in memory. No call to Gatehouse per request, so it is the fastest
//! mode, and the one that keeps working while Gatehouse is down; the price is that a
//! revoked token stays valid here until its `exp`.

use crate::reply::{presented, Granted, Refusal};
use crate::AppState;
use axum::extract::{OriginalUri, State};
use axum::http::{HeaderMap, Method};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

/// How often an unknown `kid` may send us back to the JWKS: often enough that a rotation
/// is picked up at once, rarely enough that tokens with made-up kids cannot turn this
/// server into a load generator against Gatehouse.
pub const REFETCH_INTERVAL: Duration = Duration::from_secs(30);

/// Clock skew tolerated on `exp` and `nbf`.
pub const LEEWAY_SECS: u64 = 60;

/// Used when the JWKS response names no `max-age` (Gatehouse sends 300).
const DEFAULT_MAX_AGE: Duration = Duration::from_secs(300);

pub async fn hello(
    State(state): State<AppState>,
    method: Method,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
) -> Result<Granted, Refusal> {
    let (scheme, token) = presented(&headers)?;
    let claims = state.jwks().verify(token).await.map_err(|e| {
        tracing::debug!(error = ?e, "JWT refused");
        e.refusal().under(scheme)
    })?;
    state.enforce_binding(&headers, &method, &uri, (scheme, token), claims.cnf.as_ref())?;
    Ok(Granted {
        mode: "jwt",
        sub: claims.sub,
        scope: claims.scope,
    })
}

/// The claims this API reads; `iss`, `aud`, `exp` and `nbf` are checked by `jsonwebtoken`.
#[derive(Debug, Clone, Deserialize)]
pub struct AccessClaims {
    pub sub: String,
    pub scope: Option<String>,
    pub client_id: Option<String>,
    /// RFC 7800 confirmation: `{"jkt": …}` on a DPoP-bound token.
    pub cnf: Option<serde_json::Value>,
}

#[derive(Debug)]
pub enum VerifyError {
    Invalid(&'static str),
    /// The JWKS could not be had, so nothing can be said about the token.
    Unavailable(String),
}

impl VerifyError {
    fn refusal(&self) -> Refusal {
        match self {
            VerifyError::Invalid(why) => Refusal::InvalidToken(why),
            VerifyError::Unavailable(_) => Refusal::Unavailable("the signing keys could not be fetched from Gatehouse"),
        }
    }
}

/// Verifies Gatehouse access tokens for one audience: RS256 only, keys from the issuer's
/// JWKS (found through discovery on first use), `typ` `at+jwt`. Cheap to clone.
#[derive(Clone)]
pub struct JwksVerifier {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    issuer: String,
    audience: String,
    refetch_interval: Duration,
    validation: Validation,
    jwks_uri: tokio::sync::OnceCell<String>,
    keys: RwLock<Option<Arc<KeySet>>>,
    /// When an unknown kid last sent us to the JWKS; held while fetching, so concurrent
    /// requests with the same new kid wait for one fetch instead of each making one.
    refetched: tokio::sync::Mutex<Option<Instant>>,
    next_background_refresh: Mutex<Option<Instant>>,
    fetches: AtomicU64,
}

struct KeySet {
    keys: HashMap<String, DecodingKey>,
}

impl JwksVerifier {
    pub fn new(http: reqwest::Client, issuer: &str, audience: &str, refetch_interval: Duration) -> JwksVerifier {
        let mut validation = Validation::new(Algorithm::RS256);
        validation.leeway = LEEWAY_SECS;
        validation.validate_exp = true;
        validation.validate_nbf = true;
        validation.set_issuer(&[issuer]);
        validation.set_audience(&[audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        JwksVerifier {
            inner: Arc::new(Inner {
                http,
                issuer: issuer.to_string(),
                audience: audience.to_string(),
                refetch_interval,
                validation,
                jwks_uri: tokio::sync::OnceCell::new(),
                keys: RwLock::new(None),
                refetched: tokio::sync::Mutex::new(None),
                next_background_refresh: Mutex::new(None),
                fetches: AtomicU64::new(0),
            }),
        }
    }

    pub fn audience(&self) -> &str {
        &self.inner.audience
    }

    /// How many times the JWKS was fetched (for tests and the benchmark).
    pub fn fetches(&self) -> u64 {
        self.inner.fetches.load(Ordering::Relaxed)
    }

    /// Fetches the JWKS now: at startup, so the first request does not pay for it.
    pub async fn load(&self) -> Result<(), String> {
        let uri = self
            .inner
            .jwks_uri
            .get_or_try_init(|| self.discover_jwks_uri())
            .await?
            .clone();
        let response = self
            .inner
            .http
            .get(&uri)
            .send()
            .await
            .map_err(|e| format!("GET {uri}: {e}"))?;
        if !response.status().is_success() {
            return Err(format!("GET {uri}: {}", response.status()));
        }
        let max_age = max_age(response.headers()).unwrap_or(DEFAULT_MAX_AGE);
        let jwks: Jwks = response.json().await.map_err(|e| format!("GET {uri}: {e}"))?;
        let keys: HashMap<String, DecodingKey> = jwks.keys.iter().filter_map(Jwk::decoding_key).collect();
        self.inner.fetches.fetch_add(1, Ordering::Relaxed);
        tracing::info!(jwks_uri = %uri, keys = keys.len(), "loaded the JWKS");
        if let Ok(mut current) = self.inner.keys.write() {
            *current = Some(Arc::new(KeySet { keys }));
        }
        self.schedule_refresh(max_age);
        Ok(())
    }

    /// Verifies `token` as an access token for this audience and returns its claims.
    pub async fn verify(&self, token: &str) -> Result<AccessClaims, VerifyError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| VerifyError::Invalid("not a signed JWT"))?;
        // The header's alg never chooses the algorithm: RS256 or nothing.
        if header.alg != Algorithm::RS256 {
            return Err(VerifyError::Invalid("only RS256 tokens are accepted"));
        }
        // RFC 9068 §4: an ID token or any other JWT signed by the same key is no access token.
        let typ = header.typ.as_deref().unwrap_or_default();
        if !typ.eq_ignore_ascii_case("at+jwt") && !typ.eq_ignore_ascii_case("application/at+jwt") {
            return Err(VerifyError::Invalid("not an access token (typ is not at+jwt)"));
        }
        let kid = header.kid.ok_or(VerifyError::Invalid("the token names no key"))?;
        let keys = self.keys_with(&kid).await?;
        let key = keys
            .keys
            .get(&kid)
            .ok_or(VerifyError::Invalid("signed by an unknown key"))?;
        let data = jsonwebtoken::decode::<AccessClaims>(token, key, &self.inner.validation).map_err(|e| {
            use jsonwebtoken::errors::ErrorKind;
            VerifyError::Invalid(match e.kind() {
                ErrorKind::InvalidSignature => "bad signature",
                ErrorKind::ExpiredSignature => "the token has expired",
                ErrorKind::ImmatureSignature => "the token is not valid yet",
                ErrorKind::InvalidIssuer => "issued by another issuer",
                ErrorKind::InvalidAudience => "the token is meant for another audience",
                ErrorKind::MissingRequiredClaim(_) => "a required claim is missing",
                _ => "the token does not verify",
            })
        })?;
        Ok(data.claims)
    }

    /// The key set, refetched first when it lacks `kid` and the last such refetch is
    /// older than the refetch interval. The first load is no refetch and always happens.
    async fn keys_with(&self, kid: &str) -> Result<Arc<KeySet>, VerifyError> {
        if let Some(keys) = self.current().filter(|k| k.keys.contains_key(kid)) {
            self.refresh_if_due();
            return Ok(keys);
        }
        let mut refetched = self.inner.refetched.lock().await;
        let current = self.current();
        if let Some(keys) = current.as_ref().filter(|k| k.keys.contains_key(kid)) {
            return Ok(keys.clone());
        }
        if let Some(keys) = current {
            if refetched.is_some_and(|at| at.elapsed() < self.inner.refetch_interval) {
                return Ok(keys);
            }
            *refetched = Some(Instant::now());
            tracing::info!(kid, "unknown kid: fetching the JWKS again");
        }
        self.load().await.map_err(|e| {
            tracing::warn!(error = %e, "could not fetch the JWKS");
            VerifyError::Unavailable(e)
        })?;
        self.current().ok_or_else(|| VerifyError::Unavailable("no JWKS".into()))
    }

    fn current(&self) -> Option<Arc<KeySet>> {
        self.inner.keys.read().ok().and_then(|k| k.clone())
    }

    fn schedule_refresh(&self, after: Duration) {
        if let Ok(mut next) = self.inner.next_background_refresh.lock() {
            *next = Some(Instant::now() + after);
        }
    }

    /// Once the JWKS's max-age has passed, fetch it again off the request path, so a
    /// retired key stops verifying here too. A failure keeps the keys we have and tries
    /// again a refetch interval later.
    fn refresh_if_due(&self) {
        let due = match self.inner.next_background_refresh.lock() {
            Ok(mut next) if next.is_some_and(|at| at <= Instant::now()) => {
                *next = Some(Instant::now() + self.inner.refetch_interval);
                true
            }
            _ => false,
        };
        if due {
            let this = self.clone();
            tokio::spawn(async move {
                if let Err(e) = this.load().await {
                    tracing::warn!(error = %e, "could not refresh the JWKS; keeping the keys we have");
                }
            });
        }
    }

    async fn discover_jwks_uri(&self) -> Result<String, String> {
        let url = format!(
            "{}/.well-known/openid-configuration",
            self.inner.issuer.trim_end_matches('/')
        );
        let response = self
            .inner
            .http
            .get(&url)
            .send()
            .await
            .map_err(|e| format!("GET {url}: {e}"))?;
        if !response.status().is_success() {
            return Err(format!("GET {url}: {}", response.status()));
        }
        let metadata: Discovery = response.json().await.map_err(|e| format!("GET {url}: {e}"))?;
        // OIDC Discovery §4.3: the document must name the issuer we were configured with,
        // else every token would fail the `iss` check with a less helpful message.
        if metadata.issuer != self.inner.issuer {
            return Err(format!(
                "{url} names the issuer {:?}, not {:?}: configure exactly the former",
                metadata.issuer, self.inner.issuer
            ));
        }
        Ok(metadata.jwks_uri)
    }
}

#[derive(Deserialize)]
struct Discovery {
    issuer: String,
    jwks_uri: String,
}

#[derive(Deserialize)]
struct Jwks {
    keys: Vec<Jwk>,
}

#[derive(Deserialize)]
struct Jwk {
    kty: String,
    kid: Option<String>,
    alg: Option<String>,
    #[serde(rename = "use")]
    usage: Option<String>,
    n: Option<String>,
    e: Option<String>,
}

impl Jwk {
    /// Keys of other kinds or uses are skipped, not an error: a JWKS may hold them.
    fn decoding_key(&self) -> Option<(String, DecodingKey)> {
        let usable = self.kty == "RSA"
            && self.alg.as_deref().is_none_or(|a| a == "RS256")
            && self.usage.as_deref().is_none_or(|u| u == "sig");
        if !usable {
            return None;
        }
        let key = DecodingKey::from_rsa_components(self.n.as_deref()?, self.e.as_deref()?).ok()?;
        Some((self.kid.clone()?, key))
    }
}

fn max_age(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let value = headers.get(reqwest::header::CACHE_CONTROL)?.to_str().ok()?;
    let secs = value
        .split(',')
        .find_map(|d| d.trim().strip_prefix("max-age=")?.parse::<u64>().ok())?;
    // Never hammer on a tiny max-age, never keep a retired key for long on a huge one.
    Some(Duration::from_secs(secs.clamp(30, 3600)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cache_control(value: &str) -> reqwest::header::HeaderMap {
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert(reqwest::header::CACHE_CONTROL, value.parse().unwrap());
        headers
    }

    #[test]
    fn the_jwks_max_age_is_read_and_kept_within_bounds() {
        let secs = |v: &str| max_age(&cache_control(v)).map(|d| d.as_secs());
        assert_eq!(secs("public, max-age=300"), Some(300));
        assert_eq!(secs("max-age=1"), Some(30));
        assert_eq!(secs("max-age=999999"), Some(3600));
        assert_eq!(secs("no-cache"), None);
        assert_eq!(max_age(&reqwest::header::HeaderMap::new()), None);
    }
}
