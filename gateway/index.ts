import { existsSync, readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import type { Registry } from 'prom-client';
import { AvroCodec, Gauge, createMetricsRegistry, topicName, type Logger, type TokenService } from '../platform/index.js';
import { createAuthenticator, createUniverseResolver, type Authenticator, type UniverseResolver } from './access.js';
import type { GatewayConfig } from './config.js';
import { TopicTail } from './topic-tail.js';
import { KafkaLogSource, avroDecoder, type LogSource } from './kafka-log.js';
import { Redis } from 'ioredis';
import { redisKeys } from '../contracts/redis-keys.js';
import { GatewayServer } from './server.js';
import { redisSnapshotSource } from './snapshot.js';
import { STREAMS, STREAM_NAMES, internedCounts, type StreamName } from './types.js';
import { SDK_BUNDLES, SDK_DIST_DIR, bundleSdkForBrowser } from './client/bundle.js';
import { loadUws } from './uws-runtime.js';
import { trackStructures, type TrackedStructure } from '../platform/tracked-structures.js';

export { loadGatewayConfig, type GatewayConfig } from './config.js';
export { createAuthenticator, createUniverseResolver, type Authenticator, type Principal, type UniverseResolver } from './access.js';
export { decodeCursor, encodeCursor, topicEpoch, type Cursor } from './cursor.js';
export { KafkaLogSource, avroDecoder, OffsetOutOfRangeError, type LogSource, type TopicInfo } from './kafka-log.js';
export { STREAMS, STREAM_NAMES, type StreamName } from './types.js';
export { UwsUnavailableError, loadUws, type UwsRuntime } from './uws-runtime.js';
export type * from './client/protocol.js';

/** Everything a gateway needs, given explicitly (gateway/main.ts reads them from the env once). */
export interface GatewayOptions {
  /** The gateway's own settings (gateway/config.ts). */
  readonly config: GatewayConfig;
  readonly topicPrefix: string;
  readonly brokers: readonly string[];
  readonly registryUrl: string;
  /** Prefix of the Kafka client ids of the tailers. */
  readonly kafkaClientId: string;
  /** PostgreSQL of the accounts, for API keys, users and universes; `null` disables them (tokens and built-in universes only). */
  readonly databaseUrl: string | null;
  /** Checks access tokens; required unless `authenticator` is given. */
  readonly tokens?: TokenService;
  readonly authenticator?: Authenticator;
  readonly universes?: UniverseResolver;
  readonly source?: LogSource;
  /** Redis of the projections' read model, for snapshots; `null` = snapshots from the gateway's memory only. */
  readonly redisUrl: string | null;
  /** Prefix of the read model's keys (REDIS_KEY_PREFIX). */
  readonly redisKeyPrefix: string;
  readonly streams?: readonly StreamName[];
  readonly logger: Logger;
  readonly registry?: Registry;
  /** Sees every frame the server sends (tests check them against the protocol document). */
  readonly onFrameSent?: (frame: string | Buffer) => void;
  /** True once the process is stopping (its lifecycle): /ready answers 503 before the drain. */
  readonly draining?: () => boolean;
  /** Whether /metrics is served on the gateway's own port (default true; production serves it on the ops port). */
  readonly publicMetrics?: boolean;
}

export interface GatewayHandle {
  readonly port: number;
  /** ws://host:port/ws */
  readonly url: string;
  readonly server: GatewayServer;
  readonly tails: ReadonlyMap<StreamName, TopicTail>;
  readonly registry: Registry;
  stop(): Promise<void>;
}

/**
 * The browser SDK served at /sdk.js. Compiled (dist/), the gateway reads the minified bundle the build wrote beside it,
 * at start, so that a build without it fails here and not on a visitor's request. Run from source (tsx, vitest), it
 * bundles the source in memory on first request (esbuild, a dev dependency), so the page never gets a stale bundle.
 */
function sdkBundle(): () => Promise<string> {
  if (import.meta.url.endsWith('.ts')) {
    let bundle: Promise<string> | undefined;
    return () => (bundle ??= bundleSdkForBrowser());
  }
  const path = fileURLToPath(new URL(`./client/${SDK_DIST_DIR}/${SDK_BUNDLES.browser}`, import.meta.url));
  if (!existsSync(path)) throw new Error(`the SDK bundle ${path} is missing: \`npm run build\` writes it`);
  const built = Promise.resolve(readFileSync(path, 'utf8'));
  return () => built;
}

/**
 * Starts a gateway: one Kafka tail per stream, the uWebSockets.js server on GATEWAY_PORT with /ws, /health,
 * /ready, /metrics and /sdk.js (its / redirects to the dashboard's live feed). Every instance tails Kafka on its own; instances share no state.
 */
export async function startGateway(options: GatewayOptions): Promise<GatewayHandle> {
  const { config, logger, databaseUrl } = options;
  if (!options.authenticator && !options.tokens) throw new TypeError('startGateway needs `tokens` (or an `authenticator`)');
  const registry = options.registry ?? createMetricsRegistry('gateway');
  // First, before any connection: no native uWS (and no opt-in to the emulation) is a refusal, never a slow surprise.
  const uws = loadUws({ allowEmulation: config.GATEWAY_ALLOW_WS_EMULATION });
  new Gauge({
    name: 'tickflow_gateway_uws_native',
    help: 'Whether the gateway serves on a native uWebSockets.js build (1) or on the ws emulation (0), by build',
    labelNames: ['build'],
    registers: [registry],
  }).set({ build: uws.build }, uws.native ? 1 : 0);
  if (!uws.native)
    logger.error(
      { node: uws.runtime.node, abi: uws.runtime.abi, glibc: uws.runtime.glibc, failures: uws.failures },
      'no native uWebSockets.js build loads on this runtime: serving on the slow ws emulation (GATEWAY_ALLOW_WS_EMULATION=true)',
    );
  const prefix = options.topicPrefix;
  const instance = `${hostname()}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  const codec = new AvroCodec(options.registryUrl, prefix);
  const log = options.source ?? new KafkaLogSource(options.brokers, `${options.kafkaClientId}-gateway-${instance}`, avroDecoder(codec));
  const pool =
    databaseUrl === null || (options.authenticator && options.universes)
      ? undefined
      : new pg.Pool({ connectionString: databaseUrl, max: 4 });
  pool?.on('error', (error) => logger.warn({ err: error }, 'PostgreSQL pool error'));

  const { redisUrl } = options;
  const redis =
    redisUrl === null ? undefined : new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 2, enableOfflineQueue: false });
  redis?.on('error', (error) => logger.warn({ err: error }, 'Redis error'));
  await redis?.connect().catch((error: unknown) => logger.warn({ err: error }, 'Redis unreachable: snapshots come from memory'));

  const tails = new Map<StreamName, TopicTail>();
  const stopAll = async () => {
    await Promise.all([...tails.values()].map((tail) => tail.stop()));
    redis?.disconnect();
    if (!options.source) await log.close().catch(() => {});
    await pool?.end().catch(() => {});
  };
  try {
    for (const stream of options.streams ?? STREAM_NAMES) {
      const tail = new TopicTail({
        stream,
        topic: topicName(STREAMS[stream], prefix),
        source: log,
        logger,
        ringCapacity: config.GATEWAY_RING_CAPACITY,
        pollWaitMs: config.GATEWAY_POLL_WAIT_MS,
        metadataRefreshMs: config.GATEWAY_METADATA_REFRESH_MS,
        maxBytesPerPartition: 1024 * 1024,
      });
      await tail.start();
      tails.set(stream, tail);
    }
    const server = new GatewayServer({
      config,
      tails,
      source: log,
      authenticator: options.authenticator ?? createAuthenticator(options.tokens!, pool),
      universes: options.universes ?? createUniverseResolver(pool),
      logger,
      registry,
      serverName: `tickflow-gateway ${instance}`,
      sdkBundle: sdkBundle(),
      uws,
      publicMetrics: options.publicMetrics ?? true,
      ...(options.draining ? { draining: options.draining } : {}),
      listenRetryMs: config.GATEWAY_LISTEN_RETRY_MS,
      ...(options.onFrameSent ? { onFrameSent: options.onFrameSent } : {}),
      ...(redis ? { snapshots: redisSnapshotSource(redis, redisKeys(options.redisKeyPrefix)) } : {}),
    });
    trackStructures(registry, gatewayStructures(tails, server, config));
    const port = await server.listen(config.GATEWAY_HOST, config.GATEWAY_PORT);
    logger.info({ port, streams: [...tails.keys()], prefix, uws: uws.build }, 'gateway listening');
    let stopping: Promise<void> | undefined;
    return {
      port,
      url: `ws://${config.GATEWAY_HOST}:${port}/ws`,
      server,
      tails,
      registry,
      stop: () => {
        stopping ??= (async () => {
          await server.close();
          await stopAll();
        })();
        return stopping;
      },
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}

/** The gateway's growing state against its caps, for /metrics (RELIABILITY.md, memory). */
function gatewayStructures(tails: ReadonlyMap<StreamName, TopicTail>, server: GatewayServer, config: GatewayConfig): TrackedStructure[] {
  const rings = () => [...tails.values()].flatMap((tail) => [...tail.rings.values()]);
  return [
    {
      name: 'gateway.rings.events',
      entries: () => rings().reduce((sum, ring) => sum + ring.length, 0),
      cap: () => rings().length * config.GATEWAY_RING_CAPACITY,
    },
    // Each holds at most GATEWAY_MAX_SUBSCRIPTIONS × GATEWAY_MAX_SYMBOLS symbols and its send buffer.
    { name: 'gateway.connections', entries: () => server.connectionCount, cap: config.GATEWAY_MAX_CONNECTIONS },
    { name: 'gateway.interned.keys', entries: () => internedCounts().keys, cap: internedCounts().cap },
    { name: 'gateway.interned.tag-sets', entries: () => internedCounts().tagSets, cap: internedCounts().cap },
  ];
}
