-- Sign-in through an upstream OpenID Connect provider ("Continue with Google").
-- Keep in step with the other backend's migration.

-- A linked upstream identity. Keyed by the provider's issuer and its `sub`, never by
-- email: an address that changes upstream does not move the identity, and two providers
-- never share one.
CREATE TABLE federated_identities (
    id           TEXT PRIMARY KEY,
    issuer       TEXT NOT NULL,
    subject      TEXT NOT NULL,
    user_id      TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    upstream_id  TEXT NOT NULL,          -- the [[upstream]] id it was linked through
    email        TEXT NOT NULL DEFAULT '', -- the address at the upstream, as last seen
    linked_at    BIGINT NOT NULL,
    last_used_at BIGINT NOT NULL,
    UNIQUE (issuer, subject)
);
CREATE INDEX federated_identities_user ON federated_identities(user_id);

-- One trip to an upstream and back: what the callback needs, found by the digest of the
-- `state` it sent, and bound to the browser by the digest of a cookie. Used once.
CREATE TABLE upstream_trips (
    state_hash   TEXT PRIMARY KEY,
    browser_hash TEXT NOT NULL,
    upstream_id  TEXT NOT NULL,
    data         TEXT NOT NULL,          -- JSON: nonce, PKCE verifier, purpose, where to go next
    expires_at   BIGINT NOT NULL
);

-- An upstream identity proven in this browser that still needs a step (a username, a
-- proof of the local account, an email confirmation) before it becomes a sign-in.
CREATE TABLE upstream_pending (
    browser_hash TEXT PRIMARY KEY,
    data         TEXT NOT NULL,          -- JSON: the identity's claims and where to go next
    expires_at   BIGINT NOT NULL
);

-- How each sign-in was made, for the `amr` and `idp` claims of the tokens it leads to.
ALTER TABLE sessions ADD COLUMN amr TEXT NOT NULL DEFAULT 'pwd';
ALTER TABLE sessions ADD COLUMN idp TEXT;
ALTER TABLE authorization_codes ADD COLUMN amr TEXT NOT NULL DEFAULT 'pwd';
ALTER TABLE authorization_codes ADD COLUMN idp TEXT;
ALTER TABLE grants ADD COLUMN amr TEXT NOT NULL DEFAULT 'pwd';
ALTER TABLE grants ADD COLUMN idp TEXT;
