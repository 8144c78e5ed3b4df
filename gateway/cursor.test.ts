import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CursorError, advance, decodeCursor, encodeCursor, encodePosition, topicEpoch } from './cursor.js';

describe('cursor', () => {
  it('encodes the positions of a subscription as the cursor of the same offsets, in any insertion order (property)', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.tuple(fc.integer({ min: 0, max: 999 }), fc.integer({ min: 0, max: 2 ** 52 })), {
          selector: ([partition]) => partition,
        }),
        (pairs) => {
          const next = new Map(pairs);
          const text = encodePosition('patterns', 'abc', next);
          expect(text).toBe(encodeCursor({ stream: 'patterns', epoch: 'abc', next: Object.fromEntries(pairs) }));
          expect(new Map(Object.entries(decodeCursor(text).next).map(([p, o]) => [Number(p), o]))).toEqual(next);
        },
      ),
    );
  });

  it('round-trips and stays opaque', () => {
    const cursor = { stream: 'patterns' as const, epoch: topicEpoch('t', 'id-1'), next: { 0: 5, 3: 12_345_678_901, 1: 0 } };
    const text = encodeCursor(cursor);
    expect(text.startsWith('c1.')).toBe(true);
    expect(text).not.toContain('patterns');
    expect(decodeCursor(text)).toEqual(cursor);
    expect(decodeCursor(encodeCursor(advance(cursor, 1, 9))).next[1]).toBe(9);
  });

  it('round-trips any offsets (property)', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.integer({ min: 0, max: 999 }).map(String), fc.integer({ min: 0, max: 2 ** 52 })), (offsets) => {
        const next = Object.fromEntries(Object.entries(offsets).map(([p, o]) => [Number(p), o]));
        const cursor = { stream: 'bars' as const, epoch: 'abc_DEF-12', next };
        expect(decodeCursor(encodeCursor(cursor))).toEqual(cursor);
      }),
    );
  });

  it('gives a different epoch to a recreated topic', () => {
    expect(topicEpoch('patterns', 'a')).not.toBe(topicEpoch('patterns', 'b'));
    expect(topicEpoch('patterns', 'a')).toBe(topicEpoch('patterns', 'a'));
  });

  it.each([
    ['x'.repeat(5000), 'too long'],
    ['zz.abc', 'unknown version'],
    ['c1.' + Buffer.from('patterns|e').toString('base64url'), 'malformed cursor'],
    ['c1.' + Buffer.from('trades|e|0:1').toString('base64url'), 'unknown stream'],
    ['c1.' + Buffer.from('bars|e e|0:1').toString('base64url'), 'epoch'],
    ['c1.' + Buffer.from('bars|e|0:x').toString('base64url'), 'offsets'],
    ['c1.' + Buffer.from('bars|e|0:1,0:2').toString('base64url'), 'repeats'],
  ])('rejects %#', (text, reason) => {
    expect(() => decodeCursor(text)).toThrow(CursorError);
    expect(() => decodeCursor(text)).toThrow(reason);
  });

  it('accepts a cursor with no partitions', () => {
    expect(decodeCursor(encodeCursor({ stream: 'bars', epoch: 'e', next: {} })).next).toEqual({});
  });
});
