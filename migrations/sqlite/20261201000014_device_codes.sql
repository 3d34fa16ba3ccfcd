-- The device authorization grant (RFC 8628): a code the device polls with (by digest)
-- and the short code its user types on /device. Keep in step with the other backend's
-- migration.
CREATE TABLE device_codes (
    device_code_hash TEXT PRIMARY KEY,
    user_code        TEXT NOT NULL UNIQUE,     -- normalised: upper case, no dash
    client_id        TEXT NOT NULL REFERENCES clients(id) ON DELETE CASCADE,
    scope            TEXT NOT NULL,
    created_at       BIGINT NOT NULL,
    expires_at       BIGINT NOT NULL,
    interval_secs    BIGINT NOT NULL,
    last_polled_at   BIGINT NOT NULL DEFAULT 0,
    status           TEXT NOT NULL DEFAULT 'pending',  -- pending, approved, denied, used
    user_id          TEXT REFERENCES users(id) ON DELETE CASCADE,
    session_id       TEXT,
    auth_time        BIGINT,
    amr              TEXT,
    idp              TEXT,
    grant_id         TEXT
);
