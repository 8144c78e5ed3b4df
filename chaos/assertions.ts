import { expect } from 'vitest';
import type { PipelineCheck } from './pipeline.js';

/** Every reader holds every event of the pattern topic exactly once, and the topic itself has no duplicate. */
export function expectExactlyOnce(check: PipelineCheck): void {
  expect(check.topicEvents).toBeGreaterThan(0);
  expect(check).toMatchObject({
    topicDuplicates: 0,
    tableMissing: 0,
    tableDuplicates: 0,
    tableExtra: 0,
    redisMissing: 0,
    redisDuplicates: 0,
    redisExtra: 0,
    clientMissing: 0,
    clientDuplicates: 0,
    clientOutOfOrder: 0,
    clientMismatched: 0,
    apiMissing: 0,
    apiDuplicates: 0,
    apiExtra: 0,
    apiFailed: 0,
  });
}
