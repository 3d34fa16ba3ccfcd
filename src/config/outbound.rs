//! `[outbound]`: how Gatehouse fetches what clients host (`jwks_uri`, `request_uri`,
//! `sector_identifier_uri`) and delivers back-channel logout tokens (`src/outbound.rs`).

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OutboundSettings {
    /// Let those requests reach loopback, private, link-local and other non-public
    /// addresses, and use plain http. Off, a registered URL cannot make Gatehouse call
    /// into its own network (SSRF, RFC 9700 §4.19 / RFC 7591 §5). For development and
    /// closed networks only.
    pub allow_private_networks: bool,
    /// Each request's whole time, connection included.
    pub timeout_secs: u64,
    /// Largest document read; a longer answer is refused, not truncated.
    pub max_bytes: usize,
}

impl Default for OutboundSettings {
    fn default() -> Self {
        Self {
            allow_private_networks: false,
            timeout_secs: 5,
            max_bytes: 256 * 1024,
        }
    }
}
