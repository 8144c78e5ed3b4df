import { hostname } from 'node:os';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import type { Registry } from 'prom-client';
import {
  AvroCodec,
  TokenService,
  createLogger,
  createMetricsRegistry,
  loadPlatformConfig,
  topicName,
  type EnvSource,
  type Logger,
} from '../platform/index.js';
import { createAuthenticator, createUniverseResolver, type Authenticator, type UniverseResolver } from './access.js';
import { loadGatewayConfig, type GatewayConfig } from './config.js';
import { TopicTail } from './topic-tail.js';
import { KafkaLogSource, avroDecoder, type LogSource } from './kafka-log.js';
import { Redis } from 'ioredis';
import { redisKeys } from '../contracts/redis-keys.js';
import { GatewayServer } from './server.js';
import { redisSnapshotSource } from './snapshot.js';
import { STREAMS, STREAM_NAMES, internedCounts, type StreamName } from './types.js';
import { trackStructures, type TrackedStructure } from '../platform/tracked-structures.js';

export { loadGatewayConfig, type GatewayConfig } from './config.js';
export {
  BUILT_IN_UNIVERSES,
  createAuthenticator,
  createUniverseResolver,
  type Authenticator,
  type Principal,
  type UniverseResolver,
} from './access.js';
export { decodeCursor, encodeCursor, topicEpoch, type Cursor } from './cursor.js';
export { KafkaLogSource, avroDecoder, OffsetOutOfRangeError, type LogSource, type TopicInfo } from './kafka-log.js';
export { STREAMS, STREAM_NAMES, type StreamName } from './types.js';
export type * from './client/protocol.js';

export interface GatewayOptions {
  /** Where env vars are read from (defaults to process.env). */
  readonly env?: EnvSource;
  /** Overrides of the gateway's env config. */
  readonly config?: Partial<GatewayConfig>;
  readonly topicPrefix?: string;
  readonly brokers?: readonly string[];
  readonly registryUrl?: string;
  /** PostgreSQL for API keys and universes; `null` disables both (tokens and built-in universes only). */
  readonly databaseUrl?: string | null;
  readonly tokens?: TokenService;
  readonly authenticator?: Authenticator;
  readonly universes?: UniverseResolver;
  readonly source?: LogSource;
  /** Redis of the projections' read model, for snapshots; `null` = snapshots from the gateway's memory only. */
  readonly redisUrl?: string | null;
  /** Prefix of the read model's keys (REDIS_KEY_PREFIX). */
  readonly redisKeyPrefix?: string;
  readonly streams?: readonly StreamName[];
  readonly logger?: Logger;
  readonly registry?: Registry;
  /** Sees every frame the server sends (tests check them against the protocol document). */
  readonly onFrameSent?: (frame: string | Buffer) => void;
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

const clientEntry = fileURLToPath(new URL('./client/index.ts', import.meta.url));

/** The browser SDK as one ES module, bundled once on first request. */
function sdkBundler(): () => Promise<string> {
  let bundle: Promise<string> | undefined;
  return () => {
    bundle ??= import('esbuild').then(async (esbuild) => {
      const result = await esbuild.build({
        entryPoints: [clientEntry],
        bundle: true,
        format: 'esm',
        platform: 'browser',
        target: 'es2022',
        write: false,
        minify: false,
      });
      return result.outputFiles[0]!.text;
    });
    return bundle;
  };
}

/**
 * Starts a gateway: one Kafka tail per stream, the uWebSockets.js server on GATEWAY_PORT with /ws, /health,
 * /ready, /metrics and the live page. Every instance tails Kafka on its own; instances share no state.
 */
export async function startGateway(options: GatewayOptions = {}): Promise<GatewayHandle> {
  const source = options.env ?? process.env;
  const platform = loadPlatformConfig(source);
  const config: GatewayConfig = { ...loadGatewayConfig(source), ...options.config };
  const logger = options.logger ?? createLogger('gateway', { level: platform.LOG_LEVEL });
  const registry = options.registry ?? createMetricsRegistry('gateway');
  const prefix = options.topicPrefix ?? platform.TOPIC_PREFIX;
  const instance = `${hostname()}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  const codec = new AvroCodec(options.registryUrl ?? platform.SCHEMA_REGISTRY_URL, prefix);
  const log =
    options.source ??
    new KafkaLogSource(options.brokers ?? platform.KAFKA_BROKERS, `${platform.KAFKA_CLIENT_ID}-gateway-${instance}`, avroDecoder(codec));
  const databaseUrl = options.databaseUrl === undefined ? platform.DATABASE_URL : options.databaseUrl;
  const pool =
    databaseUrl === null || (options.authenticator && options.universes)
      ? undefined
      : new pg.Pool({ connectionString: databaseUrl, max: 4 });
  pool?.on('error', (error) => logger.warn({ err: error }, 'PostgreSQL pool error'));

  const redisUrl = options.redisUrl === undefined ? platform.REDIS_URL : options.redisUrl;
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
      authenticator: options.authenticator ?? createAuthenticator(options.tokens ?? TokenService.fromEnv(source), pool),
      universes: options.universes ?? createUniverseResolver(pool),
      logger,
      registry,
      serverName: `tickflow-gateway ${instance}`,
      sdkBundle: sdkBundler(),
      listenRetryMs: config.GATEWAY_LISTEN_RETRY_MS,
      ...(options.onFrameSent ? { onFrameSent: options.onFrameSent } : {}),
      ...(redis ? { snapshots: redisSnapshotSource(redis, redisKeys(options.redisKeyPrefix ?? platform.REDIS_KEY_PREFIX)) } : {}),
    });
    trackStructures(registry, gatewayStructures(tails, server, config.GATEWAY_RING_CAPACITY));
    const port = await server.listen(config.GATEWAY_HOST, config.GATEWAY_PORT);
    logger.info({ port, streams: [...tails.keys()], prefix }, 'gateway listening');
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
function gatewayStructures(tails: ReadonlyMap<StreamName, TopicTail>, server: GatewayServer, ringCapacity: number): TrackedStructure[] {
  const rings = () => [...tails.values()].flatMap((tail) => [...tail.rings.values()]);
  return [
    {
      name: 'gateway.rings.events',
      entries: () => rings().reduce((sum, ring) => sum + ring.length, 0),
      cap: () => rings().length * ringCapacity,
    },
    // Bounded by the clients connected; each holds at most GATEWAY_MAX_SUBSCRIPTIONS × GATEWAY_MAX_SYMBOLS symbols.
    { name: 'gateway.connections', entries: () => server.connectionCount, cap: Number.POSITIVE_INFINITY },
    { name: 'gateway.interned.keys', entries: () => internedCounts().keys, cap: internedCounts().cap },
    { name: 'gateway.interned.tag-sets', entries: () => internedCounts().tagSets, cap: internedCounts().cap },
  ];
}
