import pg from 'pg';
import { AvroCodec } from '../platform/codec.js';
import { createKafka } from '../platform/kafka.js';
import { partitionKey } from '../platform/topics.js';
import { createLogger, type Logger } from '../platform/logger.js';
import { createMetricsRegistry } from '../platform/metrics.js';
import { Redis } from 'ioredis';
import { DB_PROJECTIONS, OFFSETS_CHANNEL, topicMap, type DbProjectionName } from './core.js';
import { redisKeys, type ProjectionNotice } from '../contracts/redis-keys.js';
import { REDIS_PROJECTION, REDIS_SWAP_NOTICE, REDIS_TOPICS, RedisProjectionSink } from './redis-sink.js';
import { DbProjectionSink } from './db-sink.js';
import { createProjectorMetrics } from './metrics.js';
import { PartitionConsumer, type PartitionSink } from './partition-consumer.js';

export const REBUILD_SUFFIX = '__rebuild';

const OLD_SUFFIX = '__old';

export interface RebuildProgress {
  /** Messages consumed so far (over all partitions). */
  readonly done: number;
  /** Messages in the topics when the rebuild started. */
  readonly total: number;
}

export interface RebuildOptions {
  readonly databaseUrl: string;
  readonly brokers: readonly string[];
  readonly registryUrl: string;
  readonly topicPrefix?: string;
  readonly projection: DbProjectionName;
  readonly logger?: Logger;
  readonly onProgress?: (progress: RebuildProgress) => void;
  /** Runs between the end of the replay and the swap (tests check that the old tables still serve). */
  readonly beforeSwap?: () => Promise<void>;
}

export interface RebuildResult {
  readonly messages: number;
  readonly offsets: Record<string, number>;
}

/** SQL that creates the fresh tables of a projection under the rebuild suffix. */
function createStatements(projection: DbProjectionName): string[] {
  switch (projection) {
    case 'patterns':
      return [`SELECT tf_create_pattern_tables('${REBUILD_SUFFIX}')`];
    case 'bars':
      return [`SELECT tf_create_bar_tables('${REBUILD_SUFFIX}')`];
    case 'reference':
      return DB_PROJECTIONS.reference.tables.map((table) => `CREATE TABLE ${table}${REBUILD_SUFFIX} (LIKE ${table} INCLUDING ALL)`);
  }
}

/**
 * What depends on the swapped tables and is made again for the new live ones: views, the pattern counts' triggers,
 * the aggregates' refresh over their whole history (they start WITH NO DATA: a 3-day window would hide the rest), and
 * the retention (the topics', store/retention.ts) on the new tables and continuous aggregates.
 */
function recreateDependents(projection: DbProjectionName): string[] {
  switch (projection) {
    case 'patterns':
      // The new live table has no count triggers yet (they were on the old one): attach them and recount.
      return [
        'SELECT tf_create_pattern_views()',
        'SELECT tf_attach_pattern_counts()',
        'SELECT tf_refresh_aggregates_over_all_history()',
        'SELECT tf_apply_all_history_retention()',
      ];
    case 'bars':
      return ['SELECT tf_create_bar_views()', 'SELECT tf_refresh_aggregates_over_all_history()', 'SELECT tf_apply_all_history_retention()'];
    case 'reference':
      return [];
  }
}

/** Renames a table, its partitions and all their indexes from one name prefix to another. */
async function renameTree(client: pg.PoolClient, table: string, from: string, to: string): Promise<void> {
  const { rows } = await client.query<{ schema: string; relname: string; relkind: string }>(
    `WITH RECURSIVE tree AS (
       SELECT $1::regclass::oid AS oid
       UNION ALL SELECT i.inhrelid FROM pg_inherits i JOIN tree ON i.inhparent = tree.oid)
     SELECT n.nspname AS schema, c.relname, c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE c.oid IN (SELECT oid FROM tree) OR c.oid IN (SELECT indexrelid FROM pg_index WHERE indrelid IN (SELECT oid FROM tree))`,
    [table],
  );
  for (const row of rows) {
    // Chunks and chunk indexes of a hypertable have their own names; only our names carry the prefix.
    if (!row.relname.startsWith(from)) continue;
    const renamed = `${to}${row.relname.slice(from.length)}`;
    const kind = row.relkind === 'i' || row.relkind === 'I' ? 'INDEX' : 'TABLE';
    await client.query(`ALTER ${kind} "${row.schema}"."${row.relname}" RENAME TO "${renamed}"`);
  }
}

