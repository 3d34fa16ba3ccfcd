//! Passkeys and WebAuthn ceremonies in progress (tables in migration 11).
