import { describe, expect, it } from 'vitest';
import {
  BUILTIN_UNIVERSES,
  CriteriaSchema,
  findBuiltinUniverse,
  jsonDepth,
  MAX_CRITERIA_DEPTH,
  normaliseSymbols,
  resolveUniverse,
  SYMBOL_PATTERN,
  UniverseInputSchema,
  type Queryable,
} from './universes.js';

function fakeDb(rows: Record<string, unknown>[]): Queryable & { calls: unknown[][] } {
  const calls: unknown[][] = [];
  return {
    calls,
    query: async <Row extends object>(_text: string, values?: unknown[]) => {
      calls.push(values ?? []);
      return { rows: rows as Row[], rowCount: rows.length };
    },
  };
}

describe('built-in universes', () => {
  it('cover market leaders, sector ETFs and index ETFs with valid tickers', () => {
    expect(BUILTIN_UNIVERSES.map((universe) => universe.key)).toEqual(['market_leaders', 'sector_etfs', 'index_etfs']);
    expect(findBuiltinUniverse('market_leaders')?.symbols).toHaveLength(50);
    expect(findBuiltinUniverse('sector_etfs')?.symbols).toContain('XLK');
    expect(findBuiltinUniverse('index_etfs')?.symbols).toEqual(['SPY', 'QQQ', 'IWM', 'DIA']);
    for (const universe of BUILTIN_UNIVERSES) {
      expect(new Set(universe.symbols).size).toBe(universe.symbols.length);
      for (const symbol of universe.symbols) expect(symbol).toMatch(SYMBOL_PATTERN);
    }
  });
});

describe('resolveUniverse', () => {
  it('resolves built-ins without a query', async () => {
    const db = fakeDb([]);
    expect((await resolveUniverse(db, undefined, 'index_etfs'))?.category).toBe('builtin');
    expect(db.calls).toHaveLength(0);
  });

  it('reads a user universe scoped by the user id', async () => {
    const db = fakeDb([{ key: 'mine', name: 'Mine', description: '', kind: 'watchlist', symbols: ['AAPL'], criteria: {} }]);
    const universe = await resolveUniverse(db, 'user-1', 'mine');
    expect(universe).toMatchObject({ key: 'mine', category: 'user', symbols: ['AAPL'] });
    expect(db.calls).toEqual([['user-1', 'mine']]);
  });

  it('resolves nothing for anonymous callers, bad keys or missing rows', async () => {
    const db = fakeDb([]);
    expect(await resolveUniverse(db, undefined, 'mine')).toBeUndefined();
    expect(await resolveUniverse(db, 'user-1', 'Bad Key!')).toBeUndefined();
    expect(await resolveUniverse(db, 'user-1', 'mine')).toBeUndefined();
    expect(db.calls).toEqual([['user-1', 'mine']]);
  });
});

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
