-- The individual claims a client asked for with the `claims` parameter (OIDC Core 5.5),
-- as JSON {"userinfo": [...], "id_token": [...]}; NULL when it asked for none. The code
-- carries them to its grant, and the grant to every token refreshed from it.
-- Keep in step with migrations/sqlite and migrations/postgres.
ALTER TABLE authorization_codes ADD COLUMN claims TEXT;
ALTER TABLE grants ADD COLUMN claims TEXT;

-- The authentication context class of the sign-in behind a code and its grant (OIDC
-- Core 2): '1' when the user signed in during that authorization, '0' for a reused session.
ALTER TABLE authorization_codes ADD COLUMN acr TEXT NOT NULL DEFAULT '0';
ALTER TABLE grants ADD COLUMN acr TEXT NOT NULL DEFAULT '0';

-- The session a sign-in made for a parked request. Only that sign-in answers the
-- request's prompt=login, max_age or acr_values=1, and makes its acr "1": comparing
-- auth_time with when the request was parked cannot tell two events in one second apart.
ALTER TABLE authorization_requests ADD COLUMN signed_in_session TEXT;
