import { Redis } from 'ioredis';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createLogger } from '../platform/logger.js';
import { loadPlatformConfig } from '../platform/config.js';
import { topicName, type TopicKey } from '../platform/topics.js';
import { createTopicsRetrying, type TestKafka } from '../test/kafka.js';
import { createTestDatabase, testServer, uniqueRedisPrefix, type TestDatabase } from '../test/postgres.js';
import { minuteBars, patternEvents } from '../test/record-fixtures.js';
import { migrate } from '../store/migrate.js';
import { aggregateWatermarks } from '../store/aggregates.js';
import { parseProjectionNotice, redisKeys, type ProjectionNotice } from '../contracts/redis-keys.js';
import { startProjector, type ProjectorHandle } from './projector.js';
import { endOffsets, offsetsReached, produce } from './testing.js';

const TOPICS: TopicKey[] = ['patterns', 'minuteAggregates', 'dailyAggregates'];
const logger = createLogger('late-refresh-test', { level: process.env.TEST_LOG ?? 'silent' });
const TIMESCALE = testServer() === 'timescale';
const DAY_MS = 86_400_000;
/** A session's first minute, and three days earlier (a backfill, a replay). */
const RECENT_MS = Date.UTC(2026, 10, 24, 14, 30);
const OLD_MS = RECENT_MS - 3 * DAY_MS;

/** Hourly bars of a symbol as the API reads them (the real-time aggregate on TimescaleDB, the plain view otherwise). */
async function hourly(db: pg.Pool, symbol: string): Promise<{ bucket: string; volume: number }[]> {
  const { rows } = await db.query<{ bucket: Date; volume: number }>(
    'SELECT bucket, volume FROM bars_1h_between($1, NULL, NULL) ORDER BY bucket',
    [symbol],
  );
  return rows.map((row) => ({ bucket: row.bucket.toISOString(), volume: row.volume }));
}

/** The same hours summed from the minute bars themselves: what the aggregate must show. */
async function hourlyFromMinutes(db: pg.Pool, symbol: string): Promise<{ bucket: string; volume: number }[]> {
  const { rows } = await db.query<{ bucket: Date; volume: number }>(
    `SELECT date_trunc('hour', bucket) AS bucket, sum(volume) AS volume FROM bars_1m WHERE symbol = $1 GROUP BY 1 ORDER BY 1`,
    [symbol],
  );
  return rows.map((row) => ({ bucket: row.bucket.toISOString(), volume: row.volume }));
}