/**
 * Replays a projection's topics from the start into fresh `<table>__rebuild` tables (offsets under
 * `<projection>__rebuild`), while the live tables keep serving; then swaps them in one transaction: the old
 * tables are renamed away and dropped, the views recreated, and the live offsets replaced by the rebuild's.
 * A live projector notices the moved offsets in its next batch and seeks there.
 */
export async function rebuildProjection(options: RebuildOptions): Promise<RebuildResult> {
  const logger = options.logger ?? createLogger('projections-rebuild');
  const { projection } = options;
  const prefix = options.topicPrefix ?? '';
  const spec = DB_PROJECTIONS[projection];
  const rebuildName = `${projection}${REBUILD_SUFFIX}`;
  const pool = new pg.Pool({ connectionString: options.databaseUrl, max: 3 });
  // An idle connection the server closes (restart, terminated backend) is an 'error' event on the pool: without a
  // listener it would end the process.
  pool.on('error', (error) => logger.warn({ err: error }, 'idle PostgreSQL connection failed'));
  const kafka = createKafka({ brokers: options.brokers, clientId: 'tickflow-rebuild', logger });
  const topics = topicMap(spec.topics, prefix);
  try {
    await createRebuildTables(pool, projection);

    // The target: every partition's log end when the rebuild starts.
    const tracker = await progressTracker(kafka, [...topics.keys()], options.onProgress);
    await replayToTargets(kafka, tracker, {
      groupId: `${prefix}tickflow.rebuild.${projection}.${Date.now().toString(36)}`,
      logger,
      partitionsConsumedConcurrently: 2,
      sink: () =>
        new DbProjectionSink(pool, {
          projection,
          offsetsName: rebuildName,
          tableSuffix: REBUILD_SUFFIX,
          topics,
          codec: new AvroCodec(options.registryUrl, prefix),
          logger,
          metrics: createProjectorMetrics(createMetricsRegistry('projections-rebuild', { collectDefaults: false })),
          onApplied: tracker.applied,
        }),
    });
    await options.beforeSwap?.();

    await swapRebuilt(pool, projection);
    logger.info({ projection, messages: tracker.total }, 'rebuild swapped in');
    return { messages: tracker.total, offsets: tracker.offsets() };
  } finally {
    await pool.end();
  }
}

/** Creates the empty `__rebuild` tables of a projection (dropping leftovers of an interrupted rebuild). */
export async function createRebuildTables(pool: pg.Pool, projection: DbProjectionName): Promise<void> {
  for (const table of DB_PROJECTIONS[projection].tables) await pool.query(`DROP TABLE IF EXISTS ${table}${REBUILD_SUFFIX} CASCADE`);
  for (const statement of createStatements(projection)) await pool.query(statement);
  await pool.query('DELETE FROM projection_offsets WHERE projection = $1', [`${projection}${REBUILD_SUFFIX}`]);
}

/**
 * The atomic swap: in one transaction, lock the live offsets (the live projector locks them first in each batch)
 * and tables, rename live -> `__old` and `__rebuild` -> live (tables, partitions, indexes), drop the old tables
 * (and the views or continuous aggregates on them), recreate the views (and the pattern counts), move the offsets, and NOTIFY.
 */
export async function swapRebuilt(pool: pg.Pool, projection: DbProjectionName): Promise<void> {
  const spec = DB_PROJECTIONS[projection];
  const rebuildName = `${projection}${REBUILD_SUFFIX}`;
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    // Serialise with the live projector (it locks its offsets rows first), then with readers.
    await client.query('SELECT 1 FROM projection_offsets WHERE projection = $1 FOR UPDATE', [projection]);
    await client.query(`LOCK TABLE ${spec.tables.join(', ')} IN ACCESS EXCLUSIVE MODE`);
    for (const table of spec.tables) {
      await renameTree(client, table, table, `${table}${OLD_SUFFIX}`);
      await renameTree(client, `${table}${REBUILD_SUFFIX}`, `${table}${REBUILD_SUFFIX}`, table);
    }
    // The views (or continuous aggregates) still read the old tables: drop them, then the old tables one by one
    // (TimescaleDB refuses to drop a hypertable together with other objects), and recreate the views.
    const timescale = (await client.query<{ on: boolean }>('SELECT tf_timescale_enabled() AS on')).rows[0]?.on === true;
    for (const view of spec.views) await client.query(`DROP ${timescale ? 'MATERIALIZED VIEW' : 'VIEW'} IF EXISTS ${view}`);
    for (const table of spec.tables) await client.query(`DROP TABLE ${table}${OLD_SUFFIX}`);
    for (const statement of recreateDependents(projection)) await client.query(statement);
    await client.query('DELETE FROM projection_offsets WHERE projection = $1', [projection]);
    await client.query('UPDATE projection_offsets SET projection = $1 WHERE projection = $2', [projection, rebuildName]);
    // Delivered at commit: live projectors re-read their offsets and seek (they may be idle, with no batch to notice it).
    await client.query(`SELECT pg_notify('${OFFSETS_CHANNEL}', $1)`, [projection]);
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK').catch(() => {});
    throw error;
  } finally {
    client.release();
  }
}

