-- A counter every change to a client moves, in the same transaction: running instances
-- keep registered clients in memory and forget them when it moves (they read it once a
-- second), so a client changed through the CLI or on another instance is seen everywhere.
-- Keep in step with the other backend's migration.
CREATE TABLE client_generation (
    id    BIGINT PRIMARY KEY,
    value BIGINT NOT NULL
);
INSERT INTO client_generation (id, value) VALUES (1, 0);
