import { describe, expect, it } from 'vitest';
import { bar, patternEvents } from '../test/record-fixtures.js';
import { redisKeys } from './redis-keys.js';
import {
  EXPIRED_PATTERN_TTL_SECONDS,
  foldBar,
  parseSnapshot,
  patternState,
  patternWrites,
  snapshotFields,
  type RedisWrite,
  type SymbolSnapshot,
} from './redis-model.js';
import type { PatternEventValue } from './values.js';

const keys = redisKeys('u:');

/** Applies writes to an in-memory model of the few Redis structures used, to check their combined effect. */
function applyWrites(writes: readonly RedisWrite[]) {
  const strings = new Map<string, { value: string; ttl?: number }>();
  const sets = new Map<string, Map<string, number>>();
  for (const write of writes) {
    const set = sets.get(write.key) ?? new Map<string, number>();
    if (write.op === 'set') strings.set(write.key, { value: write.value, ttl: write.ttlSeconds });
    if (write.op === 'zadd') sets.set(write.key, set.set(write.member, write.score));
    if (write.op === 'zrem') set.delete(write.member);
    if (write.op === 'ztrim') {
      const sorted = [...set.entries()].sort((a, b) => a[1] - b[1] || (a[0] < b[0] ? -1 : 1));
      sets.set(write.key, new Map(sorted.slice(Math.max(0, sorted.length - write.keep))));
    }
  }
  return { strings, sets };
}

describe('patternWrites', () => {
  const detected = patternEvents(1, 5)[0]!;
  const updated: PatternEventValue = { ...detected, kind: 'UPDATED', eventId: `${detected.patternId}:UPDATED`, confidence: 0.91 };
  const expired: PatternEventValue = { ...updated, kind: 'EXPIRED', eventId: `${detected.patternId}:EXPIRED` };

  it('puts an active pattern in its eight scan sets, scored by confidence or detection time', () => {
    const { strings, sets } = applyWrites(patternWrites(keys, [detected, updated]));
    expect(JSON.parse(strings.get(keys.pattern(detected.patternId))!.value)).toMatchObject({
      status: 'active',
      confidence: 0.91,
      lastKind: 'UPDATED',
    });
    expect(sets.get(keys.scan({ kind: 'all' }, 'confidence'))!.get(detected.patternId)).toBe(0.91);
    expect(sets.get(keys.scan({ kind: 'pattern', pattern: detected.pattern }, 'detected_at'))!.get(detected.patternId)).toBe(
      detected.detectedAtMs,
    );
    expect(sets.get(keys.symbolEvents(detected.symbol))!.size).toBe(2);
  });

  it('removes an expired pattern from the scans and keeps its state for a while', () => {
    const { strings, sets } = applyWrites(patternWrites(keys, [detected, updated, expired]));
    for (const key of keys.scanKeysFor(detected.pattern, 'daily')) expect(sets.get(key)?.has(detected.patternId) ?? false).toBe(false);
    const state = strings.get(keys.pattern(detected.patternId))!;
    expect(state.ttl).toBe(EXPIRED_PATTERN_TTL_SECONDS);
    expect(JSON.parse(state.value).status).toBe('expired');
  });

  it('is idempotent: replaying the same events gives the same model', () => {
    const events = patternEvents(120, 6);
    const once = applyWrites(patternWrites(keys, events));
    const twice = applyWrites([...patternWrites(keys, events), ...patternWrites(keys, events)]);
    expect(twice.sets).toEqual(once.sets);
    expect(twice.strings).toEqual(once.strings);
  });

  it('keeps only the latest events per symbol', () => {
    const events = Array.from({ length: 60 }, (_, index): PatternEventValue => ({
      ...detected,
      eventId: `e${index}`,
      detectedAtMs: detected.detectedAtMs + index,
    }));
    const { sets } = applyWrites(patternWrites(keys, events));
    const latest = sets.get(keys.symbolEvents(detected.symbol))!;
    expect(latest.size).toBe(50);
    expect(Math.min(...latest.values())).toBe(detected.detectedAtMs + 10);
  });

  it('describes the state of a pattern', () => {
    expect(patternState(expired)).toMatchObject({ patternId: detected.patternId, status: 'expired', lastEventId: expired.eventId });
  });
});

