import { describe, expect, it } from 'vitest';
import { normaliseSymbols } from '../contracts/universes.js';
import { CriteriaSchema, jsonDepth, MAX_CRITERIA_DEPTH, UniverseInputSchema } from './universes.js';

describe('universe input', () => {
  it('normalises symbols and applies defaults', () => {
    const parsed = UniverseInputSchema.parse({ key: 'tech', name: ' Tech ', symbols: ['aapl', 'msft'] });
    expect(parsed).toEqual({ key: 'tech', name: 'Tech', description: '', kind: 'watchlist', symbols: ['AAPL', 'MSFT'], criteria: {} });
    expect(normaliseSymbols(['msft', 'AAPL', 'aapl', ' '])).toEqual(['AAPL', 'MSFT']);
  });

  it('rejects bad keys, tickers and unknown fields', () => {
    expect(UniverseInputSchema.safeParse({ key: 'Tech!', name: 'x', symbols: [] }).success).toBe(false);
    expect(UniverseInputSchema.safeParse({ key: 'tech', name: 'x', symbols: ['not a ticker'] }).success).toBe(false);
    expect(UniverseInputSchema.safeParse({ key: 'tech', name: 'x', symbols: [], owner: 'someone-else' }).success).toBe(false);
  });
});

describe('criteria depth', () => {
  const nested = (levels: number): unknown => {
    let value: unknown = 1;
    for (let i = 0; i < levels; i += 1) value = i % 2 === 0 ? { a: value } : [value];
    return value;
  };

  it('measures nesting without recursion, stopping past the limit', () => {
    expect(jsonDepth(1, 8)).toBe(0);
    expect(jsonDepth({}, 8)).toBe(1);
    expect(jsonDepth({ a: [1, { b: null }], c: 'x' }, 8)).toBe(3);
    expect(jsonDepth(nested(7), 8)).toBe(7);
    expect(jsonDepth(nested(100_000), 8)).toBe(9);
  });

  it(`accepts criteria nested up to ${MAX_CRITERIA_DEPTH} levels and refuses deeper`, () => {
    expect(CriteriaSchema.safeParse({ confidence_min: 0.6, pattern_types: ['doji'] }).success).toBe(true);
    expect(CriteriaSchema.safeParse({ top: nested(MAX_CRITERIA_DEPTH - 1) }).success).toBe(true);
    expect(CriteriaSchema.safeParse({ deep: nested(MAX_CRITERIA_DEPTH) }).success).toBe(false);
    expect(
      UniverseInputSchema.safeParse({ key: 'k', name: 'n', symbols: [], criteria: { deep: nested(5000) } }).error?.issues[0]?.path,
    ).toEqual(['criteria']);
  });
});
