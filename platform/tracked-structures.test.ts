import { describe, expect, it } from 'vitest';
import { createMetricsRegistry } from './metrics.js';
import { overCap, readTrackedStructures, trackStructures } from './tracked-structures.js';

describe('tracked structures', () => {
  it('exposes entries and caps on /metrics, reads them back, and names those over their cap', async () => {
    const registry = createMetricsRegistry('test', { collectDefaults: false });
    const held = new Map<string, number>();
    let partitions = 2;
    trackStructures(registry, [{ name: 'test.window', entries: () => held.size, cap: 3 }]);
    trackStructures(registry, [
      { name: 'test.per-partition', entries: () => 7, cap: () => partitions * 4 },
      { name: 'test.unbounded-by-cap', entries: () => 9, cap: Number.POSITIVE_INFINITY },
    ]);
    held.set('a', 1);
    let readings = readTrackedStructures(await registry.metrics());
    expect(readings).toEqual([
      { structure: 'test.window', entries: 1, cap: 3 },
      { structure: 'test.per-partition', entries: 7, cap: 8 },
      { structure: 'test.unbounded-by-cap', entries: 9, cap: undefined },
    ]);
    expect(overCap(readings)).toEqual([]);
    for (const key of ['b', 'c', 'd']) held.set(key, 1);
    partitions = 1;
    readings = readTrackedStructures(await registry.metrics());
    expect(overCap(readings).map((reading) => reading.structure)).toEqual(['test.window', 'test.per-partition']);
  });
});
