//! `[registration]`: Dynamic Client Registration (RFC 7591, RFC 7592).

use serde::{Deserialize, Serialize};

/// Who may register a client at `/register`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RegistrationMode {
    /// No registration endpoint (the default): clients come from the CLI or the admin API.
    #[default]
    Off,
    /// Anyone may register (the OpenID Dynamic profile); per-IP rate limited.
    Open,
    /// Only with an initial access token from `gatehouse registration issue-token`.
    Token,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RegistrationSettings {
    pub mode: RegistrationMode,
}

impl RegistrationSettings {
    pub fn enabled(&self) -> bool {
        self.mode != RegistrationMode::Off
    }
}
