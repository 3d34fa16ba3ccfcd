-- Administration: users with the admin role (granted with `gatehouse user grant-admin`)
-- may get the gatehouse:admin scope through a first-party app; a disabled user cannot
-- sign in or refresh tokens until enabled again. Keep in step with the other backend's
-- migration.

ALTER TABLE users ADD COLUMN is_admin BIGINT NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN disabled_at BIGINT;
