-- Up Migration
-- Owned by the API stage (api/). Issue 18: a leaked API key could mint its own successor.
-- API keys carry scopes: `read` (REST data and universes), `stream` (the gateway's WebSocket) and `manage`
-- (API key management), which is granted only when asked for. Keys made before scopes existed keep what they
-- could do except manage: key management then needs a signed-in session or a key created with `manage`.
ALTER TABLE api_keys ADD COLUMN scopes text[] NOT NULL DEFAULT ARRAY['read', 'stream']::text[]
  CHECK (scopes <@ ARRAY['read', 'stream', 'manage']::text[]);

-- Two tabs refreshing with the same token at once: the second, within a short grace, gets the successor the first
-- got. The successor is derived from the presented token and this random seed (HMAC), so the database alone (which
-- holds only hashes of tokens) cannot rebuild it.
ALTER TABLE refresh_tokens ADD COLUMN successor_seed text;

-- The 5,000-symbol cap of a universe, also for writes that build the list in place (PATCH add_symbols).
-- NOT VALID: rows written before the cap was enforced on every path are left as they are.
ALTER TABLE user_universes ADD CONSTRAINT user_universes_symbols_cap CHECK (cardinality(symbols) <= 5000) NOT VALID;

-- Down Migration
ALTER TABLE user_universes DROP CONSTRAINT IF EXISTS user_universes_symbols_cap;
ALTER TABLE refresh_tokens DROP COLUMN IF EXISTS successor_seed;
ALTER TABLE api_keys DROP COLUMN IF EXISTS scopes;
