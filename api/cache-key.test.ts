import { describe, expect, it } from 'vitest';
import { changeScopes, HOUR_MS, type PatternChange } from '../contracts/pattern-scopes.js';
import { redisKeys } from '../contracts/redis-keys.js';
import {
  broadScanDependencies,
  broadScanGuard,
  MAX_SYMBOL_SCOPED_VERSIONS,
  scanCacheKey,
  scanScope,
  statsCacheKey,
  symbolCacheKey,
  symbolVersionKeys,
  versionEtag,
  versionKeysChangedBy,
  versionStamp,
} from './cache-key.js';
import { normaliseScanQuery, type PatternView, type ScanParameters } from './scan.js';

const defaults: ScanParameters = {
  timeframe: 'all',
  status: 'active',
  confidence_min: 0.5,
  sort_by: 'confidence',
  sort_order: 'desc',
  page: 1,
  per_page: 30,
};
const keys = redisKeys('t:');

describe('scan cache keys', () => {
  it('are equal for equal normalised queries and differ otherwise', () => {
    const a = normaliseScanQuery({ ...defaults, symbols: ['MSFT', 'aapl'] }, undefined);
    const b = normaliseScanQuery({ ...defaults, symbols: ['AAPL', 'MSFT'] }, undefined);
    const c = normaliseScanQuery({ ...defaults, symbols: ['AAPL', 'MSFT'], per_page: 31 }, undefined);
    expect(scanCacheKey('api:', a)).toBe(scanCacheKey('api:', b));
    expect(scanCacheKey('api:', a)).not.toBe(scanCacheKey('api:', c));
    expect(scanCacheKey('api:', a).startsWith('api:c3:scan:')).toBe(true);
  });

  it('a user universe and the same symbols listed by hand share an entry', () => {
    const byUniverse = normaliseScanQuery(defaults, ['MSFT', 'AAPL']);
    const byHand = normaliseScanQuery({ ...defaults, symbols: ['AAPL', 'MSFT'] }, undefined);
    expect(scanCacheKey('', byUniverse)).toBe(scanCacheKey('', byHand));
  });
});

describe('scopes', () => {
  it('are the symbols for few symbols, else the patterns', () => {
    const few = normaliseScanQuery({ ...defaults, symbols: ['AAPL', 'MSFT'] }, undefined);
    expect(scanScope(few)).toEqual({ kind: 'symbols', symbols: ['AAPL', 'MSFT'] });
    expect(symbolVersionKeys(['AAPL', 'MSFT'], keys)).toEqual([keys.symbolVersion('AAPL'), keys.symbolVersion('MSFT')]);
    const many = normaliseScanQuery(
      { ...defaults, symbols: Array.from({ length: MAX_SYMBOL_SCOPED_VERSIONS + 1 }, (_, i) => `S${i}`) },
      undefined,
    );
    expect(scanScope(many)).toEqual({ kind: 'patterns' });
    expect(scanScope(normaliseScanQuery(defaults, undefined))).toEqual({ kind: 'patterns' });
    expect(scanScope(normaliseScanQuery({ ...defaults, symbols: ['X'] }, ['Y']))).toEqual({ kind: 'patterns' });
  });
});

const T0 = Date.parse('2026-11-25T15:00:00Z');
const row = (symbol: string, confidence: number, extra: Partial<PatternView> = {}): PatternView => ({
  id: `${symbol}-${confidence}`,
  symbol,
  pattern: 'doji',
  definition_version: 1,
  tier: 'DAILY',
  direction: 'BULLISH',
  status: 'active',
  confidence,
  base_confidence: confidence,
  fundamental_adjustment: 0,
  fundamental_reasons: [],
  price: 100,
  change: 1,
  change_pct: 1,
  volume: 50_000,
  relative_strength: 1.2,
  relative_volume: 1,
  rsi: 50,
  levels: {},
  detected_at: new Date(T0 - 3_600_000).toISOString(),
  expires_at: new Date(T0 + 3_600_000).toISOString(),
  ...extra,
});
const change = (tier: string, confidence: number, extra: Partial<PatternChange> = {}): PatternChange => ({
  tier,
  confidence,
  relativeStrength: 1,
  volume: 1000,
  detectedAt: T0 - 86_400_000,
  ...extra,
});
/** Whether a change bumps one of these version keys (what the notifier does, seen from the cache). */
const touches = (dependencies: readonly string[], changed: PatternChange) =>
  changeScopes(changed).some((scope) => dependencies.includes(keys.patternScopeVersion(scope)));

