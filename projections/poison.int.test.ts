import { Redis } from 'ioredis';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createLogger } from '../platform/logger.js';
import { loadPlatformConfig } from '../platform/config.js';
import { topicName, type TopicKey } from '../platform/topics.js';
import { createTopicsRetrying, type TestKafka } from '../test/kafka.js';
import { createTestDatabase, uniqueRedisPrefix, type TestDatabase } from '../test/postgres.js';
import { minuteBars, patternEvents } from '../test/record-fixtures.js';
import { migrate } from '../store/migrate.js';
import { startProjector, type ProjectorHandle } from './projector.js';
import { redisKeys } from '../contracts/redis-keys.js';
import { REDIS_PROJECTION } from '../contracts/redis-keys.js';
import { endOffsets, offsetsReached, produce } from './testing.js';

// Issue 18 siblings of items 13-14 in the projector: a value PostgreSQL refuses mid-COPY (a bar stamped in
// microseconds, a NUL in a symbol) failed its batch again and again, and a NaN confidence failed the Redis
// MULTI the same way: the projection stopped for good. They must be kept as rejects while the stream moves on.
const TOPICS: TopicKey[] = ['patterns', 'minuteAggregates', 'dailyAggregates'];
const logger = createLogger('projections-poison-test', { level: process.env.TEST_LOG ?? 'silent' });

describe('poisoned values in the projector input (real Kafka, PostgreSQL and Redis)', () => {
  let topics: TestKafka;
  let db: TestDatabase;
  let pool: pg.Pool;
  let redis: Redis;
  let projector: ProjectorHandle | undefined;
  const redisPrefix = uniqueRedisPrefix('projpoison');
  const keys = redisKeys(redisPrefix);
  const config = loadPlatformConfig();

  beforeAll(async () => {
    [topics, db] = await Promise.all([createTopicsRetrying('projpoison', TOPICS), createTestDatabase('projpoison')]);
    await migrate(db.url);
    pool = new pg.Pool({ connectionString: db.url, max: 2 });
    redis = new Redis(config.REDIS_URL);
  });

  afterAll(async () => {
    await projector?.stop();
    await pool?.end();
    const stale = await redis.keys(`${redisPrefix}*`);
    if (stale.length > 0) await redis.del(...stale);
    redis?.disconnect();
    await Promise.all([topics?.cleanup(), db?.drop()]);
  });

  it('keeps poisoned bars and pattern events as rejects and projects the records after them', async () => {
    const { kafka, codec, prefix } = topics;
    const bars = minuteBars(['AAPL'], 10);
    const sample = bars[4]!;
    const poisonedBars = [
      { ...sample, windowStartMs: sample.windowStartMs * 1000, windowEndMs: sample.windowEndMs * 1000 },
      { ...sample, symbol: 'AA\u0000PL' },
      { ...sample, close: Number.NaN },
    ];
    await produce(
      kafka,
      codec,
      prefix,
      'minuteAggregates',
      [...bars.slice(0, 5), ...poisonedBars, ...bars.slice(5)].map((value) => ({ key: 'AAPL', value, partition: 0 })),
    );
    const events = patternEvents(40, 11).filter((event) => event.kind === 'DETECTED');
    const poisonedEvents = [
      { ...events[0]!, eventId: 'nan-confidence', patternId: 'nan-confidence', confidence: Number.NaN },
      { ...events[0]!, eventId: 'micro-detected', patternId: 'micro-detected', detectedAtMs: events[0]!.detectedAtMs * 1000 },
    ];
    const half = events.length / 2;
    await produce(
      kafka,
      codec,
      prefix,
      'patterns',
      [...events.slice(0, half), ...poisonedEvents, ...events.slice(half)].map((value) => ({ key: 'AAPL', value, partition: 0 })),
    );

    projector = await start();
    const ends = await endOffsets(
      kafka,
      TOPICS.map((key) => topicName(key, prefix)),
    );
    const of = (keys: TopicKey[]) => new Map(keys.map((key) => [topicName(key, prefix), ends.get(topicName(key, prefix))!]));
    await vi.waitFor(
      async () => {
        expect(await offsetsReached(pool, 'bars', of(['minuteAggregates', 'dailyAggregates']))).toBe(true);
        expect(await offsetsReached(pool, 'patterns', of(['patterns']))).toBe(true);
      },
      { timeout: 60_000, interval: 200 },
    );

    const counts = await pool.query(
      'SELECT (SELECT count(*)::int FROM bars_1m) AS bars, (SELECT count(*)::int FROM pattern_events) AS events',
    );
    expect(counts.rows[0]).toEqual({ bars: bars.length, events: events.length });
    const rejects = await pool.query<{ projection: string; kafka_offset: string; reason: string }>(
      'SELECT projection, kafka_offset, reason FROM projection_rejects ORDER BY projection, kafka_offset',
    );
    expect(rejects.rows.map((row) => [row.projection, Number(row.kafka_offset)])).toEqual([
      ['bars', 5],
      ['bars', 6],
      ['bars', 7],
      ['patterns', half],
      ['patterns', half + 1],
    ]);
    expect(rejects.rows.map((row) => row.reason)).toEqual([
      expect.stringMatching(/windowStartMs is not a valid time: is after 2200/),
      expect.stringMatching(/NUL character/),
      expect.stringMatching(/close is not a finite number/),
      expect.stringMatching(/confidence is not a finite number/),
      expect.stringMatching(/detectedAtMs is not a valid time/),
    ]);

    // The Redis read model skips the same values: it reaches the log end, its snapshot follows the last bar,
    // and its scan set holds the sound detections only.
    const redisEnd = (topic: TopicKey) => ends.get(topicName(topic, prefix))!.get(0)!;
    await vi.waitFor(
      async () => {
        const offsets = await redis.hgetall(keys.offsets(REDIS_PROJECTION));
        expect(Number(offsets[`${topicName('minuteAggregates', prefix)}:0`])).toBe(redisEnd('minuteAggregates'));
        expect(Number(offsets[`${topicName('patterns', prefix)}:0`])).toBe(redisEnd('patterns'));
      },
      { timeout: 60_000, interval: 200 },
    );
    expect(Number(await redis.hget(keys.snapshot('AAPL'), 'barStartMs'))).toBe(bars.at(-1)!.windowStartMs);
    expect(await redis.zcard(keys.scan({ kind: 'all' }, 'confidence'))).toBe(events.length);
    expect(await redis.get(keys.pattern('nan-confidence'))).toBeNull();
  }, 120_000);

  function start(): Promise<ProjectorHandle> {
    return startProjector({
      databaseUrl: db.url,
      brokers: topics.brokers,
      registryUrl: topics.registryUrl,
      topicPrefix: topics.prefix,
      redisUrl: config.REDIS_URL,
      redisKeyPrefix: redisPrefix,
      projections: ['patterns', 'bars', 'redis'],
      logger,
    });
  }
});
