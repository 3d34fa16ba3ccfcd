//! Calls out to URLs that clients registered: their `jwks_uri`, `request_uri` and
//! `sector_identifier_uri` documents, and back-channel logout deliveries. Anyone may
//! register such a URL once registration is open, so every call is guarded against
//! server-side request forgery (RFC 9700 §4.19, RFC 7591 §5): https only; no loopback,
//! private, link-local or other non-public address, checked on the addresses the name
//! resolves to (the connection goes to the checked address, so a rebinding DNS answer
//! cannot slip through); no redirects; a time limit and a size limit. The operator's own
//! upstream providers are configured, not registered, and use their own client.

use crate::config::OutboundSettings;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;
use url::Url;

/// Why a call was not made or gave nothing usable. The message names the URL's problem
/// for the client's developer; it never carries the body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FetchError {
    /// The URL is not one Gatehouse calls: bad scheme, a non-public address.
    Refused(String),
    /// The call failed: unreachable, timed out, a non-2xx answer, too large.
    Failed(String),
}

impl std::fmt::Display for FetchError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FetchError::Refused(m) | FetchError::Failed(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for FetchError {}

/// A document fetched: its media type (without parameters) and body.
#[derive(Debug, Clone)]
pub struct Fetched {
    pub content_type: Option<String>,
    pub body: String,
}

/// The guarded HTTP client. Cheap to clone.
#[derive(Clone)]
pub struct Outbound {
    http: reqwest::Client,
    allow_private: bool,
    max_bytes: usize,
}

impl Outbound {
    pub fn new(settings: &OutboundSettings) -> anyhow::Result<Outbound> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(settings.timeout_secs))
            .connect_timeout(Duration::from_secs(settings.timeout_secs.min(3)))
            .redirect(reqwest::redirect::Policy::none())
            // A proxy would resolve the name itself, past the guard.
            .no_proxy()
            .dns_resolver(Arc::new(GuardedResolver {
                allow_private: settings.allow_private_networks,
            }))
            .user_agent(concat!("Gatehouse/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| anyhow::anyhow!("cannot build the outbound HTTP client: {e}"))?;
        Ok(Outbound {
            http,
            allow_private: settings.allow_private_networks,
            max_bytes: settings.max_bytes,
        })
    }

    /// Whether Gatehouse would call this URL at all (scheme and literal address); names
    /// are checked again when they resolve. Registration uses it to refuse early.
    pub fn check(&self, raw: &str) -> Result<Url, FetchError> {
        check_url(raw, self.allow_private)
    }

    /// GETs a document, asking for `accept`.
    pub async fn get(&self, raw: &str, accept: &str) -> Result<Fetched, FetchError> {
        let url = self.check(raw)?;
        let response = self
            .http
            .get(url)
            .header(reqwest::header::ACCEPT, accept)
            .send()
            .await
            .map_err(|e| transport(raw, &e))?;
        self.read(raw, response).await
    }

    /// POSTs a form (back-channel logout, Back-Channel Logout §2.5); any 2xx is success.
    pub async fn post_form(&self, raw: &str, form: &[(&str, &str)]) -> Result<(), FetchError> {
        let url = self.check(raw)?;
        let response = self
            .http
            .post(url)
            .form(form)
            .send()
            .await
            .map_err(|e| transport(raw, &e))?;
        if !response.status().is_success() {
            return Err(FetchError::Failed(format!("{raw} answered {}", response.status())));
        }
        Ok(())
    }

    async fn read(&self, raw: &str, mut response: reqwest::Response) -> Result<Fetched, FetchError> {
        let status = response.status();
        if !status.is_success() {
            return Err(FetchError::Failed(format!("{raw} answered {status}")));
        }
        let content_type = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.split(';').next().unwrap_or_default().trim().to_ascii_lowercase());
        let too_large = || FetchError::Failed(format!("{raw} is larger than {} bytes", self.max_bytes));
        if response.content_length().is_some_and(|n| n > self.max_bytes as u64) {
            return Err(too_large());
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| transport(raw, &e))? {
            if body.len() + chunk.len() > self.max_bytes {
                return Err(too_large());
            }
            body.extend_from_slice(&chunk);
        }
        let body = String::from_utf8(body).map_err(|_| FetchError::Failed(format!("{raw} is not UTF-8 text")))?;
        Ok(Fetched { content_type, body })
    }
}

fn transport(raw: &str, e: &reqwest::Error) -> FetchError {
    // The resolver's refusal arrives wrapped as a connect error: say it plainly.
    let mut source: Option<&dyn std::error::Error> = Some(e);
    while let Some(err) = source {
        if let Some(refused) = err.downcast_ref::<FetchError>() {
            return refused.clone();
        }
        source = err.source();
    }
    if e.is_timeout() {
        return FetchError::Failed(format!("{raw} did not answer in time"));
    }
    FetchError::Failed(format!("{raw} is unreachable"))
}

