import { describe, expect, it } from 'vitest';
import { parseProjectionNotice, redisKeys, tierKey } from './redis-keys.js';

describe('redisKeys', () => {
  it('puts every key under the prefix and the schema version', () => {
    const keys = redisKeys('test:x:');
    const all = [
      keys.pattern('p1'),
      keys.symbolEvents('AAPL'),
      keys.scan({ kind: 'all' }, 'confidence'),
      keys.snapshot('AAPL'),
      keys.patternsVersion(),
      keys.symbolVersion('AAPL'),
      keys.projectionVersion('redis'),
      keys.offsets('redis'),
      keys.channel(),
    ];
    for (const key of all) expect(key.startsWith('test:x:tf:v1:')).toBe(true);
    expect(new Set(all).size).toBe(all.length);
    expect(redisKeys().patternsVersion()).toBe('tf:v1:version:patterns');
  });

  it('escapes the separator so free-text names cannot collide', () => {
    const keys = redisKeys();
    expect(keys.symbolEvents('BRK:B')).toBe('tf:v1:symbol:BRK%3AB:events');
    expect(keys.scan({ kind: 'pattern', pattern: 'a:tier:daily' }, 'confidence')).not.toBe(
      keys.scan({ kind: 'pattern-tier', pattern: 'a', tier: 'daily' }, 'confidence'),
    );
    expect(keys.pattern('100%')).toBe('tf:v1:pattern:100%25');
  });

  it('lists the eight scan sets of a pattern type and tier', () => {
    const keys = redisKeys('p:');
    const scanKeys = keys.scanKeysFor('doji', 'daily');
    expect(scanKeys).toHaveLength(8);
    expect(scanKeys).toContain('p:tf:v1:scan:confidence:all');
    expect(scanKeys).toContain('p:tf:v1:scan:detected_at:pattern:doji:tier:daily');
    expect(scanKeys).toContain(keys.scan({ kind: 'tier', tier: 'daily' }, 'detected_at'));
  });

  it('maps Avro tiers to key tiers and refuses unknown ones', () => {
    expect(tierKey('INTRADAY')).toBe('intraday');
    expect(tierKey('combo')).toBe('combo');
    expect(() => tierKey('WEEKLY')).toThrow(/unknown pattern tier/);
  });

  it('parses notices and refuses other messages', () => {
    const notice = { projection: 'redis', version: 3, symbols: ['AAPL'], patternsChanged: true };
    expect(parseProjectionNotice(JSON.stringify(notice))).toEqual(notice);
    expect(parseProjectionNotice(JSON.stringify({ projection: 'db.bars', version: 1, symbols: [] })).patternsChanged).toBe(false);
    expect(() => parseProjectionNotice('{"projection":1}')).toThrow(/not a projection notice/);
    expect(() => parseProjectionNotice('null')).toThrow(/not a projection notice/);
  });
});
