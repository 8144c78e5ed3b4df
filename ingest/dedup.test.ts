import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DuplicateFilter } from './dedup.js';

describe('DuplicateFilter', () => {
  it('drops a repeated (key, sequence) and keeps gaps and other keys', () => {
    const filter = new DuplicateFilter({ windowPerKey: 8, maxKeys: 10 });
    expect(filter.isDuplicate('T:AAPL', 1)).toBe(false);
    expect(filter.isDuplicate('T:AAPL', 5)).toBe(false);
    expect(filter.isDuplicate('T:AAPL', 1)).toBe(true);
    expect(filter.isDuplicate('Q:AAPL', 1)).toBe(false);
    expect(filter.isDuplicate('T:MSFT', 5)).toBe(false);
    expect(filter.isDuplicate('T:AAPL', 3)).toBe(false);
  });

  it('treats sequences below the evicted window as replays (bounded memory per key)', () => {
    const filter = new DuplicateFilter({ windowPerKey: 3, maxKeys: 10 });
    for (const sequence of [1, 2, 3, 4, 5]) expect(filter.isDuplicate('k', sequence)).toBe(false);
    expect(filter.isDuplicate('k', 2)).toBe(true); // evicted, below the floor
    expect(filter.isDuplicate('k', 5)).toBe(true); // still in the window
    expect(filter.isDuplicate('k', 6)).toBe(false);
  });

  it('bounds the number of keys, evicting the least recently seen', () => {
    const filter = new DuplicateFilter({ windowPerKey: 4, maxKeys: 2 });
    filter.isDuplicate('a', 1);
    filter.isDuplicate('b', 1);
    filter.isDuplicate('a', 2); // a is now most recent
    filter.isDuplicate('c', 1); // evicts b
    expect(filter.keyCount).toBe(2);
    expect(filter.isDuplicate('a', 1)).toBe(true);
    expect(filter.isDuplicate('b', 1)).toBe(false); // b was forgotten
  });

  it('rejects a zero-sized configuration', () => {
    expect(() => new DuplicateFilter({ windowPerKey: 0, maxKeys: 1 })).toThrow(RangeError);
  });

  it('property: a rising sequence stream with repeats keeps each sequence exactly once', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 1, maxLength: 200 }), (steps) => {
        const filter = new DuplicateFilter({ windowPerKey: 16, maxKeys: 4 });
        const kept: number[] = [];
        let sequence = 0;
        for (const step of steps) {
          sequence += step; // step 0 = a repeat of the previous sequence
          if (!filter.isDuplicate('T:X', sequence)) kept.push(sequence);
        }
        expect(kept).toEqual([...new Set(kept)]);
        expect(new Set(kept)).toEqual(new Set(steps.reduce<number[]>((all, step) => [...all, (all.at(-1) ?? 0) + step], [])));
      }),
    );
  });
});

describe('DuplicateFilter caps', () => {
  it('holds at most maxKeys keys and maxKeys × windowPerKey sequences however many distinct keys arrive', () => {
    const filter = new DuplicateFilter({ windowPerKey: 32, maxKeys: 100 });
    for (let key = 0; key < 5_000; key += 1) for (let sequence = 0; sequence < 40; sequence += 1) filter.isDuplicate(`T:U${key}`, sequence);
    expect(filter.keyCount).toBe(100);
    expect(filter.sequenceCount).toBe(100 * 32);
  });

  it('property: same answers as a reference window (a Set of the last windowPerKey accepted and the highest evicted)', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 60 }), { maxLength: 300 }), fc.integer({ min: 1, max: 20 }), (sequences, window) => {
        const filter = new DuplicateFilter({ windowPerKey: window, maxKeys: 4 });
        const accepted: number[] = [];
        let floor = Number.NEGATIVE_INFINITY;
        for (const sequence of sequences) {
          const expected = sequence <= floor || accepted.includes(sequence);
          expect(filter.isDuplicate('k', sequence)).toBe(expected);
          if (!expected) {
            accepted.push(sequence);
            if (accepted.length > window) floor = Math.max(floor, accepted.shift()!);
          }
        }
        expect(filter.sequenceCount).toBe(Math.min(window, accepted.length));
      }),
    );
  });
});
