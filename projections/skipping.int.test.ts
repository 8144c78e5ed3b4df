import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { withOpsServer } from '../test/ops.js';
import { capturedLogger } from '../test/log-capture.js';
import { loadPlatformConfig } from '../platform/config.js';
import { createTopicsRetrying, type TestKafka } from '../test/kafka.js';
import { createTestDatabase, uniqueRedisPrefix, type TestDatabase } from '../test/postgres.js';
import { FIXTURE_START_MS, minuteBars } from '../test/record-fixtures.js';
import { startProjector, type ProjectorHandle } from './projector.js';
import { produce } from './testing.js';

// Issue 25: the Redis snapshot keeps each symbol's latest bar, so bars older than it change nothing (by design).
// A feed replaying old data is then said once (WARN), on /ready, and in tickflow_projection_skipped_total.

const SYMBOLS = ['AAPL', 'MSFT', 'NVDA', 'AMZN'];

describe('the projector fed old bars', () => {
  let topics: TestKafka;
  let db: TestDatabase;
  let projector: (ProjectorHandle & { readonly opsPort: number }) | undefined;

  beforeAll(async () => {
    [topics, db] = await Promise.all([
      createTopicsRetrying('proj-skip', ['patterns', 'minuteAggregates', 'dailyAggregates']),
      createTestDatabase('proj_skip'),
    ]);
  });

  afterAll(async () => {
    await projector?.stop();
    await Promise.all([topics?.cleanup(), db?.drop()]);
  });

  it('warns once with the lag, reports it on /ready and counts the skipped bars', { timeout: 120_000 }, async () => {
    const { logger, text } = capturedLogger('projections', 'info');
    // With the ops server projections/main.ts serves.
    projector = await withOpsServer(
      await startProjector({
        databaseUrl: db.url,
        brokers: topics.brokers,
        registryUrl: topics.registryUrl,
        topicPrefix: topics.prefix,
        redisUrl: loadPlatformConfig().REDIS_URL,
        redisKeyPrefix: uniqueRedisPrefix('proj-skip'),
        projections: ['redis'],
        logger,
      }),
    );
    const ready = async () =>
      (await fetch(`http://127.0.0.1:${projector!.opsPort}/ready`)).json() as Promise<{
        status: string;
        checks: Record<string, { ok: boolean; error?: string }>;
      }>;
    const skipped = async () =>
      (await projector!.registry.metrics())
        .split('\n')
        .filter((line) => line.startsWith('tickflow_projection_skipped_total{'))
        .reduce((sum, line) => sum + Number(line.slice(line.lastIndexOf(' ') + 1)), 0);

    // A first run got to 11:00; a restarted feed replays the 90 minutes before it.
    await produce(
      topics.kafka,
      topics.codec,
      topics.prefix,
      'minuteAggregates',
      minuteBars(SYMBOLS, 1, FIXTURE_START_MS + 90 * 60_000).map((bar) => ({ key: bar.symbol, value: bar })),
    );
    await vi.waitFor(async () => expect((await ready()).status).toBe('ok'), { timeout: 60_000, interval: 250 });
    await produce(
      topics.kafka,
      topics.codec,
      topics.prefix,
      'minuteAggregates',
      minuteBars(SYMBOLS, 90).map((bar) => ({ key: bar.symbol, value: bar })),
    );
    await vi.waitFor(async () => expect(await skipped()).toBe(90 * SYMBOLS.length), { timeout: 60_000, interval: 250 });
    await vi.waitFor(
      async () =>
        expect((await ready()).checks.input?.error).toContain(
          'bars are older than the latest one already held for their symbol by 1 h 30 min',
        ),
      { timeout: 20_000, interval: 250 },
    );
    expect((await ready()).status).toBe('degraded');
    const warnings = text()
      .split('\n')
      .filter((line) => line.includes('older than the latest one already held'));
    expect(warnings).toHaveLength(1);
    expect(JSON.parse(warnings[0]!)).toMatchObject({ level: 40, behindMs: 90 * 60_000 });
  });
});
