-- Self-service accounts: emailed tokens, the mail outbox, login throttling.
-- Keep in step with migrations/postgres.

-- Single-use links sent by email. Bound to the user and to the address they were sent to.
CREATE TABLE email_tokens (
    token_hash TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    purpose    TEXT NOT NULL,              -- confirm | reset | email_change
    email      TEXT NOT NULL,              -- the address it was sent to
    request_id TEXT,                       -- a parked authorization request to continue
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX email_tokens_user ON email_tokens(user_id, purpose);

-- Every email we send goes through here, so a slow or failing SMTP server loses nothing.
CREATE TABLE mail_outbox (
    id         TEXT PRIMARY KEY,
    recipient  TEXT NOT NULL,
    subject    TEXT NOT NULL,
    body_text  TEXT NOT NULL,
    body_html  TEXT NOT NULL,
    attempts   BIGINT NOT NULL DEFAULT 0,
    next_at    BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);

-- Failed logins per identifier (existing or not, so throttling reveals nothing).
CREATE TABLE login_failures (
    identifier_key TEXT PRIMARY KEY,
    failures       BIGINT NOT NULL,
    locked_until   BIGINT NOT NULL
);
