//! The conditions the official suite evaluates, as pure functions over what the OP
//! answered. Each finding carries the suite's condition class name and the spec section,
//! so a failure can be looked up on both sides.

pub mod authz;
pub mod discovery;
pub mod id_token;
pub mod token;
pub mod userinfo;

use crate::report::{Finding, Severity};

/// Why a module ended early.
#[derive(Debug)]
pub enum Stop {
    /// A condition failed that the rest of the module depends on (already logged).
    Failed,
    Skipped(String),
    /// The module cannot be judged here (see `Status::Review`).
    Review(String),
    /// The OP could not be talked to (connection, TLS, a body that would not read).
    Error(String),
}

impl From<anyhow::Error> for Stop {
    fn from(e: anyhow::Error) -> Stop {
        Stop::Error(format!("{e:#}"))
    }
}

/// The findings of one module.
#[derive(Debug, Default)]
pub struct Log {
    pub findings: Vec<Finding>,
}

impl Log {
    fn push(&mut self, severity: Severity, condition: &str, reference: &str, message: impl Into<String>) {
        self.findings.push(Finding {
            severity,
            condition: condition.into(),
            reference: reference.into(),
            message: message.into(),
        });
    }

    pub fn fail(&mut self, condition: &str, reference: &str, message: impl Into<String>) {
        self.push(Severity::Failure, condition, reference, message);
    }

    pub fn warn(&mut self, condition: &str, reference: &str, message: impl Into<String>) {
        self.push(Severity::Warning, condition, reference, message);
    }

    /// Logs a failure unless `ok`; says whether it held.
    pub fn expect(&mut self, ok: bool, condition: &str, reference: &str, message: impl Into<String>) -> bool {
        if !ok {
            self.fail(condition, reference, message);
        }
        ok
    }

    /// Logs a warning unless `ok`.
    pub fn advise(&mut self, ok: bool, condition: &str, reference: &str, message: impl Into<String>) -> bool {
        if !ok {
            self.warn(condition, reference, message);
        }
        ok
    }

    /// Like `expect`, but the module cannot go on without it.
    pub fn require(
        &mut self,
        ok: bool,
        condition: &str,
        reference: &str,
        message: impl Into<String>,
    ) -> Result<(), Stop> {
        if self.expect(ok, condition, reference, message) {
            Ok(())
        } else {
            Err(Stop::Failed)
        }
    }

    /// Logs a failure and ends the module.
    pub fn stop(&mut self, condition: &str, reference: &str, message: impl Into<String>) -> Stop {
        self.fail(condition, reference, message);
        Stop::Failed
    }
}

/// Shannon entropy of the string times its length, in bits: the suite's estimate of how
/// much randomness a code or token carries (AbstractEnsureMinimumEntropy).
pub fn shannon_bits(s: &str) -> f64 {
    let chars: Vec<char> = s.chars().collect();
    if chars.is_empty() {
        return 0.0;
    }
    let mut counts = std::collections::HashMap::new();
    for c in &chars {
        *counts.entry(*c).or_insert(0usize) += 1;
    }
    let n = chars.len() as f64;
    let per_char: f64 = counts.values().map(|&k| k as f64 / n).map(|p| -p * p.log2()).sum();
    per_char * n
}

/// Code, token and refresh-token strength: at least 128 bits long and more than 96 bits
/// of estimated entropy (EnsureMinimum…Length / …Entropy, RFC 6749 §10.10, RFC 6819 §5.1.4.2.2).
pub fn strong_secret(log: &mut Log, what: &str, value: &str, check_length: bool) {
    let class = match what {
        "authorization code" => "AuthorizationCode",
        "refresh token" => "RefreshToken",
        _ => "AccessToken",
    };
    if check_length {
        let bits = value.len() * 8;
        log.expect(
            bits >= 128,
            &format!("EnsureMinimum{class}Length"),
            "RFC6749-10.10",
            format!("the {what} is {bits} bits long; at least 128 are required"),
        );
    }
    let entropy = shannon_bits(value);
    log.expect(
        entropy > 96.0,
        &format!("EnsureMinimum{class}Entropy"),
        "RFC6749-10.10",
        format!("the {what} carries an estimated {entropy:.0} bits of entropy; more than 96 are required"),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entropy_estimate_matches_the_suite_examples() {
        // The suite's own unit-test values for EnsureMinimumAuthorizationCodeEntropy.
        assert!(shannon_bits("BjnQbTsQiUYitDvHY9Ork6twLS2Ps_7ZZGlNfyx2FRo") > 96.0);
        assert!(shannon_bits("BjnQbTsQiUYi") < 96.0);
        assert_eq!(shannon_bits("aaaa"), 0.0);
    }
}
