-- A client whose tokens must all be DPoP-bound (RFC 9449 §5.2, the
-- dpop_bound_access_tokens registration metadata; --require-dpop in the CLI).
ALTER TABLE clients ADD COLUMN require_dpop BIGINT NOT NULL DEFAULT 0;
