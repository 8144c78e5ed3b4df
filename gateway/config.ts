import { defineEnv, env } from '../platform/index.js';

/** The gateway's own settings; Kafka, registry and database come from the platform config. */
export const loadGatewayConfig = defineEnv('gateway', {
  GATEWAY_PORT: env.int(
    'Port of the WebSocket gateway (also serves /health, /ready, /metrics and /sdk.js; / redirects to the dashboard)',
    3001,
  ),
  GATEWAY_DASHBOARD_URL: env.string(
    "Where the gateway's / redirects: the dashboard's live feed, served by the API; {host} stands for the host name the request named",
    'http://{host}:3000/app/live',
  ),
  GATEWAY_HOST: env.string('Interface the gateway listens on', '127.0.0.1'),
  GATEWAY_OPS_PORT: env.int(
    'Port of the gateway ops server (/health /ready /metrics) when /metrics is not on GATEWAY_PORT (production)',
    9468,
  ),
  GATEWAY_RING_CAPACITY: env.int(
    'Recent events kept in memory per partition of each stream; older positions are read back from Kafka; memory: see RELIABILITY.md (memory)',
    10_000,
  ),
  GATEWAY_HEARTBEAT_MS: env.int("Interval of heartbeat frames (each carries every subscription's cursor and lag)", 15_000),
  GATEWAY_AUTH_TIMEOUT_MS: env.int('A connection that has not authenticated within this time is closed (4001)', 10_000),
  GATEWAY_IDLE_TIMEOUT_MS: env.int('An authenticated connection without any subscription for this long is closed (4000)', 300_000),
  GATEWAY_STALL_TIMEOUT_MS: env.int(
    'A connection whose send buffer stays above the limit this long (a peer that stopped reading) is closed (4008)',
    120_000,
  ),
  GATEWAY_MAX_FRAME_BYTES: env.int(
    'Largest client frame answered normally; larger ones get frame_too_large (above 4x, the socket is closed with 1009)',
    16_384,
  ),
  GATEWAY_MAX_CONNECTIONS: env.int(
    'Open WebSocket connections at most; one more is closed at once with 1013 (try again later); memory per connection: see RELIABILITY.md (memory)',
    10_000,
  ),
  GATEWAY_MAX_SUBSCRIPTIONS: env.int('Subscriptions per connection', 16),
  GATEWAY_MAX_SYMBOLS: env.int('Symbols per subscription (after resolving a universe)', 5_000),
  GATEWAY_MAX_CREDITS: env.int('Largest credit balance a subscription may hold', 100_000),
  GATEWAY_DEFAULT_CREDITS: env.int('Credits of a subscription that does not say', 100),
  GATEWAY_FRAMES_PER_SECOND: env.int('Client frames per second allowed on average (token bucket)', 50),
  GATEWAY_FRAME_BURST: env.int('Client frames allowed in a burst', 100),
  GATEWAY_MAX_BUFFERED_BYTES: env.int(
    'Send-buffer level above which the gateway stops sending events to a connection until it drains',
    256 * 1024,
  ),
  GATEWAY_MAX_BATCH: env.int('Events per frame at most', 500),
  GATEWAY_LISTEN_RETRY_MS: env.int('How long a starting gateway retries a busy port (sockets of a previous process in TIME_WAIT)', 90_000),
  GATEWAY_POLL_WAIT_MS: env.int('Kafka long-poll wait of the tailers', 100),
  GATEWAY_ALLOW_WS_EMULATION: env.bool(
    'Serve on the slow `ws` emulation of uWS when no native uWebSockets.js build loads on this runtime (otherwise the gateway refuses to start); logged at ERROR, shown by /ready and tickflow_gateway_uws_native',
    false,
  ),
  GATEWAY_METADATA_REFRESH_MS: env.int('How often the tailers re-read topic metadata to pick up partitions added at runtime', 15_000),
});

export type GatewayConfig = ReturnType<typeof loadGatewayConfig>;
