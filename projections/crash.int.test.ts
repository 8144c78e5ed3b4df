import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { loadPlatformConfig } from '../platform/config.js';
import { createLogger } from '../platform/logger.js';
import { topicName } from '../platform/topics.js';
import { createTopicsRetrying, type TestKafka } from '../test/kafka.js';
import { createTestDatabase, uniqueRedisPrefix, type TestDatabase } from '../test/postgres.js';
import { DB_BATCH_STEPS, DB_TRANSACTION_STEPS, REDIS_BATCH_STEPS, type BatchStep, type FaultHook } from './faults.js';
import { minuteBars, patternEvents } from '../test/record-fixtures.js';
import { migrate } from '../store/migrate.js';
import { startProjector, type ProjectorHandle } from './projector.js';
import { redisKeys, type RedisKeys } from '../contracts/redis-keys.js';
import { endOffsets, offsetsReached, produce } from './testing.js';

const logger = createLogger('projections-crash-test', { level: 'silent' });
const APPLICATION_NAME = 'tickflow-crash-under-test';

class InjectedCrash extends Error {
  override name = 'InjectedCrash';
}

/**
 * A one-connection pool for the test's own reads. `end()` resolves before the server has closed the backend; the
 * cleanup's drop waits for it, but past its grace `DROP DATABASE ... WITH (FORCE)` terminates it: that late error is expected.
 */
function testPool(url: string): pg.Pool {
  const pool = new pg.Pool({ connectionString: url, max: 1 });
  pool.on('error', () => {});
  return pool;
}

/** Snapshot of everything the projection wrote, to compare runs. */
async function tables(pool: pg.Pool) {
  const events = await pool.query(
    'SELECT event_id, kind, kafka_partition, kafka_offset FROM pattern_events ORDER BY kafka_partition, kafka_offset',
  );
  const current = await pool.query('SELECT pattern_id, status, last_event_id, kafka_offset FROM patterns ORDER BY pattern_id');
  const bars = await pool.query('SELECT symbol, bucket, close FROM bars_1m ORDER BY symbol, bucket');
  return { events: events.rows, current: current.rows, bars: bars.rows };
}

/** The read model under a prefix, prefix stripped; version counters left out (their values count announcements). */
async function readModel(redis: Redis, prefix: string): Promise<Record<string, unknown>> {
  const model: Record<string, unknown> = {};
  const names = (await redis.keys(`${prefix}*`)).filter((key) => !key.includes(':version:')).sort();
  for (const key of names) {
    const type = await redis.type(key);
    const name = key.slice(prefix.length);
    if (type === 'string') model[name] = await redis.get(key);
    else if (type === 'hash') model[name] = await redis.hgetall(key);
    else if (type === 'zset') model[name] = await redis.zrange(key, '0', '-1', 'WITHSCORES');
    else model[name] = `unexpected ${type}`;
  }
  return model;
}

/** True when the Redis projection's own offsets reached the log ends. */
async function redisReached(redis: Redis, keys: RedisKeys, ends: Map<string, Map<number, number>>): Promise<boolean> {
  const stored = await redis.hgetall(keys.offsets('redis'));
  for (const [topic, partitions] of ends) {
    for (const [partition, high] of partitions) {
      if (high > 0 && Number(stored[`${topic}:${partition}`] ?? -1) < high) return false;
    }
  }
  return true;
}

/** How a planned crash happens: an exception at the step, or PostgreSQL killing the projector's connections there. */
type CrashMode = 'throw' | 'kill-connection';
interface PlannedCrash {
  readonly step: BatchStep;
  readonly mode: CrashMode;
}

