-- Portable subset shared with migrations/sqlite: TEXT ids, BIGINT unix seconds,
-- BIGINT 0/1 flags, JSON arrays as TEXT. Keep both files in step.

CREATE TABLE users (
    id             TEXT PRIMARY KEY,          -- the `sub`; random, never reused
    username       TEXT NOT NULL,
    username_key   TEXT NOT NULL UNIQUE,      -- NFKC + lowercase, for uniqueness and lookup
    email          TEXT NOT NULL,
    email_key      TEXT NOT NULL UNIQUE,
    email_verified BIGINT NOT NULL DEFAULT 0,
    given_name     TEXT NOT NULL DEFAULT '',
    family_name    TEXT NOT NULL DEFAULT '',
    password_hash  TEXT,
    created_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL
);

CREATE TABLE clients (
    id                        TEXT PRIMARY KEY,
    name                      TEXT NOT NULL,
    secret_hash               TEXT,            -- SHA-256 of the secret; NULL for public clients
    redirect_uris             TEXT NOT NULL,   -- JSON array, matched exactly
    post_logout_redirect_uris TEXT NOT NULL DEFAULT '[]',
    require_pkce              BIGINT NOT NULL DEFAULT 0,
    created_at                BIGINT NOT NULL
);

CREATE TABLE sessions (
    id           TEXT PRIMARY KEY,            -- public `sid`
    cookie_hash  TEXT NOT NULL UNIQUE,        -- SHA-256 of the cookie value
    user_id      TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    csrf_token   TEXT NOT NULL,
    auth_time    BIGINT NOT NULL,
    created_at   BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL
);
CREATE INDEX sessions_user ON sessions(user_id);

-- An authorization request waiting for the user to sign in.
CREATE TABLE authorization_requests (
    id         TEXT PRIMARY KEY,
    params     TEXT NOT NULL,                 -- JSON of the validated request
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);

CREATE TABLE authorization_codes (
    code_hash      TEXT PRIMARY KEY,
    grant_id       TEXT NOT NULL,
    client_id      TEXT NOT NULL REFERENCES clients(id) ON DELETE CASCADE,
    user_id        TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    session_id     TEXT NOT NULL,
    redirect_uri   TEXT NOT NULL,
    scope          TEXT NOT NULL,
    nonce          TEXT,
    code_challenge TEXT,
    auth_time      BIGINT NOT NULL,
    created_at     BIGINT NOT NULL,
    expires_at     BIGINT NOT NULL,
    consumed_at    BIGINT
);

-- What a user allowed a client through one authorization; tokens point here, and
-- revoking the grant stops them at userinfo (and, later, introspection).
CREATE TABLE grants (
    id         TEXT PRIMARY KEY,
    client_id  TEXT NOT NULL REFERENCES clients(id) ON DELETE CASCADE,
    user_id    TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    session_id TEXT,
    scope      TEXT NOT NULL,
    auth_time  BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT
);
CREATE INDEX grants_user ON grants(user_id);
