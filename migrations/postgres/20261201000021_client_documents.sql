-- What a client may host or publish for Gatehouse to fetch or show (OIDC Dynamic
-- Client Registration §2): its keys by URL, pre-registered request_uri values, pairwise
-- subjects and their sector, the links shown on the consent page, and signed UserInfo.
ALTER TABLE clients ADD COLUMN jwks_uri TEXT;
ALTER TABLE clients ADD COLUMN request_uris TEXT NOT NULL DEFAULT '[]';
ALTER TABLE clients ADD COLUMN sector_identifier_uri TEXT;
-- The host pairwise subjects are computed for; NULL means public subjects.
ALTER TABLE clients ADD COLUMN pairwise_sector TEXT;
ALTER TABLE clients ADD COLUMN logo_uri TEXT;
ALTER TABLE clients ADD COLUMN policy_uri TEXT;
ALTER TABLE clients ADD COLUMN tos_uri TEXT;
ALTER TABLE clients ADD COLUMN userinfo_signed_response_alg TEXT;
