-- DPoP (RFC 9449). Keep in step with the other backend's migration.
-- Proofs seen: a replayed proof loses the INSERT on the primary key, on whichever
-- instance it arrives (§11.1). Kept only while its iat would still be accepted.
CREATE TABLE dpop_proofs (
    jkt        TEXT NOT NULL,                 -- RFC 7638 thumbprint of the proof's key
    jti        TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (jkt, jti)
);

-- Server nonces (§8): one random value per time window, shared by every instance.
CREATE TABLE dpop_nonces (
    window_start BIGINT PRIMARY KEY,
    nonce        TEXT NOT NULL,
    expires_at   BIGINT NOT NULL
);

-- The key a code was bound to with dpop_jkt (§10), and the key a public client's refresh
-- tokens are bound to (§5): the grant is the refresh token family.
ALTER TABLE authorization_codes ADD COLUMN dpop_jkt TEXT;
ALTER TABLE grants ADD COLUMN dpop_jkt TEXT;
