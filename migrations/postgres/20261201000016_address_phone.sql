-- A postal address and a phone number on the account, released under the address and
-- phone scopes (OIDC Core §5.1). Empty means not given: the claim is then left out.
ALTER TABLE users ADD COLUMN phone_number TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN street_address TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN locality TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN region TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN postal_code TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN country TEXT NOT NULL DEFAULT '';
