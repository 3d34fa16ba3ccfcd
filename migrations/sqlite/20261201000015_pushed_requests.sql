-- Pushed authorization requests (RFC 9126): validated at /par, used once at /authorize
-- through their request_uri. Keep in step with the other backend's migration.
CREATE TABLE pushed_requests (
    id         TEXT PRIMARY KEY,              -- digest of the random part of the request_uri
    client_id  TEXT NOT NULL REFERENCES clients(id) ON DELETE CASCADE,
    params     TEXT NOT NULL,                 -- JSON of the validated request
    expires_at BIGINT NOT NULL
);

ALTER TABLE clients ADD COLUMN require_par BIGINT NOT NULL DEFAULT 0;
