import { Redis } from 'ioredis';
import kafkajs from 'kafkajs';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { withOpsServer } from '../test/ops.js';
import { BROADCAST_COPY_HEADER } from '../platform/broadcast.js';
import { createLogger } from '../platform/logger.js';
import { topicName, type TopicKey } from '../platform/topics.js';
import { createTopicsRetrying, type TestKafka } from '../test/kafka.js';
import { createTestDatabase, uniqueRedisPrefix, type TestDatabase } from '../test/postgres.js';
import { loadPlatformConfig } from '../platform/config.js';
import { bar, fundamentals, minuteBars, patternEvents, symbolReference } from '../test/record-fixtures.js';
import { migrate } from '../store/migrate.js';
import { patternChangeOf, rowFor } from './core.js';
import { changeScopes } from '../contracts/pattern-scopes.js';
import { startProjector, type ProjectorHandle } from './projector.js';
import { parseProjectionNotice, redisKeys, type ProjectionNotice } from '../contracts/redis-keys.js';
import { endOffsets, offsetsReached, produce } from './testing.js';
import type { PatternEventValue } from '../contracts/values.js';

// kafkajs is CommonJS: its error classes come through the default export under ESM.
const { KafkaJSNonRetriableError } = kafkajs;
const TOPICS: TopicKey[] = ['patterns', 'minuteAggregates', 'dailyAggregates', 'symbols', 'fundamentals'];
const logger = createLogger('projections-test', { level: process.env.TEST_LOG ?? 'silent' });

/** The expected current state: the last event of each pattern in log order. */
function expectedPatterns(events: readonly PatternEventValue[]): Map<string, PatternEventValue> {
  const latest = new Map<string, PatternEventValue>();
  for (const event of events) latest.set(event.patternId, event);
  return latest;
}