// Both paths: on TimescaleDB the aggregates hide rows committed below their watermark until a refresh, and the
// projector refreshes their window itself (the policies are switched off here, so nothing else does); on the plain
// path the 5m/15m/1h bars and the hourly counts are views, current at once, and the projector has nothing to refresh.
describe(`rows committed below the aggregates' watermark (${TIMESCALE ? 'TimescaleDB: refreshed by the projector' : 'plain views'})`, () => {
  let topics: TestKafka;
  let db: TestDatabase;
  let pool: pg.Pool;
  let subscriber: Redis;
  let projector: ProjectorHandle | undefined;
  const config = loadPlatformConfig();
  const redisPrefix = uniqueRedisPrefix('late-refresh');
  const keys = redisKeys(redisPrefix);
  /** The hourly bars of LATE read the moment each bars notice naming LATE arrived. */
  const seenAtNotice: Promise<{ bucket: string; volume: number }[]>[] = [];

  const waitForOffsets = async (projection: 'bars' | 'patterns') => {
    const ends = await endOffsets(
      topics.kafka,
      TOPICS.map((key) => topicName(key, topics.prefix)).filter((topic) => topic.includes(projection === 'patterns' ? 'patterns' : 'aggs')),
    );
    await vi.waitFor(async () => expect(await offsetsReached(pool, projection, ends)).toBe(true), { timeout: 60_000, interval: 200 });
  };

  beforeAll(async () => {
    [topics, db] = await Promise.all([createTopicsRetrying('late-refresh', TOPICS), createTestDatabase('late_refresh')]);
    await migrate(db.url, { timescale: TIMESCALE ? 'on' : 'off' });
    pool = new pg.Pool({ connectionString: db.url, max: 3 });
    // Background jobs off: no policy run may materialize what this test waits for.
    if (TIMESCALE) await pool.query('SELECT alter_job(job_id, scheduled => false) FROM timescaledb_information.jobs WHERE job_id >= 1000');
    subscriber = new Redis(config.REDIS_URL);
    await subscriber.subscribe(keys.channel());
    subscriber.on('message', (_channel: string, message: string) => {
      const notice: ProjectionNotice = parseProjectionNotice(message);
      if (notice.projection === 'db.bars' && notice.symbols.includes('LATE')) seenAtNotice.push(hourly(pool, 'LATE'));
    });
    projector = await startProjector({
      databaseUrl: db.url,
      brokers: topics.brokers,
      registryUrl: topics.registryUrl,
      topicPrefix: topics.prefix,
      redisUrl: config.REDIS_URL,
      redisKeyPrefix: redisPrefix,
      projections: ['bars', 'patterns'],
      logger,
    });
  });

  afterAll(async () => {
    await projector?.stop();
    await pool?.end();
    subscriber?.disconnect();
    await Promise.all([topics?.cleanup(), db?.drop()]);
  });

  it('shows backfilled and corrected bars in the 1h bars as soon as the batch is announced', async () => {
    const { kafka, codec, prefix } = topics;
    const recent = minuteBars(['LATE'], 180, RECENT_MS, 11);
    await produce(
      kafka,
      codec,
      prefix,
      'minuteAggregates',
      recent.map((value) => ({ key: value.symbol, value })),
    );
    await waitForOffsets('bars');
    if (TIMESCALE) {
      // Materialize the three hours, as a policy run would: the watermark is now past every bar written so far.
      for (const view of ['bars_5m', 'bars_15m', 'bars_1h'])
        await pool.query('CALL refresh_continuous_aggregate($1::regclass, NULL, $2::timestamptz)', [
          view,
          new Date(RECENT_MS + 4 * 3_600_000),
        ]);
      const watermarks = await aggregateWatermarks(pool, 'bars_1m');
      expect(watermarks.map((aggregate) => aggregate.view)).toEqual(['bars_15m', 'bars_1h', 'bars_5m']);
      for (const aggregate of watermarks) expect(aggregate.watermarkMs).toBeGreaterThan(recent.at(-1)!.windowStartMs);
    } else {
      expect(await aggregateWatermarks(pool, 'bars_1m')).toEqual([]);
    }
    expect(await hourly(pool, 'LATE')).toEqual(await hourlyFromMinutes(pool, 'LATE'));
    // Every notice of these first bars received (the outbox empties once they are published), so that a late one is
    // not taken for the backfill's below.
    await vi.waitFor(
      async () => {
        expect(seenAtNotice.length).toBeGreaterThan(0);
        expect((await pool.query(`SELECT count(*)::int AS n FROM projection_notices WHERE projection = 'bars'`)).rows[0].n).toBe(0);
      },
      { timeout: 30_000, interval: 50 },
    );
    await Promise.all(seenAtNotice);
    const noticesBefore = seenAtNotice.length;

    // A backfill of two hours three days back, and a correction of a bar inside the materialized hours.
    const backfill = minuteBars(['LATE'], 120, OLD_MS, 12);
    const corrected = { ...recent[30]!, volume: recent[30]!.volume + 1_000_000 };
    await produce(
      kafka,
      codec,
      prefix,
      'minuteAggregates',
      [...backfill, corrected].map((value) => ({ key: value.symbol, value })),
    );
    await waitForOffsets('bars');
    const expected = await hourlyFromMinutes(pool, 'LATE');
    expect(expected).toHaveLength(7);
    const correctedHour = new Date(Math.floor(corrected.windowStartMs / 3_600_000) * 3_600_000).toISOString();
    expect(expected.find((hour) => hour.bucket === correctedHour)?.volume).toBeGreaterThan(1_000_000);
    // Read the moment the last batch's notice arrived, the aggregate already had every row: the refresh runs before
    // the announcement, so a cache filled after it holds the new hours.
    await vi.waitFor(
      async () => {
        expect(seenAtNotice.length).toBeGreaterThan(noticesBefore);
        expect(await seenAtNotice.at(-1)).toEqual(expected);
      },
      { timeout: 30_000, interval: 50 },
    );
    expect(await hourly(pool, 'LATE')).toEqual(expected);
    const refreshes = await projector!.metrics.aggregateRefreshes.get();
    const refreshed = refreshes.values.filter((value) => value.labels.outcome === 'refreshed').map((value) => value.labels.view);
    if (TIMESCALE) expect(new Set(refreshed)).toEqual(new Set(['bars_5m', 'bars_15m', 'bars_1h']));
    else expect(refreshed).toEqual([]);
  });

  it('counts detections replayed below the hourly counts watermark at once', async () => {
    const { kafka, codec, prefix } = topics;
    const counted = async () => Number((await pool.query('SELECT coalesce(sum(count), 0)::int AS n FROM pattern_counts_hourly')).rows[0].n);
    const first = patternEvents(40, 21);
    await produce(
      kafka,
      codec,
      prefix,
      'patterns',
      first.map((event) => ({ key: event.symbol, value: event })),
    );
    await waitForOffsets('patterns');
    if (TIMESCALE)
      await pool.query(`CALL refresh_continuous_aggregate('pattern_counts_hourly', NULL, $1::timestamptz)`, [new Date(RECENT_MS + DAY_MS)]);
    const detected = (events: typeof first) => events.filter((event) => event.kind === 'DETECTED').length;
    expect(await counted()).toBe(detected(first));

    // Events of another run, two days earlier: below the watermark.
    const replayed = patternEvents(40, 22).map((event) => ({
      ...event,
      detectedAtMs: event.detectedAtMs - 2 * DAY_MS,
      expiresAtMs: event.expiresAtMs - 2 * DAY_MS,
    }));
    await produce(
      kafka,
      codec,
      prefix,
      'patterns',
      replayed.map((event) => ({ key: event.symbol, value: event })),
    );
    await waitForOffsets('patterns');
    // The offsets commit with the rows and the refresh follows the commit: wait for it (no policy runs here).
    await vi.waitFor(async () => expect(await counted()).toBe(detected(first) + detected(replayed)), { timeout: 30_000, interval: 100 });
  });
});
