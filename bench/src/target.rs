//! What a scenario needs to know about the provider under load. Gatehouse and the peer
//! each prepare one of these (clients registered, virtual users signed in, tokens
//! obtained), and every scenario then runs the same requests against either.

use std::net::SocketAddr;

/// A registered OAuth client.
#[derive(Debug, Clone)]
pub struct Client {
    pub id: String,
    /// None for a public client (PKCE only).
    pub secret: Option<String>,
    pub redirect_uri: String,
}

/// One virtual user's state, prepared before the load starts.
#[derive(Debug, Clone)]
pub struct User {
    /// `Cookie` header value that carries a live browser session at the provider.
    pub session_cookie: String,
    /// A refresh token from a code exchange of `Target::web` (rotated during the refresh
    /// scenario, so each virtual user owns one).
    pub refresh_token: String,
    /// An access token accepted at the userinfo endpoint.
    pub access_token: String,
}

/// Request paths, relative to `base`.
#[derive(Debug, Clone)]
pub struct Paths {
    pub discovery: String,
    pub jwks: String,
    pub authorize: String,
    pub token: String,
    pub userinfo: String,
    pub introspection: String,
}

/// Hosted password login (Gatehouse only: the peer has no user store).
#[derive(Debug, Clone)]
pub struct PasswordLogin {
    pub login_path: String,
    pub identifier: String,
    pub password: String,
}

#[derive(Debug, Clone)]
pub struct Target {
    /// "gatehouse" or "oidc-provider".
    pub name: String,
    pub addr: SocketAddr,
    /// `http://127.0.0.1:PORT` (no trailing slash).
    pub base: String,
    pub paths: Paths,
    /// Confidential client allowed client_credentials (client_secret_basic).
    pub cc: Client,
    /// Form body of the measured client_credentials request; the token it returns is a
    /// signed JWT (one RS256 signature per request).
    pub cc_body: String,
    /// Client for the SSO loop and refresh: authorization_code + refresh_token with PKCE
    /// S256; confidential (client_secret_basic) when `secret` is Some.
    pub web: Client,
    /// Scope of the SSO loop's authorization request.
    pub web_scope: String,
    /// Extra query parameters the SSO loop's authorization request needs (e.g. a
    /// resource indicator), already URL-encoded, starting with `&`, or empty.
    pub authorize_extra: String,
    /// Extra form parameters the code exchange needs, same shape.
    pub token_extra: String,
    /// Virtual users, at least as many as the largest concurrency a scenario uses.
    pub users: Vec<User>,
    /// A token that the introspection endpoint reports active; introspected with `cc`.
    pub introspect_token: String,
    pub login: Option<PasswordLogin>,
    /// Whether the hosted sign-up page exists (GET `/signup`).
    pub signup_page: Option<String>,
    /// The server process, for its CPU time and RSS.
    pub pid: u32,
}