describe('crash injection at every step of a batch', () => {
  let topics: TestKafka;
  let faulty: TestDatabase;
  let clean: TestDatabase;
  let redis: Redis;
  const faultyPrefix = uniqueRedisPrefix('crash-faulty');
  const cleanPrefix = uniqueRedisPrefix('crash-clean');
  const events = patternEvents(400, 11);
  const bars = minuteBars(['AAPL', 'MSFT', 'NVDA', 'AMZN', 'TSLA'], 80);

  beforeAll(async () => {
    [topics, faulty, clean] = await Promise.all([
      createTopicsRetrying('crash', ['patterns', 'minuteAggregates', 'dailyAggregates']),
      createTestDatabase('crash_faulty'),
      createTestDatabase('crash_clean'),
    ]);
    await Promise.all([migrate(faulty.url), migrate(clean.url)]);
    redis = new Redis(loadPlatformConfig().REDIS_URL);
  });

  afterAll(async () => {
    for (const prefix of [faultyPrefix, cleanPrefix]) {
      const names = await redis.keys(`${prefix}*`);
      if (names.length > 0) await redis.del(...names);
    }
    redis?.disconnect();
    await Promise.all([topics?.cleanup(), faulty?.drop(), clean?.drop()]);
  });

  const projector = (url: string, redisPrefix: string, groupPrefix: string, faultHook?: FaultHook): Promise<ProjectorHandle> =>
    startProjector({
      databaseUrl: url,
      brokers: topics.brokers,
      registryUrl: topics.registryUrl,
      topicPrefix: topics.prefix,
      redisUrl: loadPlatformConfig().REDIS_URL,
      redisKeyPrefix: redisPrefix,
      projections: ['patterns', 'bars', 'redis'],
      groupPrefix,
      logger,
      faultHook,
    });

  const produceSlice = async (eventSlice: typeof events, barSlice: typeof bars) => {
    await produce(
      topics.kafka,
      topics.codec,
      topics.prefix,
      'patterns',
      eventSlice.map((event) => ({ key: event.symbol, value: event })),
    );
    await produce(
      topics.kafka,
      topics.codec,
      topics.prefix,
      'minuteAggregates',
      barSlice.map((value) => ({ key: value.symbol, value })),
    );
  };

  const caughtUp = async (pool: pg.Pool, keys: RedisKeys) => {
    const ends = await endOffsets(topics.kafka, [topicName('patterns', topics.prefix), topicName('minuteAggregates', topics.prefix)]);
    const of = (fragment: string) => new Map([...ends].filter(([topic]) => topic.includes(fragment)));
    return (
      (await offsetsReached(pool, 'patterns', of('patterns'))) &&
      (await offsetsReached(pool, 'bars', of('aggs'))) &&
      (await redisReached(redis, keys, ends))
    );
  };

  it('gives the same tables and read model as a clean run, every event applied exactly once, every change announced', async () => {
    // Each projection crashes once per step: the database ones by exception at every step from consume to the
    // notice, then by losing their connection at every step of the transaction; the Redis one at every step of its
    // batch. Every crash is spent on a fresh batch (the test produces one per round), so kafkajs retries once.
    const dbPlan: PlannedCrash[] = [
      ...DB_BATCH_STEPS.map((step): PlannedCrash => ({ step, mode: 'throw' })),
      ...DB_TRANSACTION_STEPS.map((step): PlannedCrash => ({ step, mode: 'kill-connection' })),
    ];
    const plans: Record<string, PlannedCrash[]> = {
      patterns: dbPlan,
      bars: dbPlan,
      redis: REDIS_BATCH_STEPS.map((step) => ({ step, mode: 'throw' })),
    };
    const armed = new Map<string, PlannedCrash>();
    const crashed: string[] = [];
    const killer = testPool(faulty.url);
    const hook: FaultHook = async (step, context) => {
      const planned = armed.get(context.projection);
      if (planned?.step !== step) return;
      armed.delete(context.projection);
      crashed.push(`${context.projection}:${planned.mode}:${step}`);
      if (planned.mode === 'throw') throw new InjectedCrash(`injected crash at ${step}`);
      await killer.query(
        'SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity WHERE datname = current_database() AND application_name = $1',
        [APPLICATION_NAME],
      );
    };

    const faultyUrl = new URL(faulty.url);
    faultyUrl.searchParams.set('application_name', APPLICATION_NAME);
    const pool = testPool(faulty.url);
    const keys = redisKeys(faultyPrefix);
    let handle = await projector(faultyUrl.toString(), faultyPrefix, `${topics.prefix}faulty.`, hook);
    const rounds = Math.max(...Object.values(plans).map((plan) => plan.length));
    const perRound = { events: Math.floor(events.length / (rounds + 1)), bars: Math.floor(bars.length / (rounds + 1)) };
    try {
      for (let round = 0; round < rounds; round += 1) {
        for (const [projection, plan] of Object.entries(plans)) if (plan[round]) armed.set(projection, plan[round]!);
        await produceSlice(
          events.slice(round * perRound.events, (round + 1) * perRound.events),
          bars.slice(round * perRound.bars, (round + 1) * perRound.bars),
        );
        await vi.waitFor(
          async () => {
            expect([...armed.keys()]).toEqual([]);
            expect(await caughtUp(pool, keys)).toBe(true);
          },
          { timeout: 60_000, interval: 200 },
        );
        // A process crash right after a commit whose notice was never sent: a new projector starts from the stored offsets.
        if (plans.patterns![round]?.step === 'after-commit' && plans.patterns![round]?.mode === 'throw') {
          await handle.stop();
          handle = await projector(faultyUrl.toString(), faultyPrefix, `${topics.prefix}faulty.`, hook);
        }
      }
      await produceSlice(events.slice(rounds * perRound.events), bars.slice(rounds * perRound.bars));
      await vi.waitFor(async () => expect(await caughtUp(pool, keys)).toBe(true), { timeout: 60_000, interval: 200 });
      // Every recorded change was announced (the outbox drains), whatever step crashed.
      await vi.waitFor(
        async () => expect((await pool.query('SELECT projection, topic, partition, next_offset FROM projection_notices')).rows).toEqual([]),
        { timeout: 30_000, interval: 200 },
      );
    } finally {
      await handle.stop();
      await killer.end();
    }
    expect(crashed).toHaveLength(2 * dbPlan.length + REDIS_BATCH_STEPS.length);

    // Reference: a run without faults over the same topics.
    const cleanPool = testPool(clean.url);
    const reference = await projector(clean.url, cleanPrefix, `${topics.prefix}clean.`);
    try {
      await vi.waitFor(async () => expect(await caughtUp(cleanPool, redisKeys(cleanPrefix))).toBe(true), {
        timeout: 60_000,
        interval: 250,
      });
    } finally {
      await reference.stop();
    }
    const expected = await tables(cleanPool);
    await cleanPool.end();
    expect(expected.events).toHaveLength(events.length);
    expect(expected.bars).toHaveLength(bars.length);

    const actual = await tables(pool);
    await pool.end();
    expect(actual.events).toEqual(expected.events);
    expect(actual.current).toEqual(expected.current);
    expect(actual.bars).toEqual(expected.bars);
    expect(await readModel(redis, faultyPrefix)).toEqual(await readModel(redis, cleanPrefix));
    // Every symbol that changed has had its version bumped.
    for (const symbol of new Set([...events.map((event) => event.symbol), ...bars.map((bar) => bar.symbol)])) {
      expect(Number(await redis.get(keys.symbolVersion(symbol)))).toBeGreaterThan(0);
    }
  });

  it('stays exactly once with two instances sharing the partitions through rebalances', async () => {
    const shared = await createTestDatabase('crash_shared');
    try {
      await migrate(shared.url);
      const pool = testPool(shared.url);
      const instance = () =>
        startProjector({
          databaseUrl: shared.url,
          brokers: topics.brokers,
          registryUrl: topics.registryUrl,
          topicPrefix: topics.prefix,
          projections: ['patterns'],
          groupPrefix: `${topics.prefix}shared.`,
          logger,
        });
      const first = await instance();
      const second = await instance(); // joins: the partitions are split between the two
      const more = patternEvents(120, 12);
      await produce(
        topics.kafka,
        topics.codec,
        topics.prefix,
        'patterns',
        more.map((event) => ({ key: event.symbol, value: event })),
      );
      await first.stop(); // leaves: the second takes every partition over
      const ends = await endOffsets(topics.kafka, [topicName('patterns', topics.prefix)]);
      await vi.waitFor(async () => expect(await offsetsReached(pool, 'patterns', ends)).toBe(true), { timeout: 90_000, interval: 250 });
      await second.stop();
      const counts = await pool.query('SELECT count(*)::int AS n, count(DISTINCT event_id)::int AS distinct_events FROM pattern_events');
      expect(counts.rows[0]).toEqual({ n: events.length + more.length, distinct_events: events.length + more.length });
      await pool.end();
    } finally {
      await shared.drop();
    }
  });

  it('gives the same tables and read model after the process is SIGKILLed at steps of a batch', async () => {
    const killedDb = await createTestDatabase('crash_killed');
    const killedPrefix = uniqueRedisPrefix('crash-killed');
    const referenceDb = await createTestDatabase('crash_reference');
    const referencePrefix = uniqueRedisPrefix('crash-reference');
    const root = fileURLToPath(new URL('..', import.meta.url));
    const more = patternEvents(120, 14);
    const moreBars = minuteBars(['AAPL', 'MSFT', 'NVDA'], 20, Date.UTC(2026, 10, 25, 14, 30), 15);
    // Mid-transaction, just before COMMIT, after COMMIT (no notice yet), before the notice; the Redis read model
    // before and after its EXEC.
    const kills: { projection: string; step: BatchStep }[] = [
      { projection: 'patterns', step: 'apply' },
      { projection: 'bars', step: 'commit' },
      { projection: 'patterns', step: 'after-commit' },
      { projection: 'bars', step: 'notify' },
      { projection: 'redis', step: 'exec' },
      { projection: 'redis', step: 'after-exec' },
    ];
    const pool = testPool(killedDb.url);
    const cleanPool = testPool(referenceDb.url);
    try {
      await Promise.all([migrate(killedDb.url), migrate(referenceDb.url)]);
      const per = { events: more.length / kills.length, bars: moreBars.length / kills.length };
      for (const [round, killAt] of kills.entries()) {
        await produceSlice(
          more.slice(round * per.events, (round + 1) * per.events),
          moreBars.slice(round * per.bars, (round + 1) * per.bars),
        );
        const options = {
          databaseUrl: killedDb.url,
          brokers: topics.brokers,
          registryUrl: topics.registryUrl,
          topicPrefix: topics.prefix,
          redisUrl: loadPlatformConfig().REDIS_URL,
          redisKeyPrefix: killedPrefix,
          projections: ['patterns', 'bars', 'redis'],
          // A fresh group per process: the dead member would hold its partitions until its session times out. The
          // positions come from the stored offsets anyway, never from the group.
          groupPrefix: `${topics.prefix}killed${round}.`,
          killAt,
        };
        const child = spawn(process.execPath, ['--import', 'tsx', 'projections/crash-child/main.ts', JSON.stringify(options)], {
          cwd: root,
          stdio: ['ignore', 'ignore', 'inherit'],
        });
        const [code, signal] = (await once(child, 'exit')) as [number | null, NodeJS.Signals | null];
        expect({ killAt, code, signal }).toEqual({ killAt, code: null, signal: 'SIGKILL' });
      }
      // A healthy projector takes over from whatever the kills left.
      const keys = redisKeys(killedPrefix);
      const survivor = await projector(killedDb.url, killedPrefix, `${topics.prefix}survivor.`);
      try {
        await vi.waitFor(async () => expect(await caughtUp(pool, keys)).toBe(true), { timeout: 60_000, interval: 200 });
        await vi.waitFor(
          async () =>
            expect((await pool.query('SELECT projection, topic, partition, next_offset FROM projection_notices')).rows).toEqual([]),
          { timeout: 30_000, interval: 200 },
        );
      } finally {
        await survivor.stop();
      }
      const reference = await projector(referenceDb.url, referencePrefix, `${topics.prefix}reference.`);
      try {
        await vi.waitFor(async () => expect(await caughtUp(cleanPool, redisKeys(referencePrefix))).toBe(true), {
          timeout: 60_000,
          interval: 200,
        });
      } finally {
        await reference.stop();
      }
      const expected = await tables(cleanPool);
      expect(new Set(expected.events.map((row) => row.event_id)).size).toBe(expected.events.length);
      expect(await tables(pool)).toEqual(expected);
      expect(await readModel(redis, killedPrefix)).toEqual(await readModel(redis, referencePrefix));
    } finally {
      await Promise.all([pool.end(), cleanPool.end()]);
      for (const prefix of [killedPrefix, referencePrefix]) {
        const names = await redis.keys(`${prefix}*`);
        if (names.length > 0) await redis.del(...names);
      }
      await Promise.all([killedDb.drop(), referenceDb.drop()]);
    }
  });
});
