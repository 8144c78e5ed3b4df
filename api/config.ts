import { defineEnv, env } from '../platform/index.js';

/** The API's own settings; connection strings (DATABASE_URL, REDIS_URL, KAFKA_BROKERS) come from the platform config. */
export const loadApiConfig = defineEnv('api', {
  API_PORT: env.int('Port of the REST API (also serves /health, /ready, /metrics)', 3000),
  API_HOST: env.string('Interface the REST API listens on', '127.0.0.1'),
  API_OPS_PORT: env.int('Port of the API ops server (/health /ready /metrics) when /metrics is not on API_PORT (production)', 9467),
  API_DASHBOARD_GATEWAY_URL: env.string(
    "The gateway's WebSocket URL the dashboard (/app/) connects to; {host} stands for the host name the page was loaded from",
    'ws://{host}:3001/ws',
  ),
  API_CORS_ORIGINS: env.list('Dashboard origins allowed by CORS, comma separated (`*` allows any)', 'http://localhost:5173'),
  API_RATE_LIMIT_PER_MINUTE: env.int('Requests per minute per client (user, API key or IP) on data endpoints', 600),
  API_AUTH_RATE_LIMIT_PER_MINUTE: env.int(
    'Requests per minute per IP on the credential endpoints (register, login, refresh, logout) and with failed credentials (stricter: slows guessing)',
    20,
  ),
  API_LOGIN_FAILURES_PER_ACCOUNT: env.int(
    'Failed logins per account (email) per 15 minutes before its logins answer 429, whatever the IP',
    10,
  ),
  API_PUBLIC_DATA: env.bool(
    'Serve market data (scans, stats, patterns, symbols, bars) without a credential; off by default because the data is licensed per user',
    false,
  ),
  API_CACHE_TTL_SECONDS: env.int('Upper bound on the life of a cached scan or symbol read (versions invalidate earlier)', 300),
  API_KEY_CACHE_SECONDS: env.int(
    'A verified API key is trusted this long without reading api_keys again; a key revoked through another API instance still works here for at most this long (0 reads it on every request)',
    5,
  ),
  API_REFRESH_TOKEN_TTL_SECONDS: env.int('Lifetime of a refresh token', 30 * 24 * 3600),
  API_REFRESH_GRACE_SECONDS: env.int(
    'A refresh token presented again this soon after its rotation returns the same successor (two tabs refreshing at once) instead of revoking the session',
    10,
  ),
  API_CACHE_REFRESH_AHEAD: env.int(
    'Recently read scans/stats/symbol reads recomputed as soon as a projection notice makes them stale (0 disables)',
    200,
  ),
  API_CACHE_LOCAL_VALUES: env.int(
    "Cached values each API instance also keeps in its own memory (a hit then skips Redis's transfer and the parse), least recently stored dropped first; an entry costs about the parsed size of its answer (a scan page of per_page rows at most 200), so the cap is entries, not bytes",
    500,
  ),
  API_CACHE_KNOWN_DEPENDENCIES: env.int(
    'Cache entries whose value-dependent version keys each API instance remembers (so a hit stays one Redis MGET), oldest dropped first (each a list of one version key per symbol of the page)',
    5_000,
  ),
  API_STATEMENT_TIMEOUT_MS: env.int('PostgreSQL statement timeout of API queries; a query over it answers 503', 5000),
  API_REDIS_COMMAND_TIMEOUT_MS: env.int('A Redis command slower than this fails, and the request is served from PostgreSQL', 500),
  API_CACHE_MAX_STALE_MS: env.int(
    'Broad scans (not limited to a few symbols) may be served this stale while one refresh runs behind; 0 = always exact',
    1000,
  ),
  API_PREPARED_POOL: env.int(
    'Connections of a second PostgreSQL pool for scans filtered by confidence and at most one tier and one pattern type, run as prepared statements planned once per connection; 0 runs them unprepared on the main pool (also the setting behind a pooler in transaction mode, such as PgBouncer)',
    10,
  ),
  API_SCAN_COUNT_CAP: env.int(
    'A scan counts matching rows up to this many; beyond it `total` is a lower bound and `total_capped` is true',
    10_000,
  ),
  API_MAX_OFFSET_ROWS: env.int(
    'Offset paging of scans reaches at most this many rows (page × per_page); deeper pages answer 400 pointing to the keyset cursor (`next_cursor`), whose cost does not grow with depth',
    5_000,
  ),
  API_MAX_PROJECTION_LAG: env.int('Projection lag (Kafka records not yet projected) above which /ready reports degraded', 10_000),
  API_REDIS_PREFIX: env.string("Prefix of the API's own Redis keys (cache entries, rate-limit counters)", 'tickflow:api:'),
  API_PROJECTION_LAG_FROM_KAFKA: env.bool('Measure projection lag for /ready against Kafka end offsets (needs the brokers)', true),
  API_TRUST_PROXY_HOPS: env.int(
    'Reverse proxies in front of the API: the client IP is the X-Forwarded-For entry this many from the right (the one the outermost trusted proxy added); 0 uses the socket address. Replaces API_TRUST_PROXY',
    0,
  ),
});

export type ApiConfig = ReturnType<typeof loadApiConfig>;
