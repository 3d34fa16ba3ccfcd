-- Refresh tokens, client credentials, introspection/revocation, logout, consent.
-- Keep in step with migrations/postgres.

ALTER TABLE clients ADD COLUMN grant_types TEXT NOT NULL DEFAULT '["authorization_code","refresh_token"]';
ALTER TABLE clients ADD COLUMN first_party BIGINT NOT NULL DEFAULT 1;
ALTER TABLE clients ADD COLUMN allowed_scopes TEXT;               -- JSON array; NULL = the OIDC scopes
ALTER TABLE clients ADD COLUMN audiences TEXT NOT NULL DEFAULT '[]'; -- resources it may get tokens for
ALTER TABLE clients ADD COLUMN jwks TEXT;                         -- public keys for private_key_jwt
ALTER TABLE clients ADD COLUMN backchannel_logout_uri TEXT;
ALTER TABLE clients ADD COLUMN always_refresh BIGINT NOT NULL DEFAULT 0;
ALTER TABLE clients ADD COLUMN access_token_ttl_secs BIGINT;
ALTER TABLE clients ADD COLUMN refresh_idle_ttl_secs BIGINT;
ALTER TABLE clients ADD COLUMN refresh_absolute_ttl_secs BIGINT;

-- One row per refresh token ever issued. A family is a grant: rotation keeps the grant,
-- reuse of a rotated-out token revokes it (and with it every token of the family).
CREATE TABLE refresh_tokens (
    token_hash          TEXT PRIMARY KEY,
    grant_id            TEXT NOT NULL REFERENCES grants(id) ON DELETE CASCADE,
    client_id           TEXT NOT NULL,
    created_at          BIGINT NOT NULL,
    expires_at          BIGINT NOT NULL,   -- sliding idle expiry, capped by the grant's absolute one
    used_at             BIGINT             -- set when rotated out
);
CREATE INDEX refresh_tokens_grant ON refresh_tokens(grant_id);

ALTER TABLE grants ADD COLUMN refresh_expires_at BIGINT;  -- absolute end of the refresh family

-- Access tokens revoked by jti before their expiry (RFC 7009); rows go when the token would.
CREATE TABLE revoked_access_tokens (
    jti        TEXT PRIMARY KEY,
    expires_at BIGINT NOT NULL
);

-- private_key_jwt assertion ids seen, to refuse replays until the assertion expires.
CREATE TABLE used_client_assertions (
    client_id  TEXT NOT NULL,
    jti        TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (client_id, jti)
);

-- What a user allowed a third-party client, remembered until revoked.
CREATE TABLE consents (
    user_id    TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    client_id  TEXT NOT NULL REFERENCES clients(id) ON DELETE CASCADE,
    scope      TEXT NOT NULL,
    granted_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, client_id)
);

-- Back-channel logout deliveries, retried until they succeed or run out of attempts.
CREATE TABLE logout_deliveries (
    id          TEXT PRIMARY KEY,
    client_id   TEXT NOT NULL,
    uri         TEXT NOT NULL,
    logout_token TEXT NOT NULL,
    attempts    BIGINT NOT NULL DEFAULT 0,
    next_at     BIGINT NOT NULL,
    created_at  BIGINT NOT NULL
);
