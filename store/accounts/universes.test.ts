import { describe, expect, it } from 'vitest';
import { BUILTIN_UNIVERSES, findBuiltinUniverse, SYMBOL_PATTERN } from '../../contracts/universes.js';
import type { Queryable } from '../queryable.js';
import { resolveUniverse } from './universes.js';

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
    expect(await resolveUniverse(undefined, 'user-1', 'mine')).toBeUndefined();
    expect((await resolveUniverse(undefined, 'user-1', 'sector_etfs'))?.category).toBe('builtin');
    expect(await resolveUniverse(db, 'user-1', 'Bad Key!')).toBeUndefined();
    expect(await resolveUniverse(db, 'user-1', 'mine')).toBeUndefined();
    expect(db.calls).toEqual([['user-1', 'mine']]);
  });
});
