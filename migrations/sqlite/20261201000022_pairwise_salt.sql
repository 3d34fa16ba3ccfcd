-- The secret every pairwise subject (OIDC Core §8.1) is derived with. One row, ever:
-- instances starting together on an empty database each try to insert theirs and all
-- read back the one that went in. Losing or replacing it changes every pairwise `sub`,
-- so it lives with the data it belongs to and is backed up with it.
-- Keep in step with the other backend's migration.
CREATE TABLE pairwise_salt (
    id         BIGINT PRIMARY KEY,
    salt       TEXT NOT NULL,          -- base64url of 32 random bytes
    created_at BIGINT NOT NULL
);
