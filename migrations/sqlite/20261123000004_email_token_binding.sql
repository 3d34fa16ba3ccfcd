-- One live link per (user, purpose), enforced by the database; and the browser that asked
-- for a signup confirmation, so only that browser is signed in by it.
-- Keep in step with migrations/postgres.
DROP INDEX email_tokens_user;
CREATE UNIQUE INDEX email_tokens_user_purpose ON email_tokens(user_id, purpose);
ALTER TABLE email_tokens ADD COLUMN browser_hash TEXT;
