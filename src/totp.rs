//! Authenticator-app codes (RFC 6238, through `totp-rs`): SHA-1, six digits, 30-second
//! steps, the parameters every authenticator app understands. A code is accepted from one
//! step before to one step after now (clock drift, RFC 6238 §5.2); the caller keeps the
//! step it matched so that no code is accepted twice.

use crate::secrets;
use totp_rs::{Algorithm, Secret, TOTP};

const DIGITS: usize = 6;
const STEP_SECS: u64 = 30;
/// 160 bits, as RFC 4226 §4 recommends for HMAC-SHA-1.
const SECRET_BYTES: usize = 20;

/// A fresh random secret.
pub fn new_secret() -> Vec<u8> {
    use rand::RngCore;
    let mut bytes = vec![0u8; SECRET_BYTES];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    bytes
}

fn totp(secret: &[u8], issuer: &str, account: &str) -> anyhow::Result<TOTP> {
    TOTP::new(
        Algorithm::SHA1,
        DIGITS,
        1,
        STEP_SECS,
        secret.to_vec(),
        Some(issuer.to_string()),
        account.to_string(),
    )
    .map_err(|e| anyhow::anyhow!("invalid TOTP parameters: {e}"))
}

/// What the enrolment page shows: the `otpauth://` URI (as a QR code) and the secret in
/// base32 for typing in by hand.
pub struct Enrolment {
    pub uri: String,
    pub secret_base32: String,
    pub qr_svg: String,
}

pub fn enrolment(secret: &[u8], issuer: &str, account: &str) -> anyhow::Result<Enrolment> {
    let totp = totp(secret, issuer, account)?;
    let uri = totp.get_url();
    let qr_svg = qrcode::QrCode::new(uri.as_bytes())
        .map_err(|e| anyhow::anyhow!("cannot draw the QR code: {e}"))?
        .render::<qrcode::render::svg::Color>()
        .min_dimensions(200, 200)
        .quiet_zone(true)
        .build();
    Ok(Enrolment {
        uri,
        secret_base32: Secret::Raw(secret.to_vec()).to_encoded().to_string(),
        qr_svg,
    })
}

/// The time step a typed code belongs to, if it is right for now, the step before or the
/// step after. `now` is Unix seconds.
pub fn matching_step(secret: &[u8], typed: &str, now: i64) -> Option<i64> {
    let typed: String = typed.chars().filter(|c| !c.is_whitespace()).collect();
    if typed.len() != DIGITS || !typed.bytes().all(|b| b.is_ascii_digit()) || now < 0 {
        return None;
    }
    let totp = totp(secret, "", "").ok()?;
    let current = now / STEP_SECS as i64;
    // Every candidate is compared, in constant time, so timing says nothing about which.
    let mut found = None;
    for step in [current - 1, current, current + 1] {
        let expected = totp.generate(step as u64 * STEP_SECS);
        if secrets::constant_time_eq(&expected, &typed) && found.is_none() {
            found = Some(step);
        }
    }
    found
}

/// The code for Unix time `at` (for tests and the CLI's diagnostics).
pub fn code_at(secret: &[u8], at: i64) -> String {
    totp(secret, "", "")
        .map(|t| t.generate(at.max(0) as u64))
        .unwrap_or_default()
}

/// Decodes a base32 secret as the enrolment page shows it.
pub fn decode_secret(base32: &str) -> Option<Vec<u8>> {
    Secret::Encoded(base32.to_string()).to_bytes().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 Appendix B, SHA-1 (the last six digits of the eight-digit values).
    #[test]
    fn rfc_6238_test_vectors() {
        let secret = b"12345678901234567890";
        assert_eq!(code_at(secret, 59), "287082");
        assert_eq!(code_at(secret, 1111111109), "081804");
        assert_eq!(code_at(secret, 1234567890), "005924");
    }

    #[test]
    fn a_code_matches_its_own_step_and_its_neighbours_only() {
        let secret = new_secret();
        let now = 1_800_000_015;
        let code = code_at(&secret, now);
        assert_eq!(matching_step(&secret, &code, now), Some(now / 30));
        assert_eq!(matching_step(&secret, &code, now + 30), Some(now / 30));
        assert_eq!(matching_step(&secret, &code, now - 30), Some(now / 30));
        assert_eq!(matching_step(&secret, &code, now + 60), None);
        assert_eq!(matching_step(&secret, "12345", now), None);
        assert_eq!(matching_step(&secret, "abcdef", now), None);
    }

    #[test]
    fn the_enrolment_shows_a_uri_a_secret_and_an_svg() {
        let secret = new_secret();
        let e = enrolment(&secret, "Gatehouse", "ada").unwrap();
        assert!(e.uri.starts_with("otpauth://totp/Gatehouse:ada?"), "{}", e.uri);
        assert_eq!(decode_secret(&e.secret_base32).unwrap(), secret);
        assert!(e.qr_svg.contains("<svg"));
    }
}
