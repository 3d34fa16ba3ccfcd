-- Counters every instance sharing the database must agree on.
-- Keep in step with the other backend's migration.

-- When the last failed login for an identifier happened: failures are forgiven one per
-- quiet interval, so a trickle of bad guesses cannot keep an owner locked out.
ALTER TABLE login_failures ADD COLUMN last_failure_at BIGINT NOT NULL DEFAULT 0;

-- Mails per recipient and kind in the current hour (a fixed window), against mail bombing.
CREATE TABLE mail_caps (
    recipient_key TEXT NOT NULL,
    cap           TEXT NOT NULL,          -- links | notices
    window_start  BIGINT NOT NULL,
    sent          BIGINT NOT NULL,
    PRIMARY KEY (recipient_key, cap)
);
