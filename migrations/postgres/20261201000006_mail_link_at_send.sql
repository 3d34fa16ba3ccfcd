-- Emailed links are no longer stored in the outbox: a link mail keeps its body with a slot
-- for the token and, here, what the token is for (JSON). The worker issues the token when
-- it sends, so no live link sits in the database in the clear.
-- Keep in step with the other backend's migration.
ALTER TABLE mail_outbox ADD COLUMN link TEXT;
