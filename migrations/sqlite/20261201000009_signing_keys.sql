-- Signing keys live in the database, so every instance signs with and publishes the same
-- set. The private key is sealed (AES-256-GCM under the key-encryption key from
-- `keys.encryption_key[_file]`, the `kid` as associated data); the database alone cannot
-- sign anything.
-- Keep in step with the other backend's migration.
CREATE TABLE signing_keys (
    kid          TEXT PRIMARY KEY,       -- RFC 7638 thumbprint of the public key
    sealed       TEXT NOT NULL,          -- base64(nonce || ciphertext || tag) of the PKCS#8 PEM
    created_at   BIGINT NOT NULL,
    signing_from BIGINT NOT NULL,        -- published at once, signs from this time on
    retired_at   BIGINT
);

-- One row, ever: the instance that inserts it is the one whose first key(s) go in, so
-- instances starting together on an empty database agree on one first key.
CREATE TABLE signing_key_init (
    id         BIGINT PRIMARY KEY,
    kid        TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
