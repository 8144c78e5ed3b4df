import { Redis } from 'ioredis';
import pg from 'pg';
import { AvroCodec } from '../platform/codec.js';
import { createKafka } from '../platform/kafka.js';
import { createLogger, type Logger } from '../platform/logger.js';
import { createMetricsRegistry, type Registry } from '../platform/metrics.js';
import type { HealthCheck } from '../platform/ops-server.js';
import { trackStructures } from '../platform/tracked-structures.js';
import { DB_PROJECTION_NAMES, DB_PROJECTIONS, OFFSETS_CHANNEL, isDbProjectionName, topicMap, type DbProjectionName } from './core.js';
import { DbProjectionSink } from './db-sink.js';
import { LateRowRefresher } from './late-refresh.js';
import { createProjectorMetrics, type ProjectorMetrics } from './metrics.js';
import { Notifier, subscribeToNotices } from '../store/notifier.js';
import { maintainPartitions } from '../store/partitions.js';
import { DatabaseOutage, isDatabaseUnavailable } from '../store/availability.js';
import { PartitionConsumer, STORE_RETRY } from './partition-consumer.js';
import { backoffDelay } from '../platform/backoff.js';
import type { FaultHook } from './faults.js';
import { parseProjectionNotice, redisKeys } from '../contracts/redis-keys.js';
import { REDIS_PROJECTION, REDIS_SWAP_NOTICE, REDIS_TOPICS, RedisProjectionSink } from './redis-sink.js';

export { loadProjectorConfig } from './config.js';

export type ProjectionName = DbProjectionName | typeof REDIS_PROJECTION;

export interface StartProjectorOptions {
  readonly databaseUrl: string;
  readonly brokers: readonly string[];
  readonly registryUrl: string;
  readonly topicPrefix?: string;
  /** Omit to run without the Redis read model and without notices. */
  readonly redisUrl?: string;
  readonly redisKeyPrefix?: string;
  /** Default: every database projection, plus `redis` when redisUrl is set. */
  readonly projections?: readonly ProjectionName[];
  readonly groupPrefix?: string;
  readonly poolSize?: number;
  /** Redis commands the read-model projection has in flight at most (PROJECTOR_REDIS_MAX_IN_FLIGHT). */
  readonly redisMaxInFlight?: number;
  readonly clientId?: string;
  readonly logger?: Logger;
  readonly registry?: Registry;
  /** Crash injection at every step of a batch, database and Redis (tests). */
  readonly faultHook?: FaultHook;
  /**
   * Called when a consumer crashed and kafkajs will not restart it (an error it does not retry, such as one thrown
   * while the registry is away): nothing would consume that projection again, so the process should exit for its
   * supervisor to restart it, as the processors do.
   */
  readonly onStall?: (reason: string) => void;
}

/** How often the projector announces notices left pending (an indexed look-up of a usually empty table). */
const PENDING_NOTICES_SWEEP_MS = 5000;

export interface ProjectorHandle {
  readonly projections: readonly ProjectionName[];
  /** What the projector's /ready checks (the process serves them through its ops server: projections/main.ts). */
  readonly checks: readonly HealthCheck[];
  readonly metrics: ProjectorMetrics;
  readonly registry: Registry;
  stop(): Promise<void>;
}

/**
 * Starts the projector: one consumer per database projection (patterns, bars, reference) writing through COPY
 * with offsets in the same transaction, and one for the Redis read model with its own progress in Redis.
 */
