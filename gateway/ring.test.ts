import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PartitionRing } from './ring.js';
import { patternEvent as pattern } from './test-events.js';
import { decodeEvent, placeWire, type LogEvent } from './types.js';
import { patternEvents } from '../test/record-fixtures.js';

describe('PartitionRing', () => {
  it('serves reads inside its coverage and evicts the oldest', () => {
    const ring = new PartitionRing(3, 10);
    expect(ring.read(10, 5)).toEqual({ events: [], nextOffset: 10 });
    ring.append({ events: [pattern(0, 10, 'A'), pattern(0, 12, 'B')], nextOffset: 14 }); // 11, 13: control records
    expect(ring.nextOffset).toBe(14);
    expect(ring.read(11, 5)!.events.map((e) => e.offset)).toEqual([12]);
    expect(ring.read(11, 5)!.nextOffset).toBe(14);
    ring.append({ events: [pattern(0, 14, 'C'), pattern(0, 15, 'D')], nextOffset: 16 });
    expect(ring.length).toBe(3);
    expect(ring.coveredFrom).toBe(11);
    expect(ring.read(10, 5)).toBeUndefined();
    expect(ring.read(17, 5)).toBeUndefined();
    expect(ring.read(11, 2)).toEqual({ events: [ring.read(12, 1)!.events[0], ring.read(14, 1)!.events[0]], nextOffset: 15 });
    expect(ring.read(16, 2)).toEqual({ events: [], nextOffset: 16 });
  });

  it('ignores records it already holds and resets', () => {
    const ring = new PartitionRing(4, 0);
    ring.append({ events: [pattern(0, 0, 'A'), pattern(0, 1, 'A')], nextOffset: 2 });
    ring.append({ events: [pattern(0, 1, 'A'), pattern(0, 2, 'A')], nextOffset: 3 });
    expect(ring.read(0, 10)!.events.map((e) => e.offset)).toEqual([0, 1, 2]);
    ring.reset(50);
    expect(ring.length).toBe(0);
    expect(ring.read(2, 1)).toBeUndefined();
    expect(ring.read(50, 1)).toEqual({ events: [], nextOffset: 50 });
  });

  it('holds GATEWAY_RING_CAPACITY events and their wire bytes at most, however much is appended', () => {
    const capacity = 1_000;
    const ring = new PartitionRing(capacity, 0);
    // Real pattern events, placed as the tail places a Kafka read: 250 per read, sharing one buffer.
    const values = patternEvents(12_000, 5);
    const perRead = 250;
    let largestWire = 0;
    for (let start = 0; start < values.length; start += perRead) {
      const read = placeWire(
        values
          .slice(start, start + perRead)
          .map((value, index) =>
            decodeEvent(0, start + index, value.detectedAtMs, value.symbol, value as unknown as Record<string, unknown>),
          ),
      );
      for (const event of read) largestWire = Math.max(largestWire, event.wireEnd - event.wireStart);
      ring.append({ events: read, nextOffset: start + read.length });
      expect(ring.length).toBe(Math.min(capacity, start + read.length));
    }
    expect(ring.length).toBe(capacity);
    expect(ring.coveredFrom).toBe(values.length - capacity);
    const held: readonly LogEvent[] = ring.read(ring.coveredFrom, capacity)!.events;
    expect(held.map((event) => event.offset)).toEqual(Array.from({ length: capacity }, (_, index) => values.length - capacity + index));
    // The bytes kept alive: the buffers of the reads the held events came from. At most one read is partly evicted,
    // so the bound is the cap's events plus one read's, at the largest event's size.
    const buffers = new Set(held.map((event) => event.wireBytes));
    const bytes = [...buffers].reduce((sum, buffer) => sum + buffer.byteLength, 0);
    expect(bytes).toBeLessThanOrEqual((capacity + perRead) * largestWire);
    expect(buffers.size).toBeLessThanOrEqual(Math.ceil(capacity / perRead) + 1);
  });

  it('rejects a bad capacity', () => {
    expect(() => new PartitionRing(0, 0)).toThrow(RangeError);
  });

  it('answers exactly the log records from any covered offset (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 20 }),
        fc.array(fc.boolean(), { maxLength: 80 }),
        fc.nat(100),
        fc.integer({ min: 1, max: 30 }),
        (capacity, kept, from, limit) => {
          const ring = new PartitionRing(capacity, 0);
          const log = kept.flatMap((keep, offset) => (keep ? [pattern(0, offset, 'K')] : []));
          ring.append({ events: log, nextOffset: kept.length });
          const read = ring.read(from, limit);
          if (from < ring.coveredFrom || from > kept.length) {
            expect(read).toBeUndefined();
            return;
          }
          const expected = log.filter((e) => e.offset >= from).slice(0, limit);
          expect(read!.events).toEqual(expected);
          const rest = log.filter((e) => e.offset >= read!.nextOffset);
          expect(rest[0]).toEqual(log.filter((e) => e.offset >= from)[limit]);
        },
      ),
    );
  });
});
