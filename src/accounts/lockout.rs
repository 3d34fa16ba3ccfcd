//! Per-identifier login backoff: after a few failures an identifier (username or email)
//! waits before the next password check, doubling each time up to a cap. The failures are
//! counted in the database, so every instance sees them.

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        assert_eq!(lock_for(4), 0);
        assert_eq!(lock_for(5), 30);
        assert_eq!(lock_for(6), 60);
        assert_eq!(lock_for(9), 480);
        assert_eq!(lock_for(100), MAX_LOCK_SECS);
    }
}
