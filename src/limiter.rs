//! A fixed-window rate limit per client IP and action, in memory (per instance).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

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

    /// Counts an attempt under the default limit; `Err(seconds)` says how long to wait
    /// when over it.
    pub fn check(&self, action: &'static str, ip: IpAddr, now: i64) -> Result<(), i64> {
        self.check_with(action, ip, now, self.per_minute)
    }

    /// As [`RateLimiter::check`], with an action's own limit per minute.
    pub fn check_with(&self, action: &'static str, ip: IpAddr, now: i64, per_minute: u32) -> Result<(), i64> {
        let Ok(mut windows) = self.windows.lock() else {
            return Ok(());
        };
        if windows.len() > 100_000 {
            windows.retain(|_, (start, _)| now - *start < 60);
        }
        let window = windows.entry((action, ip)).or_insert((now, 0));
        // A window from the future means the wall clock went back: start afresh rather
        // than hold the client for as long as the jump (checklist H6).
        if now - window.0 >= 60 || now < window.0 {
            *window = (now, 0);
        }
        if window.1 >= per_minute {
            return Err(60 - (now - window.0));
        }
        window.1 += 1;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limiter_windows() {
        let limiter = RateLimiter::new(2);
        let ip: IpAddr = "1.1.1.1".parse().unwrap();
        assert!(limiter.check("login", ip, 0).is_ok());
        assert!(limiter.check("login", ip, 1).is_ok());
        assert_eq!(limiter.check("login", ip, 2), Err(58));
        assert!(limiter.check("signup", ip, 2).is_ok());
        assert!(limiter.check("login", ip, 61).is_ok());
    }

    #[test]
    fn a_clock_jumping_back_does_not_extend_a_window_checklist_h6() {
        let limiter = RateLimiter::new(1);
        let ip: IpAddr = "1.1.1.1".parse().unwrap();
        assert!(limiter.check("login", ip, 10_000).is_ok());
        assert_eq!(limiter.check("login", ip, 10_001), Err(59));
        // The clock is set back an hour: a fresh window, not an hour-long wait.
        assert!(limiter.check("login", ip, 6_400).is_ok());
        assert_eq!(limiter.check("login", ip, 6_401), Err(59));
    }
}