export async function startProjector(options: StartProjectorOptions): Promise<ProjectorHandle> {
  const logger = options.logger ?? createLogger('projections');
  const prefix = options.topicPrefix ?? '';
  const groupPrefix = options.groupPrefix ?? `${prefix}tickflow.projections.`;
  const projections: readonly ProjectionName[] = options.projections ?? [
    ...DB_PROJECTION_NAMES,
    ...(options.redisUrl ? [REDIS_PROJECTION as ProjectionName] : []),
  ];
  for (const name of projections) {
    if (name !== REDIS_PROJECTION && !isDbProjectionName(name)) throw new RangeError(`unknown projection ${String(name)}`);
  }
  if (projections.includes(REDIS_PROJECTION) && !options.redisUrl) throw new RangeError('the redis projection needs redisUrl');

  const registry = options.registry ?? createMetricsRegistry('projections');
  const metrics = createProjectorMetrics(registry);
  const codec = new AvroCodec(options.registryUrl, prefix);
  const kafka = createKafka({ brokers: options.brokers, clientId: options.clientId ?? 'tickflow-projector', logger, registry });
  const pool = new pg.Pool({ connectionString: options.databaseUrl, max: options.poolSize ?? 4 });
  // Batches that find the database away retry until it is back: one WARN per outage, and /ready says it is down.
  // The server may come back without its last commits (they are asynchronous): every consumer then re-reads its
  // stored offsets, so a partition that gets no further batch is read again too.
  const outage = new DatabaseOutage(logger, { onRecovered: () => resyncDatabaseConsumers('the database is back') });
  // An idle connection lost to a restart is replaced on next use (the batches' retries say when the server is away).
  pool.on('error', (error) => {
    if (isDatabaseUnavailable(error)) logger.debug({ err: error }, 'idle PostgreSQL connection lost');
    else logger.error({ err: error }, 'idle PostgreSQL connection failed');
  });
  // The pool listens to idle clients only. A connection terminated while a batch holds its client between two
  // queries emits 'error' on that client, an uncaught exception without this listener; the batch's next query fails
  // and is retried, and the pool discards the broken client on release.
  pool.on('connect', (client) => {
    client.on('error', (error) => {
      if (isDatabaseUnavailable(error)) logger.debug({ err: error }, 'PostgreSQL connection lost while in use');
      else logger.error({ err: error }, 'PostgreSQL connection failed while in use');
    });
  });
  const keys = redisKeys(options.redisKeyPrefix ?? '');
  // Notices fail fast when Redis is away (no offline queue); the read model's connection queues and retries.
  const noticeRedis = options.redisUrl
    ? new Redis(options.redisUrl, { enableOfflineQueue: false, maxRetriesPerRequest: 1, lazyConnect: false })
    : undefined;
  noticeRedis?.on('error', (error: Error) => logger.debug({ err: error }, 'notice Redis connection error'));
  const notifier = noticeRedis ? new Notifier(noticeRedis, keys, logger, metrics) : undefined;
  const modelRedis =
    projections.includes(REDIS_PROJECTION) && options.redisUrl ? new Redis(options.redisUrl, { maxRetriesPerRequest: 2 }) : undefined;
  modelRedis?.on('error', (error: Error) => logger.debug({ err: error }, 'read-model Redis connection error'));

  let stopping = false;
  const stalled = (name: ProjectionName) => (error: Error) => {
    if (!stopping) options.onStall?.(`the ${name} consumer crashed and kafkajs will not restart it: ${error.message}`);
  };
  const consumers: PartitionConsumer[] = [];
  const dbSinks: DbProjectionSink[] = [];
  let redisSink: RedisProjectionSink | undefined;
  // One for every database projection: the bars' and the pattern events' refreshes run one at a time.
  const lateRefresher = new LateRowRefresher(pool, { logger, metrics });
  for (const name of projections) {
    if (name === REDIS_PROJECTION) {
      const topics = topicMap(REDIS_TOPICS, prefix);
      const sink = new RedisProjectionSink(modelRedis!, {
        keys,
        topics,
        codec,
        logger: logger.child({ projection: name }),
        metrics,
        faultHook: options.faultHook,
        ...(options.redisMaxInFlight === undefined ? {} : { maxCommandsInFlight: options.redisMaxInFlight }),
      });
      redisSink = sink;
      // The peak since the previous scrape, not the count at the scrape: a MULTI is in flight for milliseconds, and
      // the memory check must see every one of them against the cap.
      trackStructures(registry, [
        { name: 'projector.redis.commands-in-flight.peak', entries: () => sink.takePeakCommandsInFlight(), cap: sink.maxCommandsInFlight },
      ]);
      consumers.push(
        new PartitionConsumer(kafka, {
          groupId: `${groupPrefix}${name}`,
          topics: [...topics.keys()],
          sink,
          logger: logger.child({ projection: name }),
          onError: stalled(name),
        }),
      );
      continue;
    }
    const topics = topicMap(DB_PROJECTIONS[name].topics, prefix);
    const sink = new DbProjectionSink(pool, {
      projection: name,
      topics,
      codec,
      logger: logger.child({ projection: name }),
      metrics,
      notifier,
      faultHook: options.faultHook,
      lateRefresher,
    });
    dbSinks.push(sink);
    consumers.push(
      new PartitionConsumer(kafka, {
        groupId: `${groupPrefix}${name}`,
        topics: [...topics.keys()],
        sink,
        logger: logger.child({ projection: name }),
        partitionsConsumedConcurrently: Math.max(1, Math.min(3, (options.poolSize ?? 4) - 1)),
        onError: stalled(name),
        isUnavailable: isDatabaseUnavailable,
        outage,
      }),
    );
  }

  // A rebuild's swap moves the stored offsets: listen for it, so idle consumers seek too.
  const dbConsumers = new Map<string, PartitionConsumer>();
  projections.forEach((name, index) => {
    if (name !== REDIS_PROJECTION) dbConsumers.set(name, consumers[index]!);
  });
  const resyncDatabaseConsumers = (reason: string) => {
    for (const consumer of dbConsumers.values()) {
      consumer
        .resync({ rebuildWhenMissing: true })
        .catch((error: unknown) => logger.warn({ err: error, reason }, 'resync failed; the next batch finds the stored offsets'));
    }
  };
  let listener: pg.Client | undefined;
  let listenerRetry: NodeJS.Timeout | undefined;
  let listenerFailures = 0;
  const listen = async (): Promise<void> => {
    const client = new pg.Client({ connectionString: options.databaseUrl });
    listener = client;
    client.on('notification', (message) => {
      const consumer = dbConsumers.get(message.payload ?? '');
      consumer?.resync().catch((error: unknown) => logger.error({ err: error }, 'resync after a swap failed'));
    });
    // Lost with its server (a restart): listen again with backoff; swaps meanwhile are noticed at the next batch.
    client.on('error', (error) => {
      if (stopping || listener !== client) return;
      logger.debug({ err: error }, 'offsets listener connection lost; reconnecting');
      relisten();
    });
    await client.connect();
    await client.query(`LISTEN ${OFFSETS_CHANNEL}`);
  };
  const relisten = () => {
    const lost = listener;
    listener = undefined;
    void lost?.end().catch(() => {});
    listenerRetry = setTimeout(
      () => {
        listenerRetry = undefined;
        if (stopping) return;
        listen().then(
          () => {
            // Back after losing it: notifications and commits may have been lost meanwhile.
            if (listenerFailures > 0) resyncDatabaseConsumers('the offsets listener reconnected');
            listenerFailures = 0;
          },
          (error: unknown) => {
            listenerFailures += 1;
            logger.debug({ err: error, failures: listenerFailures }, 'offsets listener reconnect failed');
            if (!stopping) relisten();
          },
        );
      },
      backoffDelay(STORE_RETRY, listenerFailures),
    );
    listenerFailures = Math.max(listenerFailures, 1);
    listenerRetry.unref();
  };

  // A Redis rebuild's swap moves the Redis projection's offsets: it announces it on the channel.
  const redisConsumer = projections.includes(REDIS_PROJECTION) ? consumers[projections.indexOf(REDIS_PROJECTION)] : undefined;
  const swapSubscriber = redisConsumer && options.redisUrl ? new Redis(options.redisUrl, { maxRetriesPerRequest: 2 }) : undefined;
  swapSubscriber?.on('error', (error: Error) => logger.debug({ err: error }, 'swap subscriber Redis connection error'));
  swapSubscriber?.on('message', (_channel: string, message: string) => {
    try {
      if (parseProjectionNotice(message).projection !== REDIS_SWAP_NOTICE) return;
    } catch {
      return;
    }
    redisConsumer?.resync().catch((error: unknown) => logger.error({ err: error }, 'resync after a Redis swap failed'));
  });
  // Redis back after an outage may have come back empty: partitions that get no new message would never notice.
  modelRedis?.on('ready', () => {
    redisConsumer
      ?.resync({ rebuildWhenMissing: true })
      .catch((error: unknown) => logger.error({ err: error }, 'resync after a Redis reconnect failed'));
  });
  // Changes committed while Redis was away (or before a crash) are recorded: announce them once it is reachable,
  // and sweep every few seconds for what a failed attempt left (a lost connection, a partition with no next batch).
  const announcePending = () => {
    for (const sink of dbSinks)
      sink
        .announceAllPending()
        .catch((error: unknown) => logger.warn({ err: error }, 'announcing pending notices failed; retried at the next sweep'));
  };
  noticeRedis?.on('ready', announcePending);
  const noticeTimer = noticeRedis && dbSinks.length > 0 ? setInterval(announcePending, PENDING_NOTICES_SWEEP_MS) : undefined;
  noticeTimer?.unref();
  // Subscribing does not wait for Redis: with Redis down the database projections must still start.
  const stopSubscribing = swapSubscriber ? subscribeToNotices(swapSubscriber, keys.channel(), logger) : undefined;

  const partitionTimer = setInterval(() => void maintainPartitions(pool, logger).catch(() => {}), 24 * 3600 * 1000);
  partitionTimer.unref();
  const stop = async () => {
    stopping = true;
    clearInterval(partitionTimer);
    clearInterval(noticeTimer);
    stopSubscribing?.();
    clearTimeout(listenerRetry);
    await listener?.end().catch(() => {});
    lateRefresher.stop();
    await Promise.allSettled(consumers.map((consumer) => consumer.stop()));
    await pool.end().catch(() => {});
    noticeRedis?.disconnect();
    swapSubscriber?.disconnect();
    modelRedis?.disconnect();
  };
  try {
    if (projections.some((name) => name !== REDIS_PROJECTION)) await maintainPartitions(pool, logger);
    if (dbConsumers.size > 0) await listen();
    await Promise.all(consumers.map((consumer) => consumer.start()));
  } catch (error) {
    await stop();
    throw error;
  }
  const checks: HealthCheck[] = [
    {
      name: 'postgres',
      // The probe is work like a batch's: it reports an outage no batch is there to find (every partition caught up,
      // or the one with more to apply held in a commit), and its success ends one that began before it.
      check: async () => {
        const begun = outage.begin();
        let answer: unknown;
        try {
          answer = (await pool.query('SELECT 1 AS ok')).rows[0];
        } catch (error) {
          if (!isDatabaseUnavailable(error)) throw error;
          outage.failed(error);
        }
        if (answer !== undefined) outage.succeeded(begun);
        outage.check();
        return answer;
      },
    },
    {
      name: 'consumers',
      check: async () => {
        if (!consumers.every((consumer) => consumer.isRunning)) throw new Error('a consumer is not running');
        return { running: consumers.length };
      },
    },
  ];
  if (noticeRedis) checks.push({ name: 'redis', optional: true, check: () => noticeRedis.ping() });
  // Degraded while the Redis snapshot ignores (nearly) all bars as older than its latest: the WARN says why.
  if (redisSink) {
    const sink = redisSink;
    checks.push({
      name: 'input',
      optional: true,
      check: async () => {
        const skipping = sink.skipping();
        if (skipping) throw new Error(skipping.message);
        return { skipping: false };
      },
    });
  }
  logger.info({ projections }, 'projector started');
  return { projections, checks, metrics, registry, stop };
}
