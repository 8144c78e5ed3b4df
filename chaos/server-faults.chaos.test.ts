import { afterAll, beforeAll, describe, it } from 'vitest';
import { scaled } from './config.js';
import { recordFigure } from './figures.js';
import { expectExactlyOnce } from './assertions.js';
import { ChaosPipeline, waitFor, type StageName } from './pipeline.js';
import { ensureKafka, ensurePostgres, killPostgresConnections, restartKafka, restartPostgres, startRedis, stopRedis } from './servers.js';

const STAGES: readonly StageName[] = ['ingest', 'processors', 'projector', 'gateway'];

// These restart the machine's shared servers: the chaos project runs alone (maxWorkers 1, after the other tests).
describe('server faults mid-stream: Kafka, Redis and PostgreSQL', () => {
  let pipeline: ChaosPipeline;

  beforeAll(async () => {
    pipeline = await ChaosPipeline.create('chaos-servers');
    await pipeline.start();
  });

  afterAll(async () => {
    // Whatever happened, the servers are brought back before anything else.
    await startRedis().catch(() => {});
    await ensurePostgres().catch(() => {});
    await ensureKafka().catch(() => {});
    await pipeline?.stop();
  });

  /** Runs the feed, injects `fault` once events flow, lets more events through after it, then checks every reader. */
  async function underFault(name: string, fault: () => Promise<Record<string, number | string>>): Promise<void> {
    const before = await pipeline.patternEventsProduced();
    const restarts = Object.fromEntries(STAGES.map((stage) => [stage, pipeline.restarts(stage)]));
    await pipeline.startFeed();
    await waitFor('pattern events to flow', async () => (await pipeline.patternEventsProduced()) >= before + scaled(40, 10), 300_000);
    const details = await fault();
    await waitFor(
      'more pattern events after recovery',
      async () => (await pipeline.patternEventsProduced()) >= before + scaled(80, 20),
      300_000,
    );
    await pipeline.stopFeed();
    const check = await pipeline.settleAndCheck();
    const stageRestarts = STAGES.map((stage) => `${stage}:${pipeline.restarts(stage) - restarts[stage]!}`);
    recordFigure({ suite: 'faults', case: name, ...details, stageRestarts, ...check, outcome: 'pass' });
    expectExactlyOnce(check);
  }

  // Regression: after Redis came back empty, a partition that got no new pattern event stayed empty in Redis.
  // So the feed stops as soon as Redis is back: every partition must be rebuilt without new traffic.
  it('a Redis restart: the read model is rebuilt, nothing lost or doubled, even for partitions without new events', async () => {
    const before = await pipeline.patternEventsProduced();
    const restarts = Object.fromEntries(STAGES.map((stage) => [stage, pipeline.restarts(stage)]));
    await pipeline.startFeed();
    await waitFor('pattern events to flow', async () => (await pipeline.patternEventsProduced()) >= before + scaled(40, 10), 300_000);
    await stopRedis();
    const down = await pipeline.patternEventsProduced();
    await waitFor(
      'pattern events produced while Redis is down',
      async () => (await pipeline.patternEventsProduced()) >= down + scaled(10, 3),
      300_000,
    );
    await pipeline.stopFeed();
    await startRedis();
    const check = await pipeline.settleAndCheck();
    const stageRestarts = STAGES.map((stage) => `${stage}:${pipeline.restarts(stage) - restarts[stage]!}`);
    recordFigure({
      suite: 'faults',
      case: 'Redis restart (shutdown nosave, start; feed stopped before Redis returns)',
      eventsWhileDown: (await pipeline.patternEventsProduced()) - down,
      stageRestarts,
      ...check,
      outcome: 'pass',
    });
    expectExactlyOnce(check);
  });

  it('PostgreSQL connections killed (pg_terminate_backend on the pipeline database)', async () => {
    await underFault('PostgreSQL connections killed', async () => {
      const killed = await killPostgresConnections(pipeline.database.name);
      return { connectionsKilled: killed };
    });
  });

  it('a PostgreSQL restart', async () => {
    await underFault('PostgreSQL restart (pg_ctlcluster restart)', async () => {
      await restartPostgres();
      return {};
    });
  });

  // Found by this case: the processors stopped for good after a broker restart (fixed in 18cd4c7).
  it('a Kafka broker restart (with the registry)', async () => {
    await underFault('Kafka broker restart (LocalStack down/up)', async () => {
      const started = Date.now();
      await restartKafka(() => {});
      return { downtimeMs: Date.now() - started };
    });
  });
});
