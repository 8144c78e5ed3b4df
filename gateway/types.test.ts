import { describe, expect, it } from 'vitest';
import { decodeEvent, eventJson, internedCounts, makeEvent, placeWire, wireOf } from './types.js';

describe('makeEvent', () => {
  it('holds the envelope JSON as bytes and the tags subscriptions filter on', () => {
    const data = { pattern: 'doji', tier: 'INTRADAY', kind: 'DETECTED', price: 1.5 };
    const event = makeEvent(2, 41, 1_700_000_000_000, 'AAPL', data);
    expect(wireOf(event).toString('utf8')).toBe(eventJson(2, 41, 1_700_000_000_000, 'AAPL', data));
    expect(JSON.parse(wireOf(event).toString('utf8'))).toEqual({ p: 2, o: 41, ts: 1_700_000_000_000, key: 'AAPL', data });
    expect(event.tags).toEqual({ pattern: 'doji', tier: 'INTRADAY', kind: 'DETECTED' });
  });
});

describe('makeEvent sharing', () => {
  it('gives events with the same tag values one shared, frozen tags object, and distinct sets their own', () => {
    const a = makeEvent(0, 1, 1, 'AAPL', { pattern: 'doji', tier: 'INTRADAY', kind: 'DETECTED' });
    const b = makeEvent(3, 9, 2, 'MSFT', { pattern: ['do', 'ji'].join(''), tier: 'INTRADAY', kind: 'DETECTED', price: 2 });
    expect(b.tags).toBe(a.tags);
    expect(Object.isFrozen(a.tags)).toBe(true);
    const variants = [
      { pattern: 'doji', tier: 'DAILY', kind: 'DETECTED' },
      { pattern: 'doji', tier: 'INTRADAY' },
      { pattern: 'doji', tier: 'INTRADAY', kind: 'undefined' },
      { tier: 'INTRADAY', kind: 'DETECTED' },
      { pattern: 3, tier: 'INTRADAY', kind: 'DETECTED' },
      {},
    ];
    const tags = variants.map((data) => makeEvent(0, 1, 1, 'X', data).tags);
    expect(new Set([a.tags, ...tags]).size).toBe(variants.length);
    expect(tags.map((t) => [t.pattern, t.tier, t.kind])).toEqual([
      ['doji', 'DAILY', 'DETECTED'],
      ['doji', 'INTRADAY', undefined],
      ['doji', 'INTRADAY', 'undefined'],
      [undefined, 'INTRADAY', 'DETECTED'],
      [undefined, 'INTRADAY', 'DETECTED'],
      [undefined, undefined, undefined],
    ]);
    expect(tags[4]).toBe(tags[3]);
    expect(b.key).toBe('MSFT');
  });
});

describe('placeWire', () => {
  it('writes the events of a read into one buffer, each with its own bytes and the rest unchanged', () => {
    const decoded = ['AAPL', 'MSFT', 'BRK\u00e9'].map((key, index) =>
      decodeEvent(1, 10 + index, 5, key, { pattern: 'doji', note: `\u20ac${'x'.repeat(index * 100)}` }),
    );
    const placed = placeWire(decoded);
    expect(new Set(placed.map((event) => event.wireBytes)).size).toBe(1);
    expect(placed.map((event) => wireOf(event).toString('utf8'))).toEqual(decoded.map((event) => event.json));
    expect(placed.map(({ partition, offset, timestampMs, key, tags }) => ({ partition, offset, timestampMs, key, tags }))).toEqual(
      decoded.map(({ partition, offset, timestampMs, key, tags }) => ({ partition, offset, timestampMs, key, tags })),
    );
    expect(placed[2]!.wireEnd).toBe(placed[2]!.wireBytes.length);
    expect(placeWire([])).toEqual([]);
  });
});

describe('interning under a flood of distinct unknown symbols', () => {
  it('stops sharing at the cap: the interned keys and tag sets stay at it, and every event keeps its own values', () => {
    const { cap } = internedCounts();
    // Past the cap by a tenth, each symbol and pattern name never seen before (a feed gone wrong).
    for (let index = 0; index < cap * 1.1; index += 1) {
      const key = `NOSUCH${index}`;
      const event = decodeEvent(0, index, index, key, { pattern: `p${index}`, tier: 'INTRADAY', kind: 'DETECTED' });
      if (index % 10_007 === 0) {
        expect(event.key).toBe(key);
        expect(event.tags.pattern).toBe(`p${index}`);
      }
    }
    expect(internedCounts().keys).toBe(cap);
    expect(internedCounts().tagSets).toBe(cap);
    const late = makeEvent(0, 1, 1, 'LATECOMER', { pattern: 'late', tier: 'DAILY' });
    expect([late.key, late.tags.pattern, late.tags.tier]).toEqual(['LATECOMER', 'late', 'DAILY']);
    expect(internedCounts().keys).toBe(cap);
  });
});
