import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { deliveriesFrame, selectBatch, type Delivery } from './batch.js';
import { compileFilter, matches } from './filter.js';
import { patternEvent as pattern } from './test-events.js';
import { makeEvent, type LogEvent, type PartitionRead } from './types.js';

/** A batch's events as a JSON array, framed the way the session frames them. */
const deliveriesJson = (deliveries: readonly Delivery[]): string => deliveriesFrame('[', deliveries, ']').toString('utf8');

describe('filter', () => {
  it('matches on every given field and ignores absent ones', () => {
    const event = pattern(0, 1, 'AAPL', { pattern: 'hammer', tier: 'DAILY', kind: 'UPDATED' });
    expect(matches(compileFilter({}), event)).toBe(true);
    expect(matches(compileFilter({ symbols: ['AAPL'], patterns: ['hammer'], tiers: ['DAILY'], kinds: ['UPDATED'] }), event)).toBe(true);
    expect(matches(compileFilter({ symbols: ['MSFT'] }), event)).toBe(false);
    expect(matches(compileFilter({ patterns: ['doji'] }), event)).toBe(false);
    expect(matches(compileFilter({ tiers: ['COMBO'] }), event)).toBe(false);
    expect(matches(compileFilter({ kinds: ['EXPIRED'] }), event)).toBe(false);
    expect(matches(compileFilter({ patterns: ['doji'] }), makeEvent(0, 1, 1, 'X', { pattern: 3 }))).toBe(false);
  });
});

const reads = (...entries: [number, LogEvent[], number][]): Map<number, PartitionRead> =>
  new Map(entries.map(([partition, events, nextOffset]) => [partition, { events, nextOffset }]));

