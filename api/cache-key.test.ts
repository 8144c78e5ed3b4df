import { describe, expect, it } from 'vitest';
import { redisKeys } from '../projections/redis-keys.js';
import { MAX_SYMBOL_SCOPED_VERSIONS, versionKeysChangedBy, scanCacheKey, scanScope, statsCacheKey, symbolCacheKey, versionEtag, versionKeysOf, versionStamp } from './cache-key.js';
import { normaliseScanQuery, type ScanParameters } from './scan.js';

const defaults: ScanParameters = { timeframe: 'all', status: 'active', confidence_min: 0.5, sort_by: 'confidence', sort_order: 'desc', page: 1, per_page: 30 };
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
  it('depend on per-symbol versions for few symbols, else on the global patterns version', () => {
    const few = normaliseScanQuery({ ...defaults, symbols: ['AAPL', 'MSFT'] }, undefined);
    expect(versionKeysOf(scanScope(few), keys)).toEqual([keys.symbolVersion('AAPL'), keys.symbolVersion('MSFT')]);
    const many = normaliseScanQuery({ ...defaults, symbols: Array.from({ length: MAX_SYMBOL_SCOPED_VERSIONS + 1 }, (_, i) => `S${i}`) }, undefined);
    expect(versionKeysOf(scanScope(many), keys)).toEqual([keys.patternsVersion()]);
    expect(versionKeysOf(scanScope(normaliseScanQuery(defaults, undefined)), keys)).toEqual([keys.patternsVersion()]);
    expect(scanScope(normaliseScanQuery({ ...defaults, symbols: ['X'] }, ['Y']))).toEqual({ kind: 'patterns' });
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
    expect(versionKeysChangedBy({ projection: 'db.bars', version: 3, symbols: ['AAPL'], patternsChanged: false }, keys)).toEqual(new Set([keys.symbolVersion('AAPL')]));
    expect(versionKeysChangedBy({ projection: 'db.patterns', version: 4, symbols: ['AAPL', 'MSFT'], patternsChanged: true }, keys)).toEqual(
      new Set([keys.symbolVersion('AAPL'), keys.symbolVersion('MSFT'), keys.patternsVersion()]),
    );
  });
});
