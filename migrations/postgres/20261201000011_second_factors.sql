-- Second factors (authenticator-app codes, recovery codes, passkeys) and the half-made
-- sign-in between a first factor and a second. Keep in step with the other backend's
-- migration.

-- One authenticator app per account. `secret` is sealed under the key-encryption key;
-- `last_step` is the newest RFC 6238 time step accepted, so a code is good only once.
CREATE TABLE totp_secrets (
    user_id      TEXT PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    secret       TEXT NOT NULL,
    confirmed_at BIGINT,                      -- NULL until one code confirmed the enrolment
    last_step    BIGINT NOT NULL DEFAULT 0,
    created_at   BIGINT NOT NULL
);

-- Single-use recovery codes, by digest.
CREATE TABLE recovery_codes (
    user_id   TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    code_hash TEXT NOT NULL,
    used_at   BIGINT,
    PRIMARY KEY (user_id, code_hash)
);

-- WebAuthn credentials. Public keys only: nothing here needs sealing.
CREATE TABLE passkeys (
    id           TEXT PRIMARY KEY,            -- the credential id, base64url
    user_id      TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    credential   TEXT NOT NULL,               -- the credential as webauthn-rs serialises it
    created_at   BIGINT NOT NULL,
    last_used_at BIGINT
);
CREATE INDEX passkeys_user ON passkeys(user_id);

-- A WebAuthn ceremony in progress (its challenge and state), kept in the database so any
-- instance can finish what another started; single-use.
CREATE TABLE webauthn_challenges (
    id         TEXT PRIMARY KEY,              -- digest of the id the browser holds
    user_id    TEXT,                          -- NULL for a passwordless sign-in
    purpose    TEXT NOT NULL,                 -- 'register', 'second_factor', 'sign_in'
    state      TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);

-- A sign-in waiting for its second factor. The browser holds a random cookie; the row its
-- digest. `session_id` is set when an existing session is stepping up.
CREATE TABLE pending_sign_ins (
    id           TEXT PRIMARY KEY,
    user_id      TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    identifier   TEXT NOT NULL,               -- whose login lockout the attempts count against
    first_factor TEXT NOT NULL,               -- the amr of the first factor
    idp          TEXT,
    session_id   TEXT,
    request_id   TEXT,
    return_to    TEXT,
    need         TEXT NOT NULL,               -- 'any' second factor, or a 'passkey'
    expires_at   BIGINT NOT NULL
);

ALTER TABLE clients ADD COLUMN require_mfa BIGINT NOT NULL DEFAULT 0;
