//! Per-identifier password backoff: after a few failures an identifier (username or
//! email) waits before the next password check, doubling each time up to a cap. The
//! failures are counted in the database, so every instance sees them. The login page and
//! the account page's password checks (email change, password change, deletion) share
//! it, so a signed-in session cannot guess its own password past the lockout either.

use crate::error::AppError;
use crate::password::MAX_PASSWORD_BYTES;
use crate::state::AppState;
use crate::users::identifier_key;

/// Identifiers longer than any username or email cannot exist; they are never stored.
pub const MAX_IDENTIFIER_CHARS: usize = 254;

/// The outcome of a throttled password check.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    Correct,
    Wrong,
    /// Too many failures: wait this many minutes (rounded up).
    Locked(i64),
}

/// Checks `given` against `hash` (None: an unknown identifier, checked against the dummy
/// hash at the same cost), under the lockout of `identifier`. A failure counts against
/// the identifier, a success clears it; an oversized identifier or password always fails
/// and leaves nothing in the database.
pub async fn verify(state: &AppState, identifier: &str, given: &str, hash: Option<&str>) -> Result<Verdict, AppError> {
    let now = state.clock.now();
    let storable = !identifier.is_empty() && identifier.chars().count() <= MAX_IDENTIFIER_CHARS;
    let key = identifier_key(identifier);
    if storable {
        let locked_until = state.store.login_locked_until(&key).await?;
        // A lock longer than any we set means the clock went back: it has served its time.
        if locked_until > now && locked_until - now <= MAX_LOCK_SECS {
            return Ok(Verdict::Locked((locked_until - now + 59) / 60));
        }
    }
    let fits = given.len() <= MAX_PASSWORD_BYTES;
    let verified = state
        .hasher
        .verify(if fits { given } else { "" }, hash.filter(|_| fits))
        .await?;
    match (verified, storable) {
        (true, true) => state.store.clear_login_failures(&key).await?,
        (false, true) => {
            state.store.record_login_failure(&key, now, lock_for).await?;
        }
        (_, false) => {}
    }
    Ok(match verified && storable {
        true => Verdict::Correct,
        false => Verdict::Wrong,
    })
}

/// Failures before an identifier starts to wait, and the longest wait: an attacker slows to
/// a crawl while the owner is never locked out for more than minutes (NIST SP 800-63B §5.2.2).
const FREE_FAILURES: i64 = 5;
const FIRST_LOCK_SECS: i64 = 30;
pub const MAX_LOCK_SECS: i64 = 15 * 60;

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
