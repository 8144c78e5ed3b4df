import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectExactlyOnce } from './assertions.js';
import { scaled } from './config.js';
import { recordFigure } from './figures.js';
import { ChaosPipeline, waitFor } from './pipeline.js';

/**
 * Issue 21, item 4: two instances of every stage against the same Kafka at once. The processors and the projector
 * share the input partitions through their groups, ingest runs active/standby under its lease, the gateway client
 * fails over between two gateways with its cursor, API calls alternate between two APIs. One instance of each is
 * killed (SIGKILL) mid-stream, one after the other; the same independent readers as the rest of the suite (topic,
 * tables, Redis, the client's stream) and the API's own answers then hold every pattern event exactly once.
 */
describe('two instances of every stage, one of each killed mid-stream', () => {
  let pipeline: ChaosPipeline;

  beforeAll(async () => {
    pipeline = await ChaosPipeline.create('chaos-scale', { instances: { ingest: 2, processors: 2, projector: 2, gateway: 2, api: 2 } });
    await pipeline.start();
    pipeline.startApiTraffic();
  });

  afterAll(async () => {
    await pipeline?.stop();
  });

  it('shares the partitions: both processors hold some, both projectors are in every projection group', async () => {
    await pipeline.startFeed();
    await waitFor('pattern events', async () => (await pipeline.patternEventsProduced()) >= scaled(40, 10), 300_000);
    await waitFor(
      'both processors holding partitions',
      async () => (await pipeline.groupMembers(pipeline.processorGroup)).withPartitions === 2,
      120_000,
    );
    const projections = await pipeline.projectorGroups();
    expect(projections.length).toBeGreaterThan(0);
    for (const group of projections)
      await waitFor(`both projectors in ${group}`, async () => (await pipeline.groupMembers(group)).members === 2, 120_000);
    // The groups of the symbol-keyed topics (6 partitions) have both projectors holding some; a one-partition topic's cannot.
    const holding = await Promise.all(projections.map(async (group) => (await pipeline.groupMembers(group)).withPartitions));
    expect(Math.max(...holding)).toBe(2);
    expect(await pipeline.activeIngest()).toBeDefined();
  });

  it('kill -9 of one instance of each stage in turn: lost = 0 and duplicated = 0 for every reader', async () => {
    let produced = await pipeline.patternEventsProduced();
    const killed: string[] = [];
    const victims: (() => Promise<string | undefined>)[] = [
      () => pipeline.activeIngest(),
      async () => 'processors-2',
      async () => 'projector-2',
      async () => pipeline.gatewayOfClient,
      async () => 'api-2',
    ];
    for (const victim of victims) {
      const name = await victim();
      if (name === undefined) throw new Error('no instance to kill');
      await pipeline.kill(name);
      killed.push(name);
      const after = produced;
      await waitFor(
        `pattern events after killing ${name}`,
        async () => (await pipeline.patternEventsProduced()) >= after + scaled(20, 5),
        300_000,
      );
      produced = await pipeline.patternEventsProduced();
    }
    await pipeline.stopFeed();
    const check = await pipeline.settleAndCheck();
    recordFigure({ suite: 'scale-out', case: `two of each, kill -9 of ${killed.join(', ')}`, ...check, outcome: 'pass' });
    expectExactlyOnce(check);
    expect(check.apiPatternsChecked).toBeGreaterThan(0);
  });
});
