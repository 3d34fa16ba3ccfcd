//! The OpenID Connect / OAuth 2.0 protocol endpoints. Every path is defined once here and
//! used both by the router (`app.rs`) and by discovery, so they cannot drift apart.

pub mod authorize;
pub mod backchannel;
pub mod claims;
pub mod client_assertion;
pub mod client_auth;
pub mod consent;
pub mod cors;
pub mod device;
pub mod discovery;
pub mod dpop;
pub mod dpop_binding;
pub mod dpop_nonce;
pub mod end_session;
pub mod error;
pub mod inspect;
pub mod introspect;
pub mod jwks;
pub mod par;
pub mod pkce;
pub mod registration;
pub mod revoke;
pub mod token;
pub mod userinfo;

pub const DISCOVERY: &str = "/.well-known/openid-configuration";
pub const JWKS: &str = "/jwks";
pub const AUTHORIZE: &str = "/authorize";
pub const AUTHORIZE_RESUME: &str = "/authorize/resume/{id}";
pub const TOKEN: &str = "/token";
pub const USERINFO: &str = "/userinfo";
pub const INTROSPECT: &str = "/introspect";
pub const REVOKE: &str = "/revoke";
pub const END_SESSION: &str = "/logout";
/// Pushed authorization requests (RFC 9126).
pub const PAR: &str = "/par";
pub const DEVICE_AUTHORIZATION: &str = "/device_authorization";
/// Where a device's user types its code (a hosted page, `accounts::device`).
pub const DEVICE_PAGE: &str = "/device";

/// The claims we can release, for discovery's `claims_supported`.
pub const SUPPORTED_CLAIMS: &[&str] = &[
    "sub",
    "iss",
    "aud",
    "exp",
    "iat",
    "auth_time",
    "acr",
    "amr",
    "idp",
    "nonce",
    "at_hash",
    "sid",
    "name",
    "given_name",
    "family_name",
    "preferred_username",
    "updated_at",
    "email",
    "email_verified",
    "address",
    "phone_number",
    "phone_number_verified",
];
