import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createLogger } from '../platform/logger.js';
import { topicName } from '../platform/topics.js';
import { createTopicsRetrying, type TestKafka } from '../test/kafka.js';
import { createTestDatabase, testServer, type TestDatabase } from '../test/postgres.js';
import { minuteBars, patternEvents, symbolReference } from '../test/record-fixtures.js';
import { migrate } from '../store/migrate.js';
import { startProjector, type ProjectorHandle } from './projector.js';
import { rebuildProjection, rebuildRedis, type RebuildProgress } from './rebuild.js';
import { Redis } from 'ioredis';
import { loadPlatformConfig } from '../platform/config.js';
import { uniqueRedisPrefix } from '../test/postgres.js';
import { redisKeys } from '../contracts/redis-keys.js';
import { endOffsets, offsetsReached, produce } from './testing.js';

const logger = createLogger('projections-rebuild-test', { level: 'silent' });

async function patternTables(pool: pg.Pool) {
  const events = await pool.query(
    `SELECT event_id, kind, pattern_id, symbol, detected_at, confidence, fundamental_reasons, levels, kafka_partition, kafka_offset
     FROM pattern_events ORDER BY kafka_partition, kafka_offset`,
  );
  const current = await pool.query(
    'SELECT pattern_id, status, last_event_id, confidence, relative_strength, kafka_offset FROM patterns ORDER BY pattern_id',
  );
  // On TimescaleDB the counts are a continuous aggregate: rows written below its watermark after a policy run show up at
  // the next run (the refresh policy covers the whole history). Compare the data, not where a policy happened to run.
  // A policy run may be refreshing it at that moment ("due to a concurrent refresh"): wait until our refresh gets through.
  if (testServer() === 'timescale')
    await vi.waitFor(() => pool.query("CALL refresh_continuous_aggregate('pattern_counts_hourly', NULL, NULL)"), {
      timeout: 60_000,
      interval: 100,
    });
  const counts = await pool.query('SELECT bucket, pattern, tier, count::int FROM pattern_counts_hourly ORDER BY bucket, pattern, tier');
  return { events: events.rows, current: current.rows, counts: counts.rows };
}