describe('symbol snapshots', () => {
  const day = (n: number) => Date.UTC(2026, 10, n, 5);
  const minute = (n: number, hour: number) => Date.UTC(2026, 10, n, hour, 30);

  it('takes the last minute bar and computes the change against the previous session close', () => {
    let snapshot: SymbolSnapshot = {};
    snapshot = foldBar(snapshot, bar('AAPL', 'DAY', day(20), 86_400_000, 90, 100, 1e6));
    expect(snapshot).toMatchObject({ price: 100, dailyClose: 100 });
    expect(snapshot.change).toBeUndefined();
    snapshot = foldBar(snapshot, bar('AAPL', 'MINUTE', minute(21, 14), 60_000, 101, 105, 10));
    expect(snapshot).toMatchObject({ close: 105, price: 105, previousClose: 100, change: 5, changePct: 5 });
    // The same session's daily bar arrives: the previous close stays that of the day before.
    snapshot = foldBar(snapshot, bar('AAPL', 'DAY', day(21), 86_400_000, 101, 104, 1e6));
    expect(snapshot).toMatchObject({ price: 105, previousClose: 100, previousDailyClose: 100, dailyClose: 104 });
    // Next day: the latest daily close becomes the previous close.
    snapshot = foldBar(snapshot, bar('AAPL', 'MINUTE', minute(22, 14), 60_000, 104, 102, 10));
    expect(snapshot).toMatchObject({ price: 102, previousClose: 104, change: -2 });
  });

  it('ignores older minute bars and slots a backfilled session between the known ones', () => {
    let snapshot = foldBar({}, bar('AAPL', 'MINUTE', minute(21, 15), 60_000, 10, 11, 1));
    const unchanged = foldBar(snapshot, bar('AAPL', 'MINUTE', minute(21, 14), 60_000, 50, 50, 1));
    expect(unchanged).toBe(snapshot);
    snapshot = foldBar(snapshot, bar('AAPL', 'DAY', day(20), 86_400_000, 9, 10, 1));
    snapshot = foldBar(snapshot, bar('AAPL', 'DAY', day(17), 86_400_000, 8, 8, 1));
    expect(snapshot).toMatchObject({ dailyClose: 10, previousDailyClose: 8, previousClose: 10 });
    snapshot = foldBar(snapshot, bar('AAPL', 'DAY', day(18), 86_400_000, 8, 9, 1));
    expect(snapshot).toMatchObject({ previousDailyClose: 9 });
    const second = foldBar(snapshot, { ...bar('AAPL', 'MINUTE', minute(21, 16), 1000, 1, 1, 1), interval: 'SECOND' });
    expect(second).toBe(snapshot);
    expect(foldBar({ dailyStartMs: day(20), dailyClose: 0 }, bar('AAPL', 'MINUTE', minute(21, 15), 60_000, 1, 2, 1)).changePct).toBe(0);
  });

  it("does not let a bar stamped a year ahead hide the symbol's later bars (issue 18 item 14 sibling)", () => {
    const snapshot = foldBar({}, bar('AAPL', 'MINUTE', minute(21, 15), 60_000, 10, 11, 1));
    const yearAhead = bar('AAPL', 'MINUTE', minute(21, 15) + 365 * 86_400_000, 60_000, 90, 90, 1);
    expect(foldBar(snapshot, { ...yearAhead, ingestedAtMs: minute(21, 15) + 61_000 })).toBe(snapshot);
    const next = foldBar(snapshot, bar('AAPL', 'MINUTE', minute(21, 16), 60_000, 11, 12, 1));
    expect(next).toMatchObject({ close: 12 });
    // After a long pause, a bar that ingest read at its own time is folded.
    expect(foldBar(snapshot, yearAhead)).toMatchObject({ close: 90 });
    const daily = foldBar({}, bar('AAPL', 'DAY', day(20), 86_400_000, 9, 10, 1));
    expect(foldBar(daily, { ...bar('AAPL', 'DAY', day(20) + 365 * 86_400_000, 86_400_000, 9, 99, 1), ingestedAtMs: day(21) })).toBe(daily);
  });

  it('round-trips through the Redis hash fields', () => {
    const snapshot = foldBar({}, { ...bar('AAPL', 'MINUTE', minute(21, 15), 60_000, 10, 11, 1), accumulatedVolume: 500 });
    expect(parseSnapshot(snapshotFields(snapshot))).toEqual(snapshot);
    expect(parseSnapshot({ close: 'abc', open: '2' })).toEqual({ open: 2 });
    expect(foldBar(snapshot, { ...bar('AAPL', 'MINUTE', minute(21, 16), 60_000, 10, 11, 1), vwap: null }).vwap).toBeUndefined();
  });
});
