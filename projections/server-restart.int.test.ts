import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { withOpsServer } from '../test/ops.js';
import { createLogger } from '../platform/logger.js';
import { topicName } from '../platform/topics.js';
import { createTopicsRetrying, type TestKafka } from '../test/kafka.js';
import { testServer, TimescaleCluster } from '../test/postgres.js';
import { patternEvents } from '../test/record-fixtures.js';
import { migrate } from '../store/migrate.js';
import { DatabaseOutage } from '../store/availability.js';
import type { FaultHook } from './faults.js';
import { startProjector, type ProjectorHandle } from './projector.js';
import { endOffsets, offsetsReached, produce } from './testing.js';

const logger = createLogger('projections-server-restart-test', { level: process.env.TEST_LOG ?? 'silent' });
const TIMESCALE = testServer() === 'timescale';

async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  server.close();
  await once(server, 'close');
  return port;
}

/**
 * The shared servers cannot be restarted (other tests use them), so this test runs a PostgreSQL 15 cluster of its
 * own (the stack's TimescaleDB recipe in a scratch folder): with the library preloaded on the TimescaleDB path,
 * without it on the plain path. The cluster crashes (immediate stop) while the projector is mid-stream.
 */
describe(`a ${TIMESCALE ? 'TimescaleDB' : 'PostgreSQL'} server that crashes and restarts mid-projection`, () => {
  const stateDir = mkdtempSync(join(tmpdir(), 'tickflow-restart-'));
  chmodSync(stateDir, 0o755);
  let cluster: TimescaleCluster;
  let topics: TestKafka;
  let url: string;
  let pool: pg.Pool;
  let projector: (ProjectorHandle & { readonly opsPort: number }) | undefined;
  /** Lets the batch held after its commit go on (afterAll too: a failed test must not leave the projector's stop waiting). */
  let release = () => {};
  const events = patternEvents(20_000, 61);

  beforeAll(async () => {
    cluster = new TimescaleCluster(stateDir, { STACK_TIMESCALE_PORT: String(await freePort()) });
    [topics] = await Promise.all([
      createTopicsRetrying('restart', ['patterns', 'minuteAggregates', 'dailyAggregates']),
      cluster.start(() => {}, { preload: TIMESCALE }),
    ]);
    const admin = new pg.Client({ connectionString: cluster.url() });
    await admin.connect();
    await admin.query('CREATE DATABASE tickflow');
    await admin.end();
    url = cluster.url('tickflow');
    await migrate(url, { timescale: TIMESCALE ? 'on' : 'off', warn: () => {} });
    pool = new pg.Pool({ connectionString: url, max: 1 });
    pool.on('error', () => {});
  });

  afterAll(async () => {
    release();
    await projector?.stop();
    await pool?.end().catch(() => {});
    cluster?.stop(() => {}, 'immediate');
    await topics?.cleanup();
    rmSync(stateDir, { recursive: true, force: true });
  });

  // Found a stall on both paths (2026-12-06): a partition paused while the pool had waiters waited for a release that
  // never came (the waiters left through a failed connect), and the asynchronous commits lost in the crash left
  // partitions whose stored offsets vanished applied from where the process believed it was (rows lost).
  it('loses nothing and duplicates nothing', { timeout: 240_000 }, async () => {
    await produce(
      topics.kafka,
      topics.codec,
      topics.prefix,
      'patterns',
      events.map((event) => ({ key: event.symbol, value: event })),
    );
    const ends = await endOffsets(topics.kafka, [topicName('patterns', topics.prefix)]);
    const warn = vi.spyOn(logger, 'warn');
    const info = vi.spyOn(logger, 'info');
    const succeeded = vi.spyOn(DatabaseOutage.prototype, 'succeeded');
    // The first batch to commit is held just after its COMMIT while the server crashes, then let go once the outage is
    // reported: a batch under way when the server died, whose post-commit work (the late refresh's watermark read)
    // fails and is not the batch's to retry. Its success must not end the outage (the CI dry run's second WARN).
    let reachedHold!: () => void;
    const holding = new Promise<void>((resolve) => (reachedHold = resolve));
    const released = new Promise<void>((resolve) => (release = resolve));
    let holds = 0;
    const faultHook: FaultHook = async (step) => {
      if (step !== 'after-commit' || holds++ > 0) return;
      reachedHold();
      await released;
    };
    // With the ops server projections/main.ts serves.
    projector = await withOpsServer(
      await startProjector({
        databaseUrl: url,
        brokers: topics.brokers,
        registryUrl: topics.registryUrl,
        topicPrefix: topics.prefix,
        projections: ['patterns'],
        logger,
        faultHook,
      }),
    );
    const ready = async () =>
      (await fetch(`http://127.0.0.1:${projector!.opsPort}/ready`)).json() as Promise<{
        status: string;
        checks: Record<string, { ok: boolean; error?: string }>;
      }>;
    // Crash as soon as the first batch is committed, with the rest of the stream still to apply.
    await holding;
    cluster.stop(() => {}, 'immediate');
    // While it is down /ready says so and why, with one WARN: found by the batches that retry mid-stream (the usual
    // case), or by the probe itself when none is running (the CI run of 2026-12-07 01:15: the other partitions done).
    await vi.waitFor(
      async () => {
        const report = await ready();
        expect(report.status).toBe('down');
        expect(report.checks.postgres?.ok).toBe(false);
        expect(report.checks.postgres?.error).toMatch(/PostgreSQL unreachable/);
      },
      { timeout: 30_000, interval: 100 },
    );
    // The held batch goes on with the server still down: its success is the only one possible, and ends nothing.
    succeeded.mockClear();
    release();
    await vi.waitFor(() => expect(succeeded).toHaveBeenCalled(), { timeout: 30_000, interval: 50 });
    expect((await ready()).checks.postgres?.error).toMatch(/PostgreSQL unreachable/);
    // Back as it was: without the library on the plain path (start's default preloads it).
    await cluster.start(() => {}, { preload: TIMESCALE });
    await vi.waitFor(async () => expect(await offsetsReached(pool, 'patterns', ends)).toBe(true), { timeout: 120_000, interval: 250 });
    const counts = await pool.query(
      `SELECT count(*)::int AS events, count(DISTINCT event_id)::int AS distinct_events, (SELECT count(*)::int FROM patterns) AS patterns FROM pattern_events`,
    );
    expect(counts.rows[0]).toEqual({
      events: events.length,
      distinct_events: events.length,
      patterns: new Set(events.map((event) => event.patternId)).size,
    });
    const logged = (spy: typeof warn, prefix: string) =>
      spy.mock.calls.filter((call) => call.some((argument) => typeof argument === 'string' && argument.startsWith(prefix)));
    // One WARN and one recovery INFO per outage. (The CI dry run of 2026-12-06 11:38 saw two WARNs: a
    // batch under way at the crash reported a success between two failures; store/availability.ts, issue 20.)
    await vi.waitFor(async () => expect((await ready()).status).toBe('ok'), { timeout: 30_000, interval: 250 });
    expect(logged(warn, 'PostgreSQL is unreachable')).toHaveLength(1);
    expect(logged(info, 'PostgreSQL is reachable again')).toHaveLength(1);
    // The offsets listener (rebuild swaps) came back with the server.
    await vi.waitFor(
      async () =>
        expect((await pool.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE query LIKE 'LISTEN %'`)).rows[0].n).toBe(1),
      { timeout: 30_000, interval: 250 },
    );
    if (TIMESCALE) expect((await pool.query(`SELECT count(*)::int AS n FROM timescaledb_information.hypertables`)).rows[0].n).toBe(3);

    // Idle now (every partition caught up, no batch to fail): the readiness probe alone finds the next outage and
    // its end, with one WARN and one INFO.
    warn.mockClear();
    info.mockClear();
    cluster.stop(() => {}, 'immediate');
    await vi.waitFor(async () => expect((await ready()).checks.postgres?.error).toMatch(/PostgreSQL unreachable/), {
      timeout: 30_000,
      interval: 250,
    });
    await cluster.start(() => {}, { preload: TIMESCALE });
    await vi.waitFor(async () => expect((await ready()).status).toBe('ok'), { timeout: 30_000, interval: 250 });
    expect(logged(warn, 'PostgreSQL is unreachable')).toHaveLength(1);
    expect(logged(info, 'PostgreSQL is reachable again')).toHaveLength(1);
  });
});