export interface RedisRebuildOptions {
  readonly redisUrl: string;
  readonly redisKeyPrefix?: string;
  readonly brokers: readonly string[];
  readonly registryUrl: string;
  readonly topicPrefix?: string;
  readonly logger?: Logger;
  readonly onProgress?: (progress: RebuildProgress) => void;
  readonly beforeSwap?: () => Promise<void>;
  /** Redis commands in flight at most (PROJECTOR_REDIS_MAX_IN_FLIGHT). */
  readonly maxCommandsInFlight?: number;
}

/** Every key under `root` matching `pattern`, by SCAN (never KEYS). */
async function scanKeys(redis: Redis, match: string): Promise<string[]> {
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await redis.scan(cursor, 'MATCH', match, 'COUNT', 1000);
    keys.push(...batch);
    cursor = next;
  } while (cursor !== '0');
  return keys;
}

/**
 * Rebuilds the Redis read model: replays its topics into keys under `<prefix>rebuild:tf:v1:` (with their own
 * offsets) while the live keys keep serving, then swaps in one MULTI (guarded by WATCH on the live offsets):
 * live data keys the rebuild does not have are deleted, the rebuilt keys are renamed over the live ones, the
 * offsets replaced, and every version counter involved bumped; a notice makes live Redis projectors seek.
 */
export async function rebuildRedis(options: RedisRebuildOptions): Promise<RebuildResult> {
  const logger = options.logger ?? createLogger('projections-rebuild');
  const prefix = options.topicPrefix ?? '';
  const live = redisKeys(options.redisKeyPrefix ?? '');
  const rebuilt = redisKeys(`${options.redisKeyPrefix ?? ''}rebuild:`);
  const redis = new Redis(options.redisUrl, { maxRetriesPerRequest: 2 });
  const kafka = createKafka({ brokers: options.brokers, clientId: 'tickflow-rebuild', logger });
  const topics = topicMap(REDIS_TOPICS, prefix);
  try {
    const leftovers = await scanKeys(redis, `${rebuilt.root}*`);
    for (let start = 0; start < leftovers.length; start += 500) await redis.del(...leftovers.slice(start, start + 500));
    const tracker = await progressTracker(kafka, [...topics.keys()], options.onProgress);
    await replayToTargets(kafka, tracker, {
      groupId: `${prefix}tickflow.rebuild.redis.${Date.now().toString(36)}`,
      logger,
      sink: () =>
        new RedisProjectionSink(redis, {
          keys: rebuilt,
          topics,
          codec: new AvroCodec(options.registryUrl, prefix),
          logger,
          metrics: createProjectorMetrics(createMetricsRegistry('projections-rebuild', { collectDefaults: false })),
          onApplied: tracker.applied,
          ...(options.maxCommandsInFlight === undefined ? {} : { maxCommandsInFlight: options.maxCommandsInFlight }),
        }),
    });
    await options.beforeSwap?.();

    const dataPatterns = ['pattern:*', 'scan:*', 'symbol:*'];
    for (let attempt = 1; ; attempt += 1) {
      await redis.watch(live.offsets(REDIS_PROJECTION));
      const liveKeys = (await Promise.all(dataPatterns.map((pattern) => scanKeys(redis, `${live.root}${pattern}`)))).flat();
      const rebuiltKeys = (await Promise.all(dataPatterns.map((pattern) => scanKeys(redis, `${rebuilt.root}${pattern}`)))).flat();
      const renamed = new Set(rebuiltKeys.map((key) => `${live.root}${key.slice(rebuilt.root.length)}`));
      const symbols = new Set<string>();
      for (const key of [...liveKeys, ...renamed]) {
        const match = /^symbol:(.+):(?:events|snapshot)$/.exec(key.slice(live.root.length));
        if (match) symbols.add(match[1]!);
      }
      const multi = redis.multi();
      for (const key of liveKeys) if (!renamed.has(key)) multi.del(key);
      for (const key of rebuiltKeys) multi.rename(key, `${live.root}${key.slice(rebuilt.root.length)}`);
      if (await redis.exists(rebuilt.offsets(REDIS_PROJECTION)))
        multi.rename(rebuilt.offsets(REDIS_PROJECTION), live.offsets(REDIS_PROJECTION));
      else multi.del(live.offsets(REDIS_PROJECTION));
      // Symbols in keys are escaped; the version keys use the same escaping, so build them from the raw key part.
      for (const symbol of symbols) multi.incr(`${live.root}version:symbol:${symbol}`);
      multi.incr(live.patternsVersion());
      multi.incr(live.projectionVersion(REDIS_PROJECTION));
      const results = await multi.exec();
      if (results !== null) {
        const failed = results.find(([error]) => error !== null);
        if (failed) throw failed[0];
        const version = Number(results[results.length - 1]![1]);
        const notice: ProjectionNotice = {
          projection: REDIS_SWAP_NOTICE,
          version,
          symbols: [...symbols].map(decodeURIComponent).sort(),
          patternsChanged: true,
        };
        await redis.publish(live.channel(), JSON.stringify(notice));
        break;
      }
      if (attempt >= 20) throw new Error('the live Redis projection kept moving during the swap');
      logger.info({ attempt }, 'live Redis projection moved during the swap; retrying');
    }
    const rest = await scanKeys(redis, `${rebuilt.root}*`);
    for (let start = 0; start < rest.length; start += 500) await redis.del(...rest.slice(start, start + 500));
    logger.info({ messages: tracker.total }, 'Redis rebuild swapped in');
    return { messages: tracker.total, offsets: tracker.offsets() };
  } finally {
    redis.disconnect();
  }
}

