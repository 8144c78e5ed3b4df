import { describe, expect, it } from 'vitest';
import { parseProjectionNotice } from './redis-keys.js';
import {
  bandPosition,
  batchScopes,
  changeScopes,
  hourOf,
  hourScopes,
  rangeScopes,
  sortedBeforeScopes,
  type BandedSort,
  type PatternChange,
} from './pattern-scopes.js';

const change = (extra: Partial<PatternChange> = {}): PatternChange => ({
  tier: 'DAILY',
  confidence: 0.5,
  relativeStrength: 1.2,
  volume: 10_000,
  detectedAt: 7_200_000,
  ...extra,
});

/** A deterministic pseudo-random sequence, so the property check is reproducible. */
function* lcg(seed: number): Generator<number> {
  let state = seed;
  for (;;) {
    state = (state * 1_103_515_245 + 12_345) % 2_147_483_648;
    yield state / 2_147_483_648;
  }
}

describe('pattern scopes', () => {
  it('position sort values monotonically in 0..999', () => {
    expect(bandPosition('confidence', 0)).toBe(0);
    expect(bandPosition('confidence', 0.999)).toBe(999);
    expect(bandPosition('confidence', 1)).toBe(999);
    expect(bandPosition('rs', 1.15)).toBe(114);
    expect(bandPosition('rs', 42)).toBe(999);
    expect(bandPosition('rs', -1)).toBe(0);
    expect(bandPosition('volume', 0)).toBe(0);
    expect(bandPosition('volume', 1000)).toBe(300);
    expect(bandPosition('volume', 1e12)).toBe(999);
  });

  it('name for a change its tier, its hour, and three blocks per sort value (or the null scope)', () => {
    expect(changeScopes(change())).toEqual([
      'daily:any',
      'daily:detected_at:2',
      'daily:confidence:100:5',
      'daily:confidence:10:50',
      'daily:confidence:1:500',
      'daily:rs:100:1',
      'daily:rs:10:12',
      'daily:rs:1:120',
      'daily:volume:100:4',
      'daily:volume:10:40',
      'daily:volume:1:400',
    ]);
    expect(changeScopes(change({ relativeStrength: null, volume: Number.NaN }))).toEqual(
      expect.arrayContaining(['daily:rs:null', 'daily:volume:null']),
    );
    expect(() => changeScopes(change({ tier: 'WEEKLY' }))).toThrow(RangeError);
    expect(batchScopes([change(), change({ confidence: 0.51 })]).filter((scope) => scope === 'daily:any')).toHaveLength(1);
  });

  it('cover a range with the fewest aligned blocks', () => {
    expect(rangeScopes('daily', 'confidence', 997, 999)).toEqual([
      'daily:confidence:1:997',
      'daily:confidence:1:998',
      'daily:confidence:1:999',
    ]);
    expect(rangeScopes('daily', 'confidence', 880, 999)).toEqual([
      'daily:confidence:10:88',
      'daily:confidence:10:89',
      'daily:confidence:100:9',
    ]);
    expect(rangeScopes('daily', 'confidence', 0, 999)).toHaveLength(10);
    expect(rangeScopes('daily', 'confidence', 123, 999).length).toBeLessThanOrEqual(27);
    expect(rangeScopes('daily', 'confidence', 5, 4)).toEqual([]);
  });

  it("a change falls in the scopes sorted before a boundary exactly when its band is at or before the boundary's", () => {
    const random = lcg(7);
    const next = () => random.next().value as number;
    const scale: Record<BandedSort, number> = { confidence: 1, rs: 3, volume: 1e7 };
    for (let i = 0; i < 2000; i += 1) {
      const sort = (['confidence', 'rs', 'volume'] as const)[i % 3]!;
      const descending = i % 2 === 0;
      const boundary = next() * scale[sort];
      const value = next() * scale[sort];
      const state = change({
        confidence: sort === 'confidence' ? value : 0.5,
        relativeStrength: sort === 'rs' ? value : 1,
        volume: sort === 'volume' ? value : 1,
      });
      const scopes = new Set(sortedBeforeScopes('daily', sort, descending, boundary));
      const falls = changeScopes(state).some((scope) => scope.startsWith(`daily:${sort}:`) && scopes.has(scope));
      const [at, bound] = [bandPosition(sort, value), bandPosition(sort, boundary)];
      expect(falls, `${sort} ${descending ? 'desc' : 'asc'} value ${value} boundary ${boundary}`).toBe(
        descending ? at >= bound : at <= bound,
      );
      if (descending ? value >= boundary : value <= boundary) expect(falls).toBe(true);
    }
    expect(sortedBeforeScopes('daily', 'rs', true, null)).toBeUndefined();
    expect(sortedBeforeScopes('daily', 'rs', false, 0.5)).toContain('daily:rs:null');
  });

  it('list hours up to a limit', () => {
    expect(hourOf(7_200_000)).toBe(2);
    expect(hourScopes('combo', 2, 3)).toEqual(['combo:detected_at:2', 'combo:detected_at:3']);
    expect(hourScopes('combo', 0, 100)).toBeUndefined();
  });

  it('travel in the projection notice', () => {
    expect(
      parseProjectionNotice(
        JSON.stringify({ projection: 'db.patterns', version: 1, symbols: [], patternsChanged: true, scopes: ['daily:any'] }),
      ).scopes,
    ).toEqual(['daily:any']);
    expect(
      parseProjectionNotice(JSON.stringify({ projection: 'db.patterns', version: 1, symbols: [], patternsChanged: true, scopes: [1] }))
        .scopes,
    ).toBeUndefined();
  });
});
