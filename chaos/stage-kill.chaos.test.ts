import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scaled } from './config.js';
import { recordFigure } from './figures.js';
import { leakedSecrets } from '../test/log-capture.js';
import { expectExactlyOnce } from './assertions.js';
import { ChaosPipeline, waitFor, type StageName } from './pipeline.js';

describe('kill -9 of each stage mid-stream, with restart', () => {
  let pipeline: ChaosPipeline;

  beforeAll(async () => {
    pipeline = await ChaosPipeline.create('chaos-kill');
    await pipeline.start();
  });

  afterAll(async () => {
    await pipeline?.stop();
  });

  it('baseline: without faults every reader holds every pattern event exactly once', async () => {
    await pipeline.startFeed();
    await waitFor('pattern events', async () => (await pipeline.patternEventsProduced()) >= scaled(100, 20), 300_000);
    await pipeline.stopFeed();
    const check = await pipeline.settleAndCheck();
    recordFigure({ suite: 'faults', case: 'baseline (no fault)', ...check, outcome: 'pass' });
    expectExactlyOnce(check);
  });

  for (const stage of ['ingest', 'processors', 'projector', 'gateway'] as const satisfies readonly StageName[]) {
    it(`SIGKILL of ${stage} mid-stream: after its restart every reader holds every event exactly once`, async () => {
      const before = await pipeline.patternEventsProduced();
      await pipeline.startFeed();
      await waitFor('pattern events to flow', async () => (await pipeline.patternEventsProduced()) >= before + scaled(40, 10), 300_000);
      const restartsBefore = pipeline.restarts(stage);
      await pipeline.kill(stage);
      await waitFor(
        'more pattern events after the restart',
        async () => (await pipeline.patternEventsProduced()) >= before + scaled(80, 20),
        300_000,
      );
      await pipeline.stopFeed();
      const check = await pipeline.settleAndCheck();
      recordFigure({
        suite: 'faults',
        case: `kill -9 ${stage}`,
        restarts: pipeline.restarts(stage) - restartsBefore,
        ...check,
        outcome: 'pass',
      });
      expect(pipeline.restarts(stage)).toBe(restartsBefore + 1);
      expectExactlyOnce(check);
    });
  }

  it('never logs the secrets it was given (JWT secret, feed key, access token)', () => {
    expect(pipeline.lines.length).toBeGreaterThan(0);
    expect(leakedSecrets(pipeline.lines.join('\n'), pipeline.secrets)).toEqual([]);
    recordFigure({
      suite: 'security',
      case: 'stage logs (ingest, processors, projector, gateway) searched for secrets',
      lines: pipeline.lines.length,
      secretsSearched: pipeline.secrets.length,
      leaked: 0,
      outcome: 'pass',
    });
  });
});
