import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createLogger } from '../platform/logger.js';
import { topicName } from '../platform/topics.js';
import type { TestKafka } from '../test/kafka.js';
import { createTestDatabase, type TestDatabase } from '../test/postgres.js';
import { minuteBars, patternEvents } from './fixtures.js';
import { migrate } from './migrate.js';
import { BATCH_STEPS, type BatchStep, type FaultHook } from './pg-writer.js';
import { startProjector, type ProjectorHandle } from './projector.js';
import { createTopicsRetrying, endOffsets, offsetsReached, produce } from './testing.js';

const logger = createLogger('projections-crash-test', { level: 'silent' });

class InjectedCrash extends Error {
  override name = 'InjectedCrash';
}

/** Snapshot of everything the projection wrote, to compare runs. */
async function tables(pool: pg.Pool) {
  const events = await pool.query('SELECT event_id, kind, kafka_partition, kafka_offset FROM pattern_events ORDER BY kafka_partition, kafka_offset');
  const current = await pool.query('SELECT pattern_id, status, last_event_id, kafka_offset FROM patterns ORDER BY pattern_id');
  const bars = await pool.query('SELECT symbol, bucket, close FROM bars_1m ORDER BY symbol, bucket');
  return { events: events.rows, current: current.rows, bars: bars.rows };
}

describe('crash injection at every step of a batch', () => {
  let topics: TestKafka;
  let faulty: TestDatabase;
  let clean: TestDatabase;
  const events = patternEvents(300, 11);
  const bars = minuteBars(['AAPL', 'MSFT', 'NVDA'], 30);

  beforeAll(async () => {
    [topics, faulty, clean] = await Promise.all([
      createTopicsRetrying('crash', ['patterns', 'minuteAggregates', 'dailyAggregates']),
      createTestDatabase('crash_faulty'),
      createTestDatabase('crash_clean'),
    ]);
    await Promise.all([migrate(faulty.url), migrate(clean.url)]);
    // Several sends, so that the projector sees several batches per partition.
    for (let start = 0; start < events.length; start += 60) {
      await produce(topics.kafka, topics.codec, topics.prefix, 'patterns', events.slice(start, start + 60).map((event) => ({ key: event.symbol, value: event })));
    }
    await produce(topics.kafka, topics.codec, topics.prefix, 'minuteAggregates', bars.map((value) => ({ key: value.symbol, value })));
  });

  afterAll(async () => {
    await Promise.all([topics?.cleanup(), faulty?.drop(), clean?.drop()]);
  });

  const run = async (url: string, faultHook: FaultHook | undefined, groupPrefix: string) => {
    const pool = new pg.Pool({ connectionString: url, max: 1 });
    const handles: ProjectorHandle[] = [];
    const start = async () => {
      handles.push(
        await startProjector({
          databaseUrl: url,
          brokers: topics.brokers,
          registryUrl: topics.registryUrl,
          topicPrefix: topics.prefix,
          projections: ['patterns', 'bars'],
          groupPrefix,
          logger,
          faultHook,
        }),
      );
    };
    return { pool, handles, start };
  };

  it('gives the same tables as a clean run, with every event applied exactly once', async () => {
    const ends = await endOffsets(topics.kafka, [topicName('patterns', topics.prefix), topicName('minuteAggregates', topics.prefix)]);
    const reached = async (pool: pg.Pool) =>
      (await offsetsReached(pool, 'patterns', new Map([...ends].filter(([topic]) => topic.includes('patterns'))))) &&
      (await offsetsReached(pool, 'bars', new Map([...ends].filter(([topic]) => topic.includes('aggs')))));

    // Reference: a run without faults.
    const reference = await run(clean.url, undefined, `${topics.prefix}clean.`);
    await reference.start();
    await vi.waitFor(async () => expect(await reached(reference.pool)).toBe(true), { timeout: 60_000, interval: 250 });
    await reference.handles[0]!.stop();
    const expected = await tables(reference.pool);
    await reference.pool.end();
    expect(expected.events).toHaveLength(events.length);

    // Faulty: each step of the batch transaction crashes once, in turn, on both projections.
    const pending: Record<string, BatchStep[]> = { patterns: [...BATCH_STEPS], bars: [...BATCH_STEPS] };
    const crashed: string[] = [];
    const hook: FaultHook = (step, context) => {
      const queue = pending[context.projection]!;
      if (queue[0] === step) {
        queue.shift();
        crashed.push(`${context.projection}:${step}`);
        throw new InjectedCrash(`injected crash at ${step}`);
      }
    };
    const faultyRun = await run(faulty.url, hook, `${topics.prefix}faulty.`);
    await faultyRun.start();
    await vi.waitFor(() => expect(pending.patterns!.length + pending.bars!.length).toBe(0), { timeout: 90_000, interval: 250 });
    // A process crash, too: the projector is dropped and a new one starts from the stored offsets.
    await faultyRun.handles[0]!.stop();
    await faultyRun.start();
    await vi.waitFor(async () => expect(await reached(faultyRun.pool)).toBe(true), { timeout: 90_000, interval: 250 });
    await faultyRun.handles[1]!.stop();
    expect(crashed).toHaveLength(2 * BATCH_STEPS.length);

    const actual = await tables(faultyRun.pool);
    await faultyRun.pool.end();
    expect(actual.events).toEqual(expected.events);
    expect(actual.current).toEqual(expected.current);
    expect(actual.bars).toEqual(expected.bars);
  });

  it('stays exactly once with two instances sharing the partitions through rebalances', async () => {
    const shared = await createTestDatabase('crash_shared');
    try {
      await migrate(shared.url);
      const pool = new pg.Pool({ connectionString: shared.url, max: 1 });
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
      await produce(topics.kafka, topics.codec, topics.prefix, 'patterns', more.map((event) => ({ key: event.symbol, value: event })));
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
});
