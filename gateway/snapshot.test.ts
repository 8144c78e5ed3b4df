import { describe, expect, it } from 'vitest';
import { bar, minuteBars, patternEvents } from '../test/record-fixtures.js';
import { foldBar, patternState, type PatternState } from '../contracts/redis-model.js';
import { frameValidator } from './contract.js';
import { compileFilter } from './filter.js';
import { barSnapshotItem, patternSnapshotItems, snapshotFromRecords } from './snapshot.js';

const serverFrameProblem = frameValidator('send');
const snapshotFrame = (items: unknown[]) => ({ type: 'snapshot', id: 's', cursor: 'c1.x', source: 'kafka', items });

describe('snapshot items', () => {
  it('fold pattern events into one state per active pattern, in the documented shape', () => {
    const events = patternEvents(200, 3);
    const items = snapshotFromRecords(
      'patterns',
      events.map((value) => ({ key: value.symbol, data: value })),
      compileFilter({}),
      5_000,
    );
    const last = new Map<string, (typeof events)[number]>();
    for (const value of events) last.set(value.patternId, value);
    const active = [...last.values()].filter((value) => value.kind !== 'EXPIRED');
    expect(active.length).toBeGreaterThan(0);
    expect(active.length).toBeLessThan(last.size);
    expect(items.map((item) => item.data.patternId).sort()).toEqual(active.map((value) => value.patternId).sort());
    for (const item of items)
      expect(item).toEqual({
        key: item.data.symbol,
        ts: item.data.detectedAtMs,
        data: patternState(last.get(item.data.patternId as string)!),
      });
    expect(items.map((item) => item.ts)).toEqual(items.map((item) => item.ts).sort((a, b) => a - b));
    expect(serverFrameProblem(snapshotFrame(items))).toBeUndefined();
  });

  it('filter states by symbol, pattern, tier and the kind of their last event, and keep the newest maxItems', () => {
    const events = patternEvents(300, 4);
    const states = new Map<string, PatternState>();
    for (const value of events) states.set(value.patternId, patternState(value));
    const all = patternSnapshotItems(states.values(), compileFilter({}), 5_000);
    const some = all[0]!.data as unknown as PatternState;
    const filtered = patternSnapshotItems(
      states.values(),
      compileFilter({ symbols: [some.symbol], patterns: [some.pattern], tiers: [some.tier], kinds: [some.lastKind] }),
      5_000,
    );
    expect(filtered.length).toBeGreaterThan(0);
    expect(
      filtered.every(
        ({ data }) =>
          data.symbol === some.symbol && data.pattern === some.pattern && data.tier === some.tier && data.lastKind === some.lastKind,
      ),
    ).toBe(true);
    expect(patternSnapshotItems(states.values(), compileFilter({}), 3)).toEqual(all.slice(-3));
  });

  it('fold bars into one snapshot per symbol, in the documented shape', () => {
    const bars = [...minuteBars(['AAPL', 'MSFT'], 5), bar('AAPL', 'MINUTE', 0, 60_000, 1, 2, 3)];
    const items = snapshotFromRecords(
      'bars',
      bars.map((value) => ({ key: value.symbol, data: value })),
      compileFilter({ symbols: ['AAPL'] }),
      5_000,
    );
    const expected = minuteBars(['AAPL', 'MSFT'], 5)
      .filter((value) => value.symbol === 'AAPL')
      .reduce(foldBar, {});
    // An older bar arriving late does not overwrite the newer one.
    expect(items).toEqual([barSnapshotItem('AAPL', expected)]);
    expect(items[0]).toMatchObject({ key: 'AAPL', ts: expected.barStartMs, data: { symbol: 'AAPL', close: expected.close } });
    expect(serverFrameProblem(snapshotFrame(items))).toBeUndefined();
    expect(barSnapshotItem('XOM', { dailyStartMs: 5, dailyClose: 1 })).toEqual({
      key: 'XOM',
      ts: 5,
      data: { symbol: 'XOM', dailyStartMs: 5, dailyClose: 1 },
    });
    expect(barSnapshotItem('XOM', {}).ts).toBe(0);
  });
});
