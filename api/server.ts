import type { AddressInfo } from 'node:net';
import { serve, type ServerType } from '@hono/node-server';
import { Redis } from 'ioredis';
import pg from 'pg';
import type { Registry } from 'prom-client';
import { createKafka, createMetricsRegistry, InFlight, type Admin, type Logger, type TokenService } from '../platform/index.js';
import { redisKeys } from '../contracts/redis-keys.js';
import { createApp } from './app.js';
import type { ApiConfig } from './config.js';
import type { ApiDependencies } from './context.js';
import { createPreparedPool, preparedStatements } from './prepared.js';
import { measureProjectionLag } from './projection-lag.js';
import { projectionNotices } from './projection-notices.js';

/** Everything the API needs, given explicitly (api/main.ts reads them from the env once). */
export interface StartApiOptions {
  /** The API's own settings (api/config.ts). */
  readonly config: ApiConfig;
  readonly databaseUrl: string;
  readonly redisUrl: string;
  /** Prefix of the read model's keys (REDIS_KEY_PREFIX). */
  readonly redisKeyPrefix: string;
  /** Kafka, for the projection lag (API_PROJECTION_LAG_FROM_KAFKA). */
  readonly brokers: readonly string[];
  readonly kafkaClientId: string;
  readonly tokens: TokenService;
  readonly logger: Logger;
  /** Overrides API_PORT (0 picks a free port). */
  readonly port?: number;
  /** Overrides for tests and the supervisor. */
  readonly overrides?: Partial<Pick<ApiDependencies, 'now' | 'scanCountCap'>>;
  /** The process's registry (served by the ops server when /metrics is not public); default a new one. */
  readonly registry?: Registry;
  /** True once the process is stopping (its lifecycle); /ready answers 503 from then on. */
  readonly draining?: () => boolean;
  /** Whether /metrics is served on the API's own port (default true; production serves it on the ops port). */
  readonly publicMetrics?: boolean;
}

export interface ApiHandle {
  readonly port: number;
  readonly url: string;
  readonly app: ReturnType<typeof createApp>;
  stop(): Promise<void>;
}

/** Starts the REST API on its port (which also serves /health, /ready, /metrics). */
export async function startApi(options: StartApiOptions): Promise<ApiHandle> {
  const { config, logger, databaseUrl } = options;
  const registry = options.registry ?? createMetricsRegistry('api');
  let stopping: Promise<void> | undefined;
  // A runaway query fails after API_STATEMENT_TIMEOUT_MS (503) instead of holding a connection and a client.
  const db = new pg.Pool({ connectionString: databaseUrl, max: 20, statement_timeout: config.API_STATEMENT_TIMEOUT_MS });
  db.on('error', (error) => logger.warn({ err: error }, 'idle PostgreSQL client failed'));
  const preparedPool = createPreparedPool(databaseUrl, config);
  preparedPool?.on('error', (error) => logger.warn({ err: error }, 'idle PostgreSQL client failed'));
  // Fail fast while Redis is away (no offline queue): requests fall back to PostgreSQL instead of waiting.
  const redis = new Redis(options.redisUrl, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    commandTimeout: config.API_REDIS_COMMAND_TIMEOUT_MS,
    retryStrategy: (attempt) => Math.min(attempt * 200, 2000),
    // Commands issued in the same tick (concurrent requests' version reads, rate-limit scripts, cache writes)
    // go out in one write and come back in one read.
    enableAutoPipelining: true,
  });
  redis.on('error', (error) => logger.debug({ err: error }, 'redis error'));
  let admin: Admin | undefined;
  if (config.API_PROJECTION_LAG_FROM_KAFKA) {
    admin = createKafka({ brokers: options.brokers, clientId: `${options.kafkaClientId}-api`, logger }).admin();
    admin.connect().catch((error: unknown) => logger.warn({ err: error }, 'Kafka admin unavailable: projection lag not reported'));
  }
  const kafkaAdmin = admin;
  const readModelKeys = redisKeys(options.redisKeyPrefix);
  const notices = projectionNotices(redis, readModelKeys.channel(), logger);
  // Request handlers and the cache's background refreshes: a stop lets them finish before closing Redis and
  // PostgreSQL (close() does not wait for the handler of a request whose client has gone).
  const inFlight = new InFlight();
  const app = createApp({
    db,
    preparedDb: preparedPool ? preparedStatements(preparedPool) : undefined,
    redis,
    tokens: options.tokens,
    config,
    logger,
    registry,
    readModelKeys,
    notices: notices.listen,
    projectionLag: kafkaAdmin ? () => measureProjectionLag(db, kafkaAdmin) : undefined,
    scanCountCap: config.API_SCAN_COUNT_CAP,
    inFlight,
    publicMetrics: options.publicMetrics ?? true,
    draining: () => stopping !== undefined || (options.draining?.() ?? false),
    ...options.overrides,
  });
  const port = options.port ?? config.API_PORT;
  const server: ServerType = await new Promise((resolve) => {
    const started = serve(
      { fetch: (request, env) => inFlight.track(Promise.resolve(app.fetch(request, env))), port, hostname: config.API_HOST },
      () => resolve(started),
    );
  });
  const actualPort = (server.address() as AddressInfo).port;
  logger.info({ port: actualPort, host: config.API_HOST }, 'api listening');
  return {
    port: actualPort,
    url: `http://${config.API_HOST}:${actualPort}`,
    app,
    stop: () =>
      (stopping ??= (async () => {
        notices.unsubscribe();
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        // Idle keep-alive sockets would hold close() open; in-flight requests still finish.
        if ('closeIdleConnections' in server) server.closeIdleConnections();
        await closed;
        await inFlight.settled();
        await Promise.allSettled([notices.close(), redis.quit(), db.end(), preparedPool?.end(), kafkaAdmin?.disconnect()]);
        logger.info('api stopped');
      })()),
  };
}