fn check_url(raw: &str, allow_private: bool) -> Result<Url, FetchError> {
    let url = Url::parse(raw).map_err(|_| FetchError::Refused(format!("{raw:?} is not an absolute URL")))?;
    match url.scheme() {
        "https" => {}
        "http" if allow_private => {}
        _ => return Err(FetchError::Refused(format!("{raw}: only https URLs are fetched"))),
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(FetchError::Refused(format!(
            "{raw}: a URL must not carry user information"
        )));
    }
    let literal = match url.host() {
        Some(url::Host::Ipv4(ip)) => Some(IpAddr::V4(ip)),
        Some(url::Host::Ipv6(ip)) => Some(IpAddr::V6(ip)),
        Some(url::Host::Domain(_)) => None,
        None => return Err(FetchError::Refused(format!("{raw}: a URL needs a host"))),
    };
    if let Some(ip) = literal {
        if !allow_private && !is_public(ip) {
            return Err(not_public(raw));
        }
    }
    Ok(url)
}

fn not_public(what: &str) -> FetchError {
    FetchError::Refused(format!("{what} is not a public address"))
}

/// Resolves names as the system does, then keeps only the public addresses.
struct GuardedResolver {
    allow_private: bool,
}

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let allow_private = self.allow_private;
        Box::pin(async move {
            let host = name.as_str().to_string();
            let found: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let kept: Vec<SocketAddr> = found
                .into_iter()
                .filter(|a| allow_private || is_public(a.ip()))
                .collect();
            if kept.is_empty() {
                return Err(Box::new(not_public(&host)) as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(Box::new(kept.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// Globally routable unicast: not loopback, private (RFC 1918, RFC 4193), shared
/// (RFC 6598), link-local, documentation, benchmarking, multicast, reserved, or an IPv6
/// form of one of those.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_broadcast()
        || ip.is_documentation()
        || ip.is_multicast()
        || a == 0
        || (a == 100 && (64..128).contains(&b))
        || (a == 192 && b == 0 && c == 0)
        || (a == 198 && (b == 18 || b == 19))
        || a >= 240)
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return is_public_v4(v4);
    }
    let s = ip.segments();
    // 64:ff9b::/96 (NAT64) reaches the IPv4 address in its last 32 bits.
    if s[0] == 0x64 && s[1] == 0xff9b && s[2..6] == [0, 0, 0, 0] {
        return is_public_v4(Ipv4Addr::new(
            (s[6] >> 8) as u8,
            s[6] as u8,
            (s[7] >> 8) as u8,
            s[7] as u8,
        ));
    }
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_multicast()
        || (s[0] & 0xfe00) == 0xfc00
        || (s[0] & 0xffc0) == 0xfe80
        || (s[0] & 0xffc0) == 0xfec0
        || (s[0] == 0x2001 && s[1] == 0x0db8)
        || (s[0] == 0x2001 && s[1] < 0x0200)
        || s[0] == 0x0100
        || s[0..6] == [0, 0, 0, 0, 0, 0])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_globally_routable_addresses_are_public() {
        for private in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "0.1.2.3",
            "192.0.0.8",
            "198.18.0.1",
            "203.0.113.9",
            "224.0.0.1",
            "255.255.255.255",
            "240.0.0.1",
            "::1",
            "::",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "ff02::1",
            "2001:db8::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::a00:1",
            "::127.0.0.1",
        ] {
            assert!(!is_public(private.parse().unwrap()), "{private}");
        }
        for public in [
            "93.184.216.34",
            "8.8.8.8",
            "2606:4700::1111",
            "64:ff9b::808:808",
            "::ffff:8.8.8.8",
        ] {
            assert!(is_public(public.parse().unwrap()), "{public}");
        }
    }

    #[test]
    fn urls_need_https_and_a_public_literal_address() {
        let refused = |raw: &str| matches!(check_url(raw, false), Err(FetchError::Refused(_)));
        assert!(refused("http://rp.example/jwks"));
        assert!(refused("ftp://rp.example/jwks"));
        assert!(refused("https://127.0.0.1/jwks"));
        assert!(refused("https://[::1]:8443/jwks"));
        assert!(refused("https://169.254.169.254/latest/meta-data"));
        assert!(refused("https://user:pw@rp.example/jwks"));
        assert!(refused("not a url"));
        assert!(check_url("https://rp.example/jwks", false).is_ok());
        assert!(check_url("https://93.184.216.34/jwks", false).is_ok());
        // Allowed for development: plain http and loopback.
        assert!(check_url("http://127.0.0.1:9/jwks", true).is_ok());
    }
}
