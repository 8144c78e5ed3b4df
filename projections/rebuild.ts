import pg from 'pg';
import { AvroCodec } from '../platform/codec.js';
import { createKafka } from '../platform/kafka.js';
import { createLogger, type Logger } from '../platform/logger.js';
import { createMetricsRegistry } from '../platform/metrics.js';
import { DB_PROJECTIONS, OFFSETS_CHANNEL, topicMap, type DbProjectionName } from './core.js';
import { DbProjectionSink } from './db-sink.js';
import { createProjectorMetrics } from './metrics.js';
import { PartitionConsumer } from './partition-consumer.js';

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

function recreateViews(projection: DbProjectionName): string[] {
  switch (projection) {
    case 'patterns':
      return ['SELECT tf_create_pattern_views()'];
    case 'bars':
      return ['SELECT tf_create_bar_views()'];
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
  const kafka = createKafka({ brokers: options.brokers, clientId: 'tickflow-rebuild', logger });
  const topics = topicMap(spec.topics, prefix);
  let consumer: PartitionConsumer | undefined;
  try {
    await createRebuildTables(pool, projection);

    // The target: every partition's log end when the rebuild starts.
    const admin = kafka.admin();
    await admin.connect();
    const targets = new Map<string, { low: number; high: number }>();
    try {
      for (const topic of topics.keys()) {
        for (const entry of await admin.fetchTopicOffsets(topic)) {
          targets.set(`${topic}:${entry.partition}`, { low: Number(entry.low), high: Number(entry.high) });
        }
      }
    } finally {
      await admin.disconnect();
    }
    const total = [...targets.values()].reduce((sum, { low, high }) => sum + (high - low), 0);
    const reached = new Map<string, number>();
    const done = () => [...targets.entries()].reduce((sum, [key, { low, high }]) => sum + Math.min(high, Math.max(low, reached.get(key) ?? low)) - low, 0);
    const complete = () => [...targets.entries()].every(([key, { low, high }]) => high <= low || (reached.get(key) ?? low) >= high);
    options.onProgress?.({ done: 0, total });

    if (!complete()) {
      let finish: () => void = () => {};
      let fail: (error: Error) => void = () => {};
      const finished = new Promise<void>((resolve, reject) => {
        finish = resolve;
        fail = reject;
      });
      const sink = new DbProjectionSink(pool, {
        projection,
        offsetsName: rebuildName,
        tableSuffix: REBUILD_SUFFIX,
        topics,
        codec: new AvroCodec(options.registryUrl, prefix),
        logger,
        metrics: createProjectorMetrics(createMetricsRegistry('projections-rebuild', { collectDefaults: false })),
        onApplied: (topic, partition, nextOffset) => {
          reached.set(`${topic}:${partition}`, nextOffset);
          options.onProgress?.({ done: done(), total });
          if (complete()) finish();
        },
      });
      consumer = new PartitionConsumer(kafka, {
        groupId: `${prefix}tickflow.rebuild.${projection}.${Date.now().toString(36)}`,
        topics: [...topics.keys()],
        sink,
        logger,
        partitionsConsumedConcurrently: 2,
        onError: fail,
      });
      await consumer.start();
      await finished;
      await consumer.stop();
      consumer = undefined;
    }
    await options.beforeSwap?.();

    await swapRebuilt(pool, projection);
    logger.info({ projection, messages: total }, 'rebuild swapped in');
    return { messages: total, offsets: Object.fromEntries(reached) };
  } finally {
    await consumer?.stop().catch(() => {});
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
 * (and the views or continuous aggregates on them), recreate the views, move the offsets, and NOTIFY.
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
    for (const statement of recreateViews(projection)) await client.query(statement);
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