describe('projector against the real Kafka, PostgreSQL and Redis', () => {
  let topics: TestKafka;
  let db: TestDatabase;
  let pool: pg.Pool;
  let redis: Redis;
  let subscriber: Redis;
  let projector: (ProjectorHandle & { readonly opsPort: number }) | undefined;
  const redisPrefix = uniqueRedisPrefix('projector');
  const keys = redisKeys(redisPrefix);
  const notices: ProjectionNotice[] = [];
  const events = patternEvents(400, 7);
  const config = loadPlatformConfig();

  // With the ops server projections/main.ts serves.
  const start = async (overrides: Partial<Parameters<typeof startProjector>[0]> = {}) =>
    withOpsServer(
      await startProjector({
        databaseUrl: db.url,
        brokers: topics.brokers,
        registryUrl: topics.registryUrl,
        topicPrefix: topics.prefix,
        redisUrl: config.REDIS_URL,
        redisKeyPrefix: redisPrefix,
        logger,
        ...overrides,
      }),
    );

  const waitForAll = async (projection: string) => {
    const ends = await endOffsets(
      topics.kafka,
      TOPICS.map((key) => topicName(key, topics.prefix)).filter((topic) =>
        topic.includes(projection === 'patterns' ? 'patterns' : projection === 'bars' ? 'aggs' : 'reference'),
      ),
    );
    await vi.waitFor(async () => expect(await offsetsReached(pool, projection, ends)).toBe(true), { timeout: 60_000, interval: 200 });
  };

  beforeAll(async () => {
    [topics, db] = await Promise.all([createTopicsRetrying('projector', TOPICS), createTestDatabase('projector')]);
    await migrate(db.url);
    pool = new pg.Pool({ connectionString: db.url, max: 2 });
    redis = new Redis(config.REDIS_URL);
    subscriber = new Redis(config.REDIS_URL);
    await subscriber.subscribe(keys.channel());
    subscriber.on('message', (_channel: string, message: string) => notices.push(parseProjectionNotice(message)));
  });

  afterAll(async () => {
    await projector?.stop();
    await pool?.end();
    const stale = await redis.keys(`${redisPrefix}*`);
    if (stale.length > 0) await redis.del(...stale);
    redis?.disconnect();
    subscriber?.disconnect();
    await Promise.all([topics?.cleanup(), db?.drop()]);
  });

  it('projects patterns, bars and reference data once, skipping broadcast copies and keeping bad input', async () => {
    const { kafka, codec, prefix } = topics;
    await produce(
      kafka,
      codec,
      prefix,
      'patterns',
      events.map((event) => ({ key: event.symbol, value: event })),
    );
    await produce(kafka, codec, prefix, 'patterns', [{ key: 'AAPL', value: Buffer.from('not avro at all') }]);
    const bars = minuteBars(['AAPL', 'MSFT', 'SPY'], 20);
    await produce(
      kafka,
      codec,
      prefix,
      'minuteAggregates',
      bars.map((value) => ({ key: value.symbol, value })),
    );
    // A broadcast copy of SPY's last bar in another partition, with a different close: it must not win.
    const spyLast = bars.filter((value) => value.symbol === 'SPY').at(-1)!;
    await produce(kafka, codec, prefix, 'minuteAggregates', [
      { key: 'SPY', value: { ...spyLast, close: 999 }, headers: { [BROADCAST_COPY_HEADER]: '1' }, partition: 0 },
      { key: 'SPY', value: { ...spyLast, close: 999 }, headers: { [BROADCAST_COPY_HEADER]: '1' }, partition: 1 },
    ]);
    const day = Date.UTC(2026, 10, 23, 5);
    await produce(kafka, codec, prefix, 'dailyAggregates', [
      { key: 'AAPL', value: bar('AAPL', 'DAY', day - 86_400_000, 86_400_000, 90, 95, 1e6) },
      { key: 'AAPL', value: bar('AAPL', 'DAY', day, 86_400_000, 95, 100, 1e6) },
    ]);
    await produce(kafka, codec, prefix, 'symbols', [
      { key: 'AAPL', value: symbolReference('AAPL') },
      { key: 'MSFT', value: symbolReference('MSFT') },
      { key: 'GONE', value: symbolReference('GONE') },
      { key: 'GONE', value: null },
      { key: 'MSFT', value: symbolReference('MSFT', { name: 'Microsoft Corporation' }) },
    ]);
    await produce(kafka, codec, prefix, 'fundamentals', [{ key: 'AAPL', value: fundamentals('AAPL') }]);

    projector = await start();
    await Promise.all(['patterns', 'bars', 'reference'].map(waitForAll));

    const counts = await pool.query(`SELECT
      (SELECT count(*)::int FROM pattern_events) AS events,
      (SELECT count(DISTINCT event_id)::int FROM pattern_events) AS distinct_events,
      (SELECT count(*)::int FROM patterns) AS patterns,
      (SELECT count(*)::int FROM bars_1m) AS minute_bars,
      (SELECT count(*)::int FROM bars_1d) AS daily_bars,
      (SELECT count(*)::int FROM projection_rejects) AS rejects`);
    const expected = expectedPatterns(events);
    expect(counts.rows[0]).toEqual({
      events: events.length,
      distinct_events: events.length,
      patterns: expected.size,
      minute_bars: 60,
      daily_bars: 2,
      rejects: 1,
    });

    const current = await pool.query<{ pattern_id: string; status: string; confidence: number; last_event_id: string }>(
      'SELECT pattern_id, status, confidence, last_event_id FROM patterns',
    );
    for (const row of current.rows) {
      const last = expected.get(row.pattern_id)!;
      expect(row).toEqual({
        pattern_id: last.patternId,
        status: last.kind === 'EXPIRED' ? 'expired' : 'active',
        confidence: last.confidence,
        last_event_id: last.eventId,
      });
    }
    const spy = await pool.query('SELECT close FROM bars_1m WHERE symbol = $1 AND bucket = $2', ['SPY', new Date(spyLast.windowStartMs)]);
    expect(spy.rows).toEqual([{ close: spyLast.close }]);
    const symbols = await pool.query('SELECT ticker, name FROM symbols ORDER BY ticker');
    expect(symbols.rows).toEqual([
      { ticker: 'AAPL', name: 'AAPL Inc.' },
      { ticker: 'MSFT', name: 'Microsoft Corporation' },
    ]);
    const reject = await pool.query('SELECT reason, payload FROM projection_rejects');
    expect(reject.rows[0].reason).toMatch(/undecodable/);
    expect(reject.rows[0].payload.toString()).toBe('not avro at all');
    const counted = await pool.query(`SELECT sum(count)::int AS n FROM pattern_counts_hourly`);
    expect(counted.rows[0].n).toBe(events.filter((event) => event.kind === 'DETECTED').length);

    // The Redis read model: the scan set holds exactly the active patterns, ordered by confidence.
    const active = [...expected.values()].filter((event) => event.kind !== 'EXPIRED');
    await vi.waitFor(async () => expect(await redis.zcard(keys.scan({ kind: 'all' }, 'confidence'))).toBe(active.length), {
      timeout: 30_000,
    });
    await vi.waitFor(async () => expect(await redis.hget(keys.snapshot('AAPL'), 'previousClose')).toBe('100'), { timeout: 30_000 });
    const top = await redis.zrevrange(keys.scan({ kind: 'all' }, 'confidence'), 0, 0);
    expect(top[0]).toBe([...active].sort((a, b) => b.confidence - a.confidence || (b.patternId > a.patternId ? 1 : -1))[0]!.patternId);
    const firstActive = active[0]!;
    expect(JSON.parse((await redis.get(keys.pattern(firstActive.patternId)))!)).toMatchObject({
      status: 'active',
      confidence: firstActive.confidence,
    });
    expect(Number(await redis.get(keys.patternsVersion()))).toBeGreaterThan(0);
    await vi.waitFor(() => {
      expect(notices.some((notice) => notice.projection === 'db.patterns' && notice.patternsChanged)).toBe(true);
      expect(notices.some((notice) => notice.projection === 'redis' && notice.symbols.includes('AAPL'))).toBe(true);
    });
    // Exact invalidation of broad scans: the outbox's notices name the pattern scopes of every written state, and
    // never fall back to the unscoped version (which would invalidate every cached broad scan).
    await vi.waitFor(() => {
      const announced = new Set(notices.filter((notice) => notice.projection === 'db.patterns').flatMap((notice) => notice.scopes ?? []));
      const written = events.flatMap((event) =>
        changeScopes(patternChangeOf(rowFor('patterns', event, { topic: 'patterns', partition: 0, offset: 0 }))),
      );
      expect(written.filter((scope) => !announced.has(scope))).toEqual([]);
    });
    expect(notices.filter((notice) => notice.projection === 'db.patterns').every((notice) => notice.scopes !== undefined)).toBe(true);
    expect(await redis.get(keys.patternsUnscopedVersion())).toBeNull();

    const ready = await fetch(`http://127.0.0.1:${projector.opsPort}/ready`);
    expect(ready.status).toBe(200);
    expect(await (await fetch(`http://127.0.0.1:${projector.opsPort}/metrics`)).text()).toMatch(/tickflow_projection_rows_total/);
  });

  it('continues from the stored offsets after a restart, without applying anything twice', async () => {
    await projector!.stop();
    projector = undefined;
    const more = patternEvents(100, 8);
    await produce(
      topics.kafka,
      topics.codec,
      topics.prefix,
      'patterns',
      more.map((event) => ({ key: event.symbol, value: event })),
    );
    projector = await start({ projections: ['patterns'] });
    await waitForAll('patterns');
    const counts = await pool.query(
      'SELECT count(*)::int AS n, count(DISTINCT (kafka_partition, kafka_offset))::int AS positions FROM pattern_events',
    );
    expect(counts.rows[0]).toEqual({ n: events.length + more.length, positions: events.length + more.length });
    const notDecoded = await pool.query('SELECT count(*)::int AS n FROM projection_rejects');
    expect(notDecoded.rows[0].n).toBe(1);
  });

  it('calls onStall when a consumer crashed and kafkajs will not restart it', async () => {
    await projector?.stop();
    projector = undefined;
    const stalls: string[] = [];
    await produce(
      topics.kafka,
      topics.codec,
      topics.prefix,
      'patterns',
      patternEvents(5, 9).map((event) => ({ key: event.symbol, value: event })),
    );
    // An error kafkajs does not retry, thrown inside a batch: its consumer stops for good.
    projector = await start({
      projections: ['patterns'],
      groupPrefix: `${topics.prefix}stall.`,
      onStall: (reason) => stalls.push(reason),
      faultHook: (step) => {
        if (step === 'begin') throw new KafkaJSNonRetriableError('injected: not retriable');
      },
    });
    await vi.waitFor(
      () => expect(stalls).toEqual([expect.stringContaining('the patterns consumer crashed and kafkajs will not restart it: injected')]),
      { timeout: 60_000, interval: 100 },
    );
    await projector.stop();
    projector = undefined;
    expect(stalls).toHaveLength(1);
  });
});