describe('selectBatch', () => {
  it('merges partitions by time and stops each partition at the first event without credit', () => {
    const batch = selectBatch(
      reads(
        [0, [pattern(0, 0, 'A', {}, 10), pattern(0, 1, 'A', {}, 30)], 5],
        [1, [pattern(1, 7, 'B', {}, 20), pattern(1, 8, 'B', {}, 40)], 9],
      ),
      compileFilter({}),
      2,
      false,
    );
    expect(batch.deliveries.map((d) => `${d.event.partition}:${d.event.offset}`)).toEqual(['0:0', '1:7']);
    expect([...batch.next]).toEqual([
      [0, 1],
      [1, 8],
    ]);
    expect(batch.scanned).toBe(2);
  });

  it('keeps log order within a partition when record times go backwards', () => {
    const batch = selectBatch(
      reads([0, [pattern(0, 0, 'A', {}, 50), pattern(0, 1, 'A', {}, 10)], 2], [1, [pattern(1, 4, 'B', {}, 20)], 5]),
      compileFilter({}),
      2,
      false,
    );
    expect(batch.deliveries.map((d) => `${d.event.partition}:${d.event.offset}`)).toEqual(['1:4', '0:0']);
    expect(batch.next.get(0)).toBe(1);
    expect(batch.scanned).toBe(2);
  });

  it('moves past filtered-out records without spending credits', () => {
    const batch = selectBatch(
      reads([0, [pattern(0, 0, 'A'), pattern(0, 1, 'B'), pattern(0, 2, 'A')], 3]),
      compileFilter({ symbols: ['B'] }),
      5,
      false,
    );
    expect(batch.deliveries.map((d) => d.event.offset)).toEqual([1]);
    expect(batch.next.get(0)).toBe(3);
    expect(batch.scanned).toBe(3);
  });

  it('with no credits delivers nothing and moves only past unwanted records', () => {
    const batch = selectBatch(reads([0, [pattern(0, 0, 'X'), pattern(0, 1, 'A')], 2]), compileFilter({ symbols: ['A'] }), 0, false);
    expect(batch.deliveries).toEqual([]);
    expect(batch.next.get(0)).toBe(1);
  });

  it('conflates per key, tagging each delivery with the last folded offset', () => {
    const events = [pattern(0, 0, 'A'), pattern(0, 1, 'B'), pattern(0, 2, 'A'), pattern(0, 3, 'C'), pattern(0, 4, 'A'), pattern(0, 5, 'D')];
    const batch = selectBatch(reads([0, events, 6]), compileFilter({ symbols: ['A', 'B', 'C'] }), 2, true);
    // Credits 2: A and B fit; C would be a third key, so the partition stops at offset 3.
    expect(batch.deliveries.map((d) => [d.event.key, d.event.offset, d.folded])).toEqual([
      ['B', 1, 1],
      ['A', 2, 2],
    ]);
    expect(batch.next.get(0)).toBe(3);
    const all = selectBatch(reads([0, events, 6]), compileFilter({ symbols: ['A', 'B', 'C'] }), 10, true);
    expect(all.deliveries.map((d) => [d.event.key, d.event.offset, d.folded])).toEqual([
      ['B', 1, 1],
      ['C', 3, 1],
      ['A', 4, 3],
    ]);
    expect(all.next.get(0)).toBe(6);
    expect(deliveriesJson(all.deliveries)).toContain('"o":4,"ts":4,"key":"A"');
    expect(JSON.parse(deliveriesJson(all.deliveries))[2].folded).toBe(3);
    expect(JSON.parse(deliveriesJson(all.deliveries))[0].folded).toBeUndefined();
  });

  it('frames events as one exact UTF-8 buffer, multi-byte text and folded events included', () => {
    const events = [pattern(0, 0, 'É', { note: 'naïve ✓' }), pattern(0, 1, 'B')];
    const frame = deliveriesFrame(
      '{"id":"ü","events":[',
      [
        { event: events[0]!, folded: 1 },
        { event: events[1]!, folded: 12 },
      ],
      ']}',
    );
    const parsed = JSON.parse(frame.toString('utf8')) as {
      id: string;
      events: { key: string; data: { note?: string }; folded?: number }[];
    };
    expect(parsed.id).toBe('ü');
    expect(parsed.events.map((event) => [event.key, event.data.note, event.folded])).toEqual([
      ['É', 'naïve ✓', undefined],
      ['B', undefined, 12],
    ]);
    expect(deliveriesFrame('[', [], ']').toString()).toBe('[]');
  });

  it('writes frames into a reusable scratch buffer, growing it when a frame does not fit', () => {
    const scratch = { buffer: Buffer.alloc(8) };
    const many = Array.from({ length: 50 }, (_, offset) => ({ event: pattern(0, offset, 'A'), folded: 1 }));
    const big = deliveriesFrame('[', many, ']', scratch);
    expect(scratch.buffer.length).toBeGreaterThanOrEqual(big.length);
    expect(big.buffer).toBe(scratch.buffer.buffer);
    expect((JSON.parse(big.toString()) as unknown[]).length).toBe(50);
    const held = scratch.buffer;
    const small = deliveriesFrame('[', many.slice(0, 1), ']', scratch);
    expect(scratch.buffer).toBe(held);
    expect(JSON.parse(small.toString())).toHaveLength(1);
  });

  it('never loses or reorders an event across calls, whatever the credits (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ partition: fc.integer({ min: 0, max: 2 }), key: fc.constantFrom('A', 'B', 'C', 'D'), ts: fc.nat(50) }), {
          maxLength: 60,
        }),
        fc.array(fc.integer({ min: 0, max: 4 }), { minLength: 1, maxLength: 20 }),
        fc.boolean(),
        fc.boolean(),
        (specs, creditsPerCall, conflate, monotonic) => {
          const logs = new Map<number, LogEvent[]>([0, 1, 2].map((p) => [p, []]));
          for (const spec of specs) {
            const log = logs.get(spec.partition)!;
            // Record times may go backwards within a partition (several producers): log order must still hold.
            const ts = monotonic ? Math.max(spec.ts, log.at(-1)?.timestampMs ?? 0) : spec.ts;
            log.push(pattern(spec.partition, log.length, spec.key, {}, ts));
          }
          const filter = compileFilter({ symbols: ['A', 'B', 'C'] });
          const next = new Map<number, number>([0, 1, 2].map((p) => [p, 0]));
          const delivered = new Map<number, LogEvent[]>([0, 1, 2].map((p) => [p, []]));
          let calls = 0;
          while ([...next].some(([p, o]) => o < logs.get(p)!.length) && calls < 500) {
            const credits = creditsPerCall[calls % creditsPerCall.length]! + (calls > 100 ? 1 : 0);
            calls += 1;
            const batch = selectBatch(
              new Map(
                [...next].map(([p, o]) => [p, { events: logs.get(p)!.slice(o, o + 7), nextOffset: Math.min(o + 7, logs.get(p)!.length) }]),
              ),
              filter,
              credits,
              conflate,
            );
            expect(batch.deliveries.length).toBeLessThanOrEqual(credits);
            for (const d of batch.deliveries) delivered.get(d.event.partition)!.push(d.event);
            for (const [p, o] of batch.next) {
              expect(o).toBeGreaterThanOrEqual(next.get(p)!);
              next.set(p, o);
            }
          }
          for (const [p, log] of logs) {
            const wanted = log.filter((e) => matches(filter, e));
            const got = delivered.get(p)!;
            // Offsets strictly increase per partition: in order, no duplicates.
            expect(got.map((e) => e.offset)).toEqual([...got.map((e) => e.offset)].sort((a, b) => a - b));
            expect(new Set(got.map((e) => e.offset)).size).toBe(got.length);
            if (!conflate) expect(got).toEqual(wanted);
            else {
              // Every wanted event is delivered or superseded by a later delivered event of its key.
              for (const event of wanted) expect(got.some((d) => d.key === event.key && d.offset >= event.offset)).toBe(true);
              const lastPerKey = new Map(wanted.map((e) => [e.key, e.offset]));
              for (const [key, offset] of lastPerKey) expect(got.filter((d) => d.key === key).at(-1)!.offset).toBe(offset);
            }
          }
        },
      ),
    );
  });
});
