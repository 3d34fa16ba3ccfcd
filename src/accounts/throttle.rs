//! Abuse limits: a fixed-window rate limit per client IP and action (in memory, per
//! instance), the client IP itself (X-Forwarded-For believed only from configured
//! proxies), and per-identifier login backoff (in the database, shared by instances).

use crate::app::AppState;
use axum::extract::{ConnectInfo, Request};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Mutex;

/// The TCP peer of a connection, plain or TLS.
#[derive(Debug, Clone, Copy)]
pub struct PeerAddr(pub SocketAddr);

impl axum::extract::connect_info::Connected<axum::serve::IncomingStream<'_, tokio::net::TcpListener>> for PeerAddr {
    fn connect_info(stream: axum::serve::IncomingStream<'_, tokio::net::TcpListener>) -> Self {
        PeerAddr(*stream.remote_addr())
    }
}

impl axum::extract::connect_info::Connected<axum::serve::IncomingStream<'_, crate::tls::TlsListener>> for PeerAddr {
    fn connect_info(stream: axum::serve::IncomingStream<'_, crate::tls::TlsListener>) -> Self {
        PeerAddr(*stream.remote_addr())
    }
}

/// The address a request comes from, as far as we can trust it.
#[derive(Debug, Clone, Copy)]
pub struct ClientIp(pub IpAddr);

/// Failures before an identifier starts to wait, and the longest wait: an attacker slows to
/// a crawl while the owner is never locked out for more than minutes (NIST SP 800-63B §5.2.2).
const FREE_FAILURES: i64 = 5;
const FIRST_LOCK_SECS: i64 = 30;
const MAX_LOCK_SECS: i64 = 15 * 60;

pub fn lock_for(failures: i64) -> i64 {
    if failures < FREE_FAILURES {
        0
    } else {
        (FIRST_LOCK_SECS << (failures - FREE_FAILURES).min(20)).min(MAX_LOCK_SECS)
    }
}

/// Middleware: works out the client IP once and leaves it in the request extensions.
pub async fn client_ip(
    axum::extract::State(state): axum::extract::State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    let peer = request
        .extensions()
        .get::<ConnectInfo<PeerAddr>>()
        .map(|c| c.0 .0.ip())
        .unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST));
    let ip = resolve(peer, request.headers(), &state.config.accounts.trusted_proxies);
    request.extensions_mut().insert(ClientIp(ip));
    next.run(request).await
}

/// The rightmost X-Forwarded-For hop that is not a trusted proxy, when the peer is one.
fn resolve(peer: IpAddr, headers: &HeaderMap, trusted: &[IpAddr]) -> IpAddr {
    if !trusted.contains(&peer) {
        return peer;
    }
    let hops: Vec<IpAddr> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|h| h.trim().parse().ok())
        .collect();
    hops.into_iter().rev().find(|ip| !trusted.contains(ip)).unwrap_or(peer)
}

/// (action, client) → (window start, attempts in it).
type Windows = HashMap<(&'static str, IpAddr), (i64, u32)>;

pub struct RateLimiter {
    per_minute: u32,
    windows: Mutex<Windows>,
}

impl RateLimiter {
    pub fn new(per_minute: u32) -> RateLimiter {
        RateLimiter {
            per_minute,
            windows: Mutex::new(HashMap::new()),
        }
    }

    /// Counts an attempt; `Err(seconds)` says how long to wait when over the limit.
    pub fn check(&self, action: &'static str, ip: IpAddr, now: i64) -> Result<(), i64> {
        let Ok(mut windows) = self.windows.lock() else {
            return Ok(());
        };
        if windows.len() > 100_000 {
            windows.retain(|_, (start, _)| now - *start < 60);
        }
        let window = windows.entry((action, ip)).or_insert((now, 0));
        if now - window.0 >= 60 {
            *window = (now, 0);
        }
        if window.1 >= self.per_minute {
            return Err(60 - (now - window.0));
        }
        window.1 += 1;
        Ok(())
    }
}

/// 429 with Retry-After, as a page.
pub fn too_many(state: &AppState, retry_after: i64) -> Response {
    let mut response = state.pages.error(
        StatusCode::TOO_MANY_REQUESTS,
        "Too many attempts",
        "Please wait a minute and try again.",
    );
    if let Ok(value) = HeaderValue::from_str(&retry_after.max(1).to_string()) {
        response.headers_mut().insert(header::RETRY_AFTER, value);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_proxies() {
        let proxy: IpAddr = "10.0.0.1".parse().unwrap();
        let mut headers = HeaderMap::new();
        headers.insert("x-forwarded-for", "1.2.3.4, 5.6.7.8".parse().unwrap());
        let stranger: IpAddr = "9.9.9.9".parse().unwrap();
        assert_eq!(resolve(stranger, &headers, &[proxy]), stranger);
        assert_eq!(resolve(proxy, &headers, &[proxy]), "5.6.7.8".parse::<IpAddr>().unwrap());
    }

    #[test]
    fn limiter_windows_and_backoff() {
        let limiter = RateLimiter::new(2);
        let ip: IpAddr = "1.1.1.1".parse().unwrap();
        assert!(limiter.check("login", ip, 0).is_ok());
        assert!(limiter.check("login", ip, 1).is_ok());
        assert_eq!(limiter.check("login", ip, 2), Err(58));
        assert!(limiter.check("signup", ip, 2).is_ok());
        assert!(limiter.check("login", ip, 61).is_ok());
        assert_eq!(lock_for(4), 0);
        assert_eq!(lock_for(5), 30);
        assert_eq!(lock_for(6), 60);
        assert_eq!(lock_for(9), 480);
        assert_eq!(lock_for(100), MAX_LOCK_SECS);
    }
}
