//! A user account as stored, and the rules for its identifiers (username, email): the
//! leaf model that the store, the claims and the account pages share.

use unicode_normalization::UnicodeNormalization;

/// A user as stored. `id` is the `sub` claim: random, stable, never reused.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Account {
    pub id: String,
    pub username: String,
    pub email: String,
    pub email_verified: i64,
    pub given_name: String,
    pub family_name: String,
    pub password_hash: Option<String>,
    pub updated_at: i64,
    /// May get the `gatehouse:admin` scope (through a first-party app that may ask for it).
    pub is_admin: i64,
    /// Set while disabled: no sign-in, no refresh.
    pub disabled_at: Option<i64>,
    #[sqlx(flatten)]
    pub contact: crate::contact::Contact,
}

impl Account {
    pub fn name(&self) -> String {
        format!("{} {}", self.given_name, self.family_name).trim().to_string()
    }
}

/// The form of an identifier used for uniqueness and lookup: Unicode NFKC, then
/// lowercased, so `Bob`, `BOB` and full-width `Ｂｏｂ` are one name.
pub fn identifier_key(raw: &str) -> String {
    raw.trim().nfkc().collect::<String>().to_lowercase()
}

/// Validates a username: 3–32 characters, no `@` (so it can never be mistaken for an
/// email at login), no whitespace or control characters.
pub fn validate_username(raw: &str) -> Result<String, &'static str> {
    let name: String = raw.trim().nfkc().collect();
    let len = name.chars().count();
    if !(3..=32).contains(&len) {
        return Err("Username must be 3 to 32 characters.");
    }
    if name.contains('@') {
        return Err("Username cannot contain @.");
    }
    if name.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("Username cannot contain spaces.");
    }
    Ok(name)
}

/// Longest first or last name we keep.
pub const MAX_NAME_CHARS: usize = 100;

/// Validates a first or last name (and any other display name): trimmed, 1 to 100
/// characters, no control characters or line separators, which would otherwise reach the
/// plain-text mails we send to any address.
pub fn validate_name(raw: &str) -> Result<String, &'static str> {
    let name = raw.trim();
    if name.is_empty() || name.chars().count() > MAX_NAME_CHARS {
        return Err("Names must be 1 to 100 characters.");
    }
    if name
        .chars()
        .any(|c| c.is_control() || matches!(c, '\u{2028}' | '\u{2029}'))
    {
        return Err("Names cannot contain line breaks or control characters.");
    }
    Ok(name.to_string())
}

/// A deliberately loose email check: one `@`, something on each side, a dot in the
/// domain. The confirmation email is the real test.
pub fn validate_email(raw: &str) -> Result<String, &'static str> {
    let email = raw.trim();
    // A bare addr-spec only: no display name, comments, quoting or routes, which mail
    // libraries would parse into a different mailbox than the one we store.
    let valid = email.len() <= 254
        && !email
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || "<>()[],;:\"\\".contains(c))
        && matches!(email.split_once('@'), Some((local, domain))
            if !local.is_empty() && domain.contains('.') && !domain.starts_with('.') && !domain.ends_with('.') && !domain.contains('@'));
    if valid {
        Ok(email.to_string())
    } else {
        Err("Enter a valid email address.")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_fold_case_and_width() {
        assert_eq!(identifier_key("Bob"), identifier_key("ＢＯＢ"));
        assert_eq!(identifier_key(" Alice@Example.COM "), "alice@example.com");
    }

    #[test]
    fn username_rules() {
        assert!(validate_username("ab").is_err());
        assert!(validate_username("bob@example.com").is_err());
        assert!(validate_username("bo b").is_err());
        assert!(validate_username(&"x".repeat(33)).is_err());
        assert_eq!(validate_username(" alice ").unwrap(), "alice");
    }

    #[test]
    fn name_rules() {
        assert_eq!(validate_name("  Ada ").unwrap(), "Ada");
        assert!(validate_name("").is_err());
        assert!(validate_name(&"x".repeat(101)).is_err());
        for bad in [
            "Ada\nBcc: x@evil.example",
            "Ada\rBcc: y",
            "A\u{0}",
            "A\u{2028}B",
            "A\tB",
        ] {
            assert!(validate_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn email_rules() {
        assert!(validate_email("a@b.co").is_ok());
        for bad in [
            "",
            "a",
            "a@b",
            "@b.co",
            "a@b.co@c.de",
            "a b@c.de",
            "a@.co",
            "Evil<v@x.com>",
            "<v@x.com>",
            "\"v\"@x.com",
            "v@x.com,w@y.com",
        ] {
            assert!(validate_email(bad).is_err(), "{bad}");
        }
    }
}
