import { z } from 'zod';
import { defineEnv, env } from '../platform/index.js';

/** Ingest, Massive and simulator settings (README table via `tickflow config`). */
export const loadIngestConfig = defineEnv('ingest', {
  INGEST_SOURCE: z
    .enum(['massive', 'simulator'])
    .default('simulator')
    .describe('Live source of `tickflow ingest` without --source: the Massive feed or the embedded simulator'),
  INGEST_OPS_PORT: env.int('Port of the ingest /health, /ready and /metrics server', 9464),
  INGEST_CHANNELS: env.list('Live channels to subscribe (T, Q, A, AM; LULD and FMV need INGEST_LULD / INGEST_FMV)', 'T,Q,A,AM'),
  INGEST_SYMBOLS: env.list('Tickers to subscribe, or * for all', '*'),
  INGEST_LULD: env.bool('Also subscribe to LULD bands', false),
  INGEST_FMV: env.bool('Also subscribe to FMV (Massive business plan)', false),
  INGEST_DEDUP_WINDOW: env.int(
    'Recent sequence numbers remembered per channel and symbol for duplicate suppression (8 bytes each: about 2.4 KB per key at 256, measured by bench/memory-per-symbol.ts)',
    256,
  ),
  INGEST_DEDUP_MAX_KEYS: env.int(
    'Channel+symbol keys the duplicate filter remembers, least recent evicted (about 2.4 KB per key with a full window of 256: 50,000 keys ≈ 113 MiB)',
    50_000,
  ),
  INGEST_PARTITION_CACHE_MAX_KEYS: env.int(
    'Keys (tickers) whose Kafka partition ingest remembers per topic; emptied when full (about 30 bytes per key plus its ticker string, about 60 in all: 200,000 ≈ 11 MiB per topic)',
    200_000,
  ),
  INGEST_KAFKA_CLIENT: z
    .enum(['kafkajs', 'platformatic'])
    .default('kafkajs')
    .describe(
      'Producer library of ingest: kafkajs (the project client) or @platformatic/kafka (measured to cost less CPU per event; bench/RESULTS.md)',
    ),
  INGEST_BATCH_MESSAGES: env.int(
    'Kafka messages per produce request (kafkajs groups a request by partition in time quadratic in its size)',
    2_000,
  ),
  INGEST_MAX_IN_FLIGHT: env.int(
    'Produce requests in flight (1-5; above 1, a broker failure can reorder, lose or repeat what is sent again: warned at start)',
    1,
  ),
  INGEST_KAFKA_STALL_TIMEOUT_MS: env.int(
    'Kafka acknowledging nothing for this long while messages wait (failing or hanging sends) makes ingest exit non-zero for its supervisor to restart it',
    60_000,
  ),
  INGEST_HIGH_WATER: env.int('Waiting messages above which the live source stops reading its socket', 100_000),
  INGEST_BACKOFF_BASE_MS: env.int('First reconnect delay (doubles per attempt, with jitter)', 500),
  INGEST_BACKOFF_MAX_MS: env.int('Reconnect delay ceiling', 30_000),
  INGEST_HANDSHAKE_TIMEOUT_MS: env.int('Each step of connect/auth/subscribe must finish within this', 10_000),
  INGEST_IDLE_PING_MS: env.int('Silence after which the live source pings the server', 15_000),
  INGEST_PONG_TIMEOUT_MS: env.int('A ping unanswered this long marks the connection dead (reconnect)', 10_000),
  INGEST_RECORD_FILE: env.optionalString('Append every received frame to this file (JSON lines) for `simulator --replay`'),
  INGEST_LEASE: env.bool(
    'Run as one of several instances under a lease: the holder writes the feed (through a fenced transactional producer), the others wait as standbys and take over when it dies (docs/SCALING.md)',
    false,
  ),
  INGEST_LEASE_ID: env.string(
    "Names the lease: its consumer group and the active instance's transactional id (one per deployment and feed)",
    'tickflow-ingest',
  ),
  INGEST_LEASE_TIMEOUT_MS: env.int(
    "A dead active instance is out of the lease's group after this long (its session timeout), then a standby takes over",
    10_000,
  ),
  INGEST_INSTANCE: env.optionalString("This instance's name in the lease (logs, /ready); default host name and process id"),
});

export const loadMassiveConfig = defineEnv('massive', {
  MASSIVE_API_KEY: env.optionalString('Massive.com API key (WebSocket auth and REST apiKey)'),
  MASSIVE_WS_URL: env.string(
    'WebSocket cluster base (…/stocks is appended): wss://socket.massive.com, wss://delayed.massive.com or ws://127.0.0.1:8765',
    'wss://socket.massive.com',
  ),
  MASSIVE_REST_URL: env.string('REST base URL', 'https://api.massive.com'),
  MASSIVE_REST_MAX_RETRIES: env.int('Retries of a REST call answered 429 or 5xx (exponential backoff, Retry-After honoured)', 8),
  MASSIVE_REST_BACKOFF_MS: env.int('First REST retry delay', 1000),
});

export const loadSimulatorConfig = defineEnv('simulator', {
  SIMULATOR_HOST: env.string('Interface the simulator listens on', '127.0.0.1'),
  SIMULATOR_PORT: env.int('Port of the simulated Massive WebSocket (ws://host:port/stocks); also serves /health /metrics', 8765),
  SIMULATOR_RATE: env.int('Trades + quotes per real second', 5000),
  SIMULATOR_SPEED: env.number('Simulated seconds per real second (1 = real time; 60 = a minute bar every second)', 1),
  SIMULATOR_SYMBOLS: env.int('Universe size (SPY and real large caps first, then synthetic tickers)', 500),
  SIMULATOR_SEED: env.int('Random seed of the synthetic market', 42),
  SIMULATOR_API_KEY: env.optionalString('If set, the only key the simulator accepts (else any non-empty key)'),
  SIMULATOR_REPLAY_FILE: env.optionalString('Play this recording (JSON lines of frames or events) instead of generating'),
  SIMULATOR_SECOND_AGGREGATES: env.bool('Emit second aggregates (A) as well as minute aggregates (AM)', true),
  SIMULATOR_START: env.optionalString('Simulated clock start (ISO 8601); default now'),
  SIMULATOR_FLOW_CONTROL: env.bool(
    'Benchmark mode: generate nothing while a client has > 4 MiB unsent (rate settles at what the client sustains)',
    false,
  ),
  SIMULATOR_MAX_BUFFER_MB: env.int('A client with more unsent MiB than this is disconnected as a slow consumer (as Massive does)', 64),
});

export type IngestConfig = ReturnType<typeof loadIngestConfig>;
export type MassiveConfig = ReturnType<typeof loadMassiveConfig>;
export type SimulatorConfig = ReturnType<typeof loadSimulatorConfig>;

/** Subscription params for the configured channels and symbols, e.g. ["T.*", "AM.*"]. */
export function subscriptionParams(channels: readonly string[], symbols: readonly string[], luld: boolean, fmv: boolean): string[] {
  const all = [...channels.filter((channel) => channel !== 'LULD' && channel !== 'FMV')];
  if (luld) all.push('LULD');
  if (fmv) all.push('FMV');
  return all.flatMap((channel) => symbols.map((symbol) => `${channel}.${symbol}`));
}