describe('rebuild', () => {
  let topics: TestKafka;
  let db: TestDatabase;
  let pool: pg.Pool;
  let live: ProjectorHandle | undefined;
  const first = patternEvents(250, 31);
  const extra = patternEvents(60, 32);

  beforeAll(async () => {
    [topics, db] = await Promise.all([
      createTopicsRetrying('rebuild', ['patterns', 'minuteAggregates', 'dailyAggregates', 'symbols', 'fundamentals']),
      createTestDatabase('rebuild'),
    ]);
    await migrate(db.url);
    pool = new pg.Pool({ connectionString: db.url, max: 2 });
    pool.on('error', () => {}); // the database's drop terminates connections still closing
  });

  afterAll(async () => {
    await live?.stop();
    await pool?.end();
    await Promise.all([topics?.cleanup(), db?.drop()]);
  });

  const patternsTopic = () => topicName('patterns', topics.prefix);
  const caughtUp = async (projection: string, topicNames: string[]) => {
    const ends = await endOffsets(topics.kafka, topicNames);
    await vi.waitFor(async () => expect(await offsetsReached(pool, projection, ends)).toBe(true), { timeout: 60_000, interval: 250 });
  };

  it('gives the same tables as the live projection, and swaps atomically while the live projector runs', async () => {
    await produce(
      topics.kafka,
      topics.codec,
      topics.prefix,
      'patterns',
      first.map((event) => ({ key: event.symbol, value: event })),
    );
    live = await startProjector({
      databaseUrl: db.url,
      brokers: topics.brokers,
      registryUrl: topics.registryUrl,
      topicPrefix: topics.prefix,
      projections: ['patterns'],
      logger,
    });
    await caughtUp('patterns', [patternsTopic()]);
    const before = await patternTables(pool);
    expect(before.events).toHaveLength(first.length);

    const progress: RebuildProgress[] = [];
    await rebuildProjection({
      databaseUrl: db.url,
      brokers: topics.brokers,
      registryUrl: topics.registryUrl,
      topicPrefix: topics.prefix,
      projection: 'patterns',
      logger,
      onProgress: (step) => progress.push(step),
      beforeSwap: async () => {
        // The rebuilt tables hold what the live ones held.
        const rebuilt = await pool.query('SELECT count(*)::int AS n FROM pattern_events__rebuild');
        expect(rebuilt.rows[0].n).toBe(first.length);
        // Meanwhile the live projector moves ahead of the rebuild, into the old tables, which keep serving.
        await produce(
          topics.kafka,
          topics.codec,
          topics.prefix,
          'patterns',
          extra.map((event) => ({ key: event.symbol, value: event })),
        );
        await caughtUp('patterns', [patternsTopic()]);
        expect((await pool.query('SELECT count(*)::int AS n FROM pattern_events')).rows[0].n).toBe(first.length + extra.length);
      },
    });
    expect(progress.at(-1)).toEqual({ done: first.length, total: first.length });

    // After the swap the live projector finds its offsets moved back and re-applies the extra events to the new tables.
    await caughtUp('patterns', [patternsTopic()]);
    await vi.waitFor(
      async () => expect((await pool.query('SELECT count(*)::int AS n FROM pattern_events')).rows[0].n).toBe(first.length + extra.length),
      {
        timeout: 60_000,
        interval: 250,
      },
    );
    const leftovers = await pool.query(`SELECT relname FROM pg_class WHERE relname LIKE '%\\_\\_old%' OR relname LIKE '%\\_\\_rebuild%'`);
    expect(leftovers.rows).toEqual([]);

    // Same tables as a projection from scratch of the same log: compare with a second rebuild.
    const afterLive = await patternTables(pool);
    await live.stop();
    live = undefined;
    await rebuildProjection({
      databaseUrl: db.url,
      brokers: topics.brokers,
      registryUrl: topics.registryUrl,
      topicPrefix: topics.prefix,
      projection: 'patterns',
      logger,
    });
    expect(await patternTables(pool)).toEqual(afterLive);
    expect(afterLive.events).toEqual(expect.arrayContaining(before.events));
    // The swapped-in table keeps the API's active counts: its triggers are attached and the counts recomputed.
    const triggers = await pool.query(
      "SELECT tgname FROM pg_trigger WHERE tgrelid = 'patterns'::regclass AND tgname LIKE 'patterns_counts_%' ORDER BY 1",
    );
    expect(triggers.rows.map((row: { tgname: string }) => row.tgname)).toEqual([
      'patterns_counts_delete',
      'patterns_counts_insert',
      'patterns_counts_truncate',
      'patterns_counts_update',
    ]);
    const counted = await pool.query(
      "SELECT (SELECT coalesce(sum(n), 0)::int FROM pattern_active_counts) AS kept, (SELECT count(*)::int FROM patterns WHERE status = 'active') AS active",
    );
    expect(counted.rows[0].kept).toBe(counted.rows[0].active);
  });

  it('rebuilds bars (views recreated) and reference data', async () => {
    const bars = minuteBars(['AAPL', 'MSFT'], 15);
    await produce(
      topics.kafka,
      topics.codec,
      topics.prefix,
      'minuteAggregates',
      bars.map((value) => ({ key: value.symbol, value })),
    );
    await produce(topics.kafka, topics.codec, topics.prefix, 'symbols', [
      { key: 'AAPL', value: symbolReference('AAPL') },
      { key: 'OLD', value: symbolReference('OLD') },
      { key: 'OLD', value: null },
    ]);
    const common = { databaseUrl: db.url, brokers: topics.brokers, registryUrl: topics.registryUrl, topicPrefix: topics.prefix, logger };
    await rebuildProjection({ ...common, projection: 'bars' });
    await rebuildProjection({ ...common, projection: 'reference' });
    expect((await pool.query('SELECT count(*)::int AS n FROM bars_1m')).rows[0].n).toBe(30);
    expect((await pool.query('SELECT sum(volume) AS v FROM bars_1h')).rows[0].v).toBe(bars.reduce((sum, value) => sum + value.volume, 0));
    // The API's range functions read the swapped-in tables (their bodies name the tables, not the old relations).
    const volumeOf = (symbol: string) => bars.filter((value) => value.symbol === symbol).reduce((sum, value) => sum + value.volume, 0);
    expect((await pool.query(`SELECT sum(volume) AS v FROM bars_1h_between($1, NULL, NULL)`, [bars[0]!.symbol])).rows[0].v).toBe(
      volumeOf(bars[0]!.symbol),
    );
    expect((await pool.query('SELECT ticker FROM symbols')).rows).toEqual([{ ticker: 'AAPL' }]);
    // The live projection takes over from the rebuilt offsets.
    const ends = await endOffsets(topics.kafka, [topicName('minuteAggregates', topics.prefix)]);
    expect(await offsetsReached(pool, 'bars', ends)).toBe(true);
  });

  it('rebuilds the Redis read model and swaps it in under a running Redis projection', async () => {
    const redisUrl = loadPlatformConfig().REDIS_URL;
    const redisPrefix = uniqueRedisPrefix('rebuild');
    const keys = redisKeys(redisPrefix);
    const redis = new Redis(redisUrl);
    const common = { brokers: topics.brokers, registryUrl: topics.registryUrl, topicPrefix: topics.prefix, logger };
    const all = [...first, ...extra];
    const activeAfter = (events: typeof all) => {
      const state = new Map<string, boolean>();
      for (const event of events) state.set(event.patternId, event.kind !== 'EXPIRED');
      return [...state]
        .filter(([, active]) => active)
        .map(([id]) => id)
        .sort();
    };
    const scanSet = async () => (await redis.zrange(keys.scan({ kind: 'all' }, 'confidence'), '0', '-1')).sort();
    live = await startProjector({ ...common, databaseUrl: db.url, redisUrl, redisKeyPrefix: redisPrefix, projections: ['redis'] });
    try {
      await vi.waitFor(async () => expect(await scanSet()).toEqual(activeAfter(all)), { timeout: 60_000, interval: 250 });
      // Damage the live model: a stray pattern in the scans and a stray key. A rebuild must drop both.
      await redis.zadd(keys.scan({ kind: 'all' }, 'confidence'), '0.99', 'stray');
      await redis.set(keys.pattern('stray'), '{}');
      const before = Number(await redis.get(keys.patternsVersion()));
      const third = patternEvents(40, 33);
      await rebuildRedis({
        ...common,
        redisUrl,
        redisKeyPrefix: redisPrefix,
        beforeSwap: async () => {
          // The live projection moves ahead of the rebuild meanwhile; after the swap it must re-apply these.
          await produce(
            topics.kafka,
            topics.codec,
            topics.prefix,
            'patterns',
            third.map((event) => ({ key: event.symbol, value: event })),
          );
          await vi.waitFor(async () => expect(await scanSet()).toEqual([...activeAfter([...all, ...third]), 'stray'].sort()), {
            timeout: 60_000,
            interval: 250,
          });
        },
      });
      await vi.waitFor(async () => expect(await scanSet()).toEqual(activeAfter([...all, ...third])), { timeout: 60_000, interval: 250 });
      expect(await redis.exists(keys.pattern('stray'))).toBe(0);
      expect(Number(await redis.get(keys.patternsVersion()))).toBeGreaterThan(before);
      expect(await redis.keys(`${redisPrefix}rebuild:*`)).toEqual([]);
    } finally {
      await live.stop();
      live = undefined;
      const created = await redis.keys(`${redisPrefix}*`);
      if (created.length > 0) await redis.del(...created);
      redis.disconnect();
    }
  });
});