describe('broad scan dependencies', () => {
  const daily = normaliseScanQuery({ ...defaults, timeframe: 'daily', per_page: 2 }, undefined);
  const capped = { rows: [row('AAPL', 0.95), row('MSFT', 0.9), row('XOM', 0.85)], leadingSymbols: [], totalCapped: true };

  it('guard on the unscoped version and the any scope of the selected tiers', () => {
    expect(broadScanGuard(daily, keys)).toEqual([keys.patternsUnscopedVersion(), keys.patternScopeVersion('daily:any')]);
    expect(broadScanGuard(normaliseScanQuery(defaults, undefined), keys)).toHaveLength(4);
  });

  it('of a capped page: the symbols on it and the bands a row would enter it through, in its tiers only', () => {
    const dependencies = broadScanDependencies(daily, capped, keys, T0);
    expect(dependencies).toContain(keys.patternsUnscopedVersion());
    for (const symbol of ['AAPL', 'MSFT', 'XOM']) expect(dependencies).toContain(keys.symbolVersion(symbol));
    expect(touches(dependencies, change('DAILY', 0.9))).toBe(true);
    expect(touches(dependencies, change('DAILY', 0.95))).toBe(true);
    expect(touches(dependencies, change('DAILY', 1))).toBe(true);
    expect(touches(dependencies, change('DAILY', 0.899))).toBe(false);
    expect(touches(dependencies, change('INTRADAY', 0.99))).toBe(false);
    expect(dependencies).not.toContain(keys.patternScopeVersion('daily:any'));
  });

  it('of offset pages include the symbols of the pages before; too deep or uncapped pages depend on whole tiers', () => {
    const second = normaliseScanQuery({ ...defaults, timeframe: 'daily', per_page: 2, page: 2 }, undefined);
    expect(broadScanDependencies(second, { ...capped, leadingSymbols: ['SPY'] }, keys, T0)).toContain(keys.symbolVersion('SPY'));
    const whole = [keys.patternsUnscopedVersion(), keys.patternScopeVersion('daily:any')];
    expect(broadScanDependencies(second, { ...capped, leadingSymbols: undefined }, keys, T0)).toEqual(whole);
    expect(broadScanDependencies(daily, { ...capped, totalCapped: false }, keys, T0)).toEqual(whole);
    expect(broadScanDependencies(daily, { rows: [], leadingSymbols: [], totalCapped: true }, keys, T0)).toEqual(whole);
  });

  it('follow the sort: ascending pages include the nulls, a null boundary or a symbol sort takes the whole tier', () => {
    const ascending = normaliseScanQuery({ ...defaults, timeframe: 'daily', per_page: 2, sort_by: 'rs', sort_order: 'asc' }, undefined);
    const rsPage = { ...capped, rows: [row('AAPL', 0.9, { relative_strength: 0.8 }), row('MSFT', 0.9, { relative_strength: 0.9 })] };
    const dependencies = broadScanDependencies(ascending, rsPage, keys, T0);
    expect(touches(dependencies, change('DAILY', 0.5, { relativeStrength: null }))).toBe(true);
    expect(touches(dependencies, change('DAILY', 0.5, { relativeStrength: 0.85 }))).toBe(true);
    expect(touches(dependencies, change('DAILY', 0.5, { relativeStrength: 0.91 }))).toBe(false);
    const nullBoundary = {
      ...capped,
      rows: [row('AAPL', 0.9, { relative_strength: null }), row('MSFT', 0.9, { relative_strength: null })],
    };
    const descendingRs = normaliseScanQuery({ ...defaults, timeframe: 'daily', per_page: 2, sort_by: 'rs' }, undefined);
    expect(broadScanDependencies(descendingRs, nullBoundary, keys, T0)).toContain(keys.patternScopeVersion('daily:any'));
    const bySymbol = normaliseScanQuery({ ...defaults, timeframe: 'daily', per_page: 2, sort_by: 'symbol', sort_order: 'asc' }, undefined);
    expect(broadScanDependencies(bySymbol, capped, keys, T0)).toContain(keys.patternScopeVersion('daily:any'));
    const volume = normaliseScanQuery({ ...defaults, timeframe: 'daily', per_page: 2, sort_by: 'volume' }, undefined);
    const byVolume = broadScanDependencies(volume, capped, keys, T0);
    expect(touches(byVolume, change('DAILY', 0.1, { volume: 60_000 }))).toBe(true);
    expect(touches(byVolume, change('DAILY', 0.1, { volume: 40_000 }))).toBe(false);
  });

  it('of newest-first pages: the hours from the last row up to the horizon; oldest-first pages take the whole tier', () => {
    const newest = normaliseScanQuery({ ...defaults, timeframe: 'daily', per_page: 2, sort_by: 'detected_at' }, undefined);
    const dependencies = broadScanDependencies(newest, capped, keys, T0 + 300_000);
    expect(touches(dependencies, change('DAILY', 0.1, { detectedAt: T0 - 3_600_000 }))).toBe(true);
    expect(touches(dependencies, change('DAILY', 0.1, { detectedAt: T0 + HOUR_MS }))).toBe(true);
    expect(touches(dependencies, change('DAILY', 0.1, { detectedAt: T0 - 3 * HOUR_MS }))).toBe(false);
    const oldest = normaliseScanQuery(
      { ...defaults, timeframe: 'daily', per_page: 2, sort_by: 'detected_at', sort_order: 'asc' },
      undefined,
    );
    expect(broadScanDependencies(oldest, capped, keys, T0)).toContain(keys.patternScopeVersion('daily:any'));
  });
});

