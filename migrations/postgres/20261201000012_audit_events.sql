-- The audit trail: security-relevant events, appended and never updated; the janitor
-- deletes those older than `audit.retention_days`. Keep in step with the other
-- backend's migration. No column may hold a secret, a password, a code or a token.
--
-- No foreign keys: an event outlives the account or client it names (a deletion is itself
-- an event), until the retention ends it.
CREATE TABLE audit_events (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, -- grows with every insert
    at            BIGINT NOT NULL,
    actor_user_id TEXT,                       -- who acted, when known
    action        TEXT NOT NULL,              -- 'sign_in', 'sign_in_failed', … (src/audit.rs)
    outcome       TEXT NOT NULL,              -- 'success' or 'failure'
    target        TEXT,                       -- the user or client acted upon
    client_id     TEXT,
    ip            TEXT NOT NULL,
    user_agent    TEXT NOT NULL,              -- truncated to 256 characters
    detail        TEXT                        -- e.g. the method (pwd, otp, hwk, fed) or upstream id
);
CREATE INDEX audit_events_actor_at ON audit_events(actor_user_id, at);
CREATE INDEX audit_events_at ON audit_events(at);