type ProgressTracker = Awaited<ReturnType<typeof progressTracker>>;

/**
 * Replays the topics into a fresh sink through a throwaway consumer group until every partition reached the
 * tracker's target (nothing to do when it already has); the consumer is stopped on success and on failure.
 */
async function replayToTargets(
  kafka: ReturnType<typeof createKafka>,
  tracker: ProgressTracker,
  options: {
    readonly groupId: string;
    readonly logger: Logger;
    readonly partitionsConsumedConcurrently?: number;
    readonly sink: () => PartitionSink;
  },
): Promise<void> {
  if (tracker.complete()) return;
  const finished = tracker.finished();
  const consumer = new PartitionConsumer(kafka, {
    groupId: options.groupId,
    topics: tracker.topics,
    sink: options.sink(),
    logger: options.logger,
    ...(options.partitionsConsumedConcurrently === undefined
      ? {}
      : { partitionsConsumedConcurrently: options.partitionsConsumedConcurrently }),
    onError: tracker.fail,
  });
  try {
    await consumer.start();
    await finished;
  } catch (error) {
    await consumer.stop().catch(() => {});
    throw error;
  }
  await consumer.stop();
}

/** Progress of a replay towards the log ends captured at its start. */
async function progressTracker(
  kafka: ReturnType<typeof createKafka>,
  topicNames: readonly string[],
  onProgress?: (progress: RebuildProgress) => void,
) {
  const admin = kafka.admin();
  await admin.connect();
  const targets = new Map<string, { low: number; high: number }>();
  try {
    for (const topic of topicNames) {
      for (const entry of await admin.fetchTopicOffsets(topic))
        targets.set(partitionKey(topic, entry.partition), { low: Number(entry.low), high: Number(entry.high) });
    }
  } finally {
    await admin.disconnect();
  }
  const total = [...targets.values()].reduce((sum, { low, high }) => sum + (high - low), 0);
  const reached = new Map<string, number>();
  const done = () =>
    [...targets.entries()].reduce((sum, [key, { low, high }]) => sum + Math.min(high, Math.max(low, reached.get(key) ?? low)) - low, 0);
  const complete = () => [...targets.entries()].every(([key, { low, high }]) => high <= low || (reached.get(key) ?? low) >= high);
  let finish: () => void = () => {};
  let fail: (error: Error) => void = () => {};
  const finishedPromise = new Promise<void>((resolve, reject) => {
    finish = resolve;
    fail = reject;
  });
  onProgress?.({ done: 0, total });
  return {
    topics: topicNames,
    total,
    complete,
    finished: () => finishedPromise,
    fail: (error: Error) => fail(error),
    offsets: () => Object.fromEntries(reached),
    applied: (topic: string, partition: number, nextOffset: number) => {
      reached.set(partitionKey(topic, partition), nextOffset);
      onProgress?.({ done: done(), total });
      if (complete()) finish();
    },
  };
}