describe('other keys, stamps and ETags', () => {
  it('are deterministic and distinct', () => {
    expect(symbolCacheKey('p:', 'BRK.B', 'bars', { b: 1, a: 2 })).toBe(symbolCacheKey('p:', 'BRK.B', 'bars', { a: 2, b: 1 }));
    expect(symbolCacheKey('p:', 'AAPL', 'detail')).not.toBe(symbolCacheKey('p:', 'AAPL', 'bars'));
    expect(statsCacheKey('p:', 'stats', { hours: 24 })).not.toBe(statsCacheKey('p:', 'stats', { hours: 48 }));
    expect(versionStamp(['3', null, '7'])).toBe('3.0.7');
    expect(versionEtag('k', '1')).toBe(versionEtag('k', '1'));
    expect(versionEtag('k', '1')).not.toBe(versionEtag('k', '2'));
    expect(versionEtag('k', '1')).toMatch(/^W\/"[A-Za-z0-9_-]+"$/);
  });
});

describe('versionKeysChangedBy', () => {
  it('lists the symbol versions and, when patterns changed, the patterns version', () => {
    expect(versionKeysChangedBy({ projection: 'db.bars', version: 3, symbols: ['AAPL'], patternsChanged: false }, keys)).toEqual(
      new Set([keys.symbolVersion('AAPL')]),
    );
    expect(versionKeysChangedBy({ projection: 'db.patterns', version: 4, symbols: ['AAPL', 'MSFT'], patternsChanged: true }, keys)).toEqual(
      new Set([keys.symbolVersion('AAPL'), keys.symbolVersion('MSFT'), keys.patternsVersion(), keys.patternsUnscopedVersion()]),
    );
    expect(
      versionKeysChangedBy(
        { projection: 'db.patterns', version: 5, symbols: ['AAPL'], patternsChanged: true, scopes: ['daily:any'] },
        keys,
      ),
    ).toEqual(new Set([keys.symbolVersion('AAPL'), keys.patternsVersion(), keys.patternScopeVersion('daily:any')]));
  });
});
