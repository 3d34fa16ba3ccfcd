-- Dynamic Client Registration (RFC 7591, RFC 7592). Keep in step with the other backend.
-- A dynamically registered client: the digest of its registration access token, which
-- reads, replaces and deletes it at /register/{client_id}, and the authentication method
-- it registered (Gatehouse accepts either secret method from any confidential client).
CREATE TABLE client_registrations (
    client_id                  TEXT PRIMARY KEY REFERENCES clients(id) ON DELETE CASCADE,
    token_hash                 TEXT NOT NULL UNIQUE,
    token_endpoint_auth_method TEXT NOT NULL,
    created_at                 BIGINT NOT NULL
);

-- Initial access tokens (RFC 7591 §3) that an operator issues when registration is
-- gated: digests only, usable until they expire.
CREATE TABLE initial_access_tokens (
    token_hash TEXT PRIMARY KEY,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
