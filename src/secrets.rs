//! Random bearer values (codes, session ids, client secrets) and how they are stored:
//! only a SHA-256 digest ever reaches the database, and digests are compared in
//! constant time.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// 256 bits from the OS CSPRNG, base64url without padding (43 characters).
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// 128 bits, for identifiers that are not secrets but must never collide (user ids, sids).
pub fn random_id() -> String {
    let mut bytes = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The stored form of a bearer value: SHA-256, base64url. A 256-bit random value needs no
/// salt or stretching, and this keeps every lookup a single indexed equality.
pub fn digest(value: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(value.as_bytes()))
}

/// Whether `value` has the shape of a [`random_token`]: 43 base64url characters. Checked
/// before a value from a URL goes anywhere near a header or a query.
pub fn is_token(value: &str) -> bool {
    value.len() == 43
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Constant-time comparison of two strings of any length.
pub fn constant_time_eq(a: &str, b: &str) -> bool {
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_256_bit_and_distinct() {
        let a = random_token();
        assert_eq!(URL_SAFE_NO_PAD.decode(&a).unwrap().len(), 32);
        assert_ne!(a, random_token());
    }

    #[test]
    fn token_shape() {
        assert!(is_token(&random_token()));
        assert!(!is_token("x; Domain=evil.example"));
        assert!(!is_token(&format!("{};", &random_token()[..42])));
        assert!(!is_token(""));
    }

    #[test]
    fn digest_is_stable_and_compare_is_exact() {
        assert_eq!(digest("abc"), digest("abc"));
        assert!(constant_time_eq(&digest("abc"), &digest("abc")));
        assert!(!constant_time_eq(&digest("abc"), &digest("abd")));
        assert!(!constant_time_eq("a", "ab"));
    }
}
