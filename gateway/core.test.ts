import fc from 'fast-check';
import { describe, expect, it, vi } from 'vitest';
import { deliveriesFrame, deliveriesJson, selectBatch } from './batch.js';
import { CursorError, advance, decodeCursor, encodeCursor, encodePosition, topicEpoch } from './cursor.js';
import { compileFilter, matches } from './filter.js';
import { createFrameParser, TokenBucket } from './protocol.js';
import { createLogger } from '../platform/index.js';
import { StreamHub } from './hub.js';
import type { LogSource, TopicInfo } from './kafka-log.js';
import { PartitionRing } from './ring.js';
import { makeEvent, type LogEvent, type PartitionRead } from './types.js';

const pattern = (partition: number, offset: number, key: string, extra: Record<string, unknown> = {}, ts = offset): LogEvent =>
  makeEvent(partition, offset, ts, key, { symbol: key, pattern: 'doji', tier: 'INTRADAY', kind: 'DETECTED', ...extra });

describe('cursor', () => {
  it('encodes the positions of a subscription as the cursor of the same offsets, in any insertion order (property)', () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.tuple(fc.integer({ min: 0, max: 999 }), fc.integer({ min: 0, max: 2 ** 52 })), { selector: ([partition]) => partition }), (pairs) => {
        const next = new Map(pairs);
        const text = encodePosition('patterns', 'abc', next);
        expect(text).toBe(encodeCursor({ stream: 'patterns', epoch: 'abc', next: Object.fromEntries(pairs) }));
        expect(new Map(Object.entries(decodeCursor(text).next).map(([p, o]) => [Number(p), o]))).toEqual(next);
      }),
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

  it('rejects a bad capacity', () => {
    expect(() => new PartitionRing(0, 0)).toThrow(RangeError);
  });

  it('answers exactly the log records from any covered offset (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 20 }), fc.array(fc.boolean(), { maxLength: 80 }), fc.nat(100), fc.integer({ min: 1, max: 30 }), (capacity, kept, from, limit) => {
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
      }),
    );
  });
});

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
      reads([0, [pattern(0, 0, 'A', {}, 10), pattern(0, 1, 'A', {}, 30)], 5], [1, [pattern(1, 7, 'B', {}, 20), pattern(1, 8, 'B', {}, 40)], 9]),
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
    const batch = selectBatch(reads([0, [pattern(0, 0, 'A', {}, 50), pattern(0, 1, 'A', {}, 10)], 2], [1, [pattern(1, 4, 'B', {}, 20)], 5]), compileFilter({}), 2, false);
    expect(batch.deliveries.map((d) => `${d.event.partition}:${d.event.offset}`)).toEqual(['1:4', '0:0']);
    expect(batch.next.get(0)).toBe(1);
    expect(batch.scanned).toBe(2);
  });

  it('moves past filtered-out records without spending credits', () => {
    const batch = selectBatch(reads([0, [pattern(0, 0, 'A'), pattern(0, 1, 'B'), pattern(0, 2, 'A')], 3]), compileFilter({ symbols: ['B'] }), 5, false);
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
    const frame = deliveriesFrame('{"id":"ü","events":[', [{ event: events[0]!, folded: 1 }, { event: events[1]!, folded: 12 }], ']}');
    const parsed = JSON.parse(frame.toString('utf8')) as { id: string; events: { key: string; data: { note?: string }; folded?: number }[] };
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
        fc.array(fc.record({ partition: fc.integer({ min: 0, max: 2 }), key: fc.constantFrom('A', 'B', 'C', 'D'), ts: fc.nat(50) }), { maxLength: 60 }),
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
              new Map([...next].map(([p, o]) => [p, { events: logs.get(p)!.slice(o, o + 7), nextOffset: Math.min(o + 7, logs.get(p)!.length) }])),
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

describe('frame parser', () => {
  const limits = { maxFrameBytes: 512, maxEventsPerFrame: 500, maxSnapshotItems: 5000, maxSubscriptions: 4, maxSymbolsPerSubscription: 3, maxCredits: 1000, framesPerSecond: 10, frameBurst: 5 };
  const parse = createFrameParser(limits);

  it('accepts every documented frame', () => {
    for (const frame of [
      { type: 'auth', token: 'x.y.z' },
      { type: 'auth', apiKey: 'tfk_x' },
      { type: 'subscribe', id: 's1', stream: 'patterns', filter: { symbols: ['AAPL'], tiers: ['DAILY'], kinds: ['DETECTED'], patterns: ['doji'], universe: 'tech' }, from: 'snapshot', conflate: true, credits: 10 },
      { type: 'subscribe', id: 's1', stream: 'bars', from: { timestamp: 5 } },
      { type: 'subscribe', id: 's1', stream: 'bars', from: { offsets: { '0': 5 } } },
      { type: 'credit', id: 's1', n: 5 },
      { type: 'seek', id: 's1', to: { cursor: 'c1.x' } },
      { type: 'seek', id: 's1', to: 'earliest' },
      { type: 'unsubscribe', id: 's1' },
      { type: 'ping', nonce: 'n' },
      { type: 'ping' },
    ]) {
      expect(parse(JSON.stringify(frame))).toEqual({ ok: true, frame });
    }
  });

  it.each([
    ['{', 'malformed_json'],
    ['[1]', 'malformed_json'],
    ['null', 'malformed_json'],
    ['{"type":"nope"}', 'unknown_type'],
    ['{"id":"a"}', 'unknown_type'],
    ['{"type":"auth"}', 'bad_field'],
    ['{"type":"auth","token":"a","apiKey":"b"}', 'bad_field'],
    ['{"type":"subscribe","id":"s","stream":"trades"}', 'bad_field'],
    ['{"type":"subscribe","id":"s","stream":"bars","extra":1}', 'bad_field'],
    ['{"type":"subscribe","id":"bad id","stream":"bars"}', 'bad_field'],
    ['{"type":"credit","id":"s","n":0}', 'bad_field'],
    ['{"type":"credit","id":"s","n":1001}', 'bad_field'],
    ['{"type":"subscribe","id":"s","stream":"bars","filter":{"symbols":["A","B","C","D"]}}', 'subscription_too_large'],
    [JSON.stringify({ type: 'ping', nonce: 'x'.repeat(600) }), 'frame_too_large'],
  ])('rejects %s with %s', (text, code) => {
    const result = parse(text);
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.code).toBe(code);
      expect(result.message.length).toBeGreaterThan(5);
    }
  });

  it('names the field and the subscription in a bad_field error', () => {
    const result = parse('{"type":"credit","id":"s9","n":-1}');
    expect(result).toMatchObject({ ok: false, code: 'bad_field', path: 'n', id: 's9' });
  });
});

describe('TokenBucket', () => {
  it('allows a burst then the rate', () => {
    const bucket = new TokenBucket(2, 3, 0);
    expect([bucket.take(0), bucket.take(0), bucket.take(0), bucket.take(0)]).toEqual([true, true, true, false]);
    expect(bucket.take(499)).toBe(false);
    expect(bucket.take(500)).toBe(true);
    expect(bucket.take(10_000)).toBe(true);
  });
});

describe('StreamHub partitions added at runtime', () => {
  const info = (topicId: string, count: number): TopicInfo => ({ topic: 't', topicId, epoch: topicEpoch('t', topicId), partitions: [...Array(count).keys()] });

  function stubSource(described: TopicInfo[]): LogSource {
    return {
      describe: async () => described.shift()!,
      bounds: async () => new Map([0, 1, 2].map((partition) => [partition, { logStart: partition === 2 ? 4 : 0, high: 7 }])),
      offsetsForTime: async () => new Map(),
      read: async () => new Map(),
      close: async () => {},
    };
  }

  const hubOver = (source: LogSource) =>
    new StreamHub({ stream: 'patterns', topic: 't', source, logger: createLogger('test-hub', { level: 'silent' }), ringCapacity: 10, pollWaitMs: 0, maxBytesPerPartition: 1024, metadataRefreshMs: 60_000 });

  it('adds a ring per new partition from its log start and tells listeners', async () => {
    const hub = hubOver(stubSource([info('id-1', 1), info('id-1', 1), info('id-1', 3)]));
    // prime() alone sets the starting shape; start() would also poll up to the head.
    await (hub as unknown as { prime(): Promise<unknown> }).prime();
    expect([...hub.rings.keys()]).toEqual([0]);
    const heard: [number, number][][] = [];
    hub.onPartitionsAdded((added) => heard.push([...added]));
    await hub.refreshPartitions(); // nothing new
    expect(heard).toEqual([]);
    await hub.refreshPartitions();
    expect(heard).toEqual([
      [
        [1, 0],
        [2, 4],
      ],
    ]);
    expect(hub.rings.get(2)!.nextOffset).toBe(4);
    expect(hub.topic.partitions).toEqual([0, 1, 2]);
  });

  it('leaves a recreated topic (new id) to the tail recovery', async () => {
    const hub = hubOver(stubSource([info('id-1', 1), info('id-2', 3)]));
    await (hub as unknown as { prime(): Promise<unknown> }).prime();
    await hub.refreshPartitions();
    expect([...hub.rings.keys()]).toEqual([0]);
    expect(hub.topic.topicId).toBe('id-1');
  });
});

describe('StreamHub pipelined tail', () => {
  const topicInfo: TopicInfo = { topic: 't', topicId: 'id-1', epoch: topicEpoch('t', 'id-1'), partitions: [0] };

  /**
   * A one-partition log whose reads behave like KafkaLogSource's: they long-poll for records, report the
   * fetched position through onFetched, then "decode" (a pause the test controls) before resolving.
   */
  function scriptedLog() {
    const records: LogEvent[] = [];
    const sentFrom: number[] = [];
    const decodesWaiting: (() => void)[] = [];
    let failNext = false;
    const wakers: (() => void)[] = [];
    const source: LogSource = {
      describe: async () => topicInfo,
      bounds: async () => new Map([[0, { logStart: 0, high: records.length }]]),
      offsetsForTime: async () => new Map(),
      read: async (_info, from, options) => {
        const offset = from.get(0)!;
        sentFrom.push(offset);
        if (failNext) {
          failNext = false;
          throw new Error('broker gone');
        }
        // A long poll: answered when records arrive or after maxWaitMs, as the broker does.
        if (records.length <= offset && options.maxWaitMs > 0) {
          await new Promise<void>((resolve) => {
            wakers.push(resolve);
            setTimeout(resolve, options.maxWaitMs);
          });
        }
        const events = records.slice(offset);
        const nextOffset = offset + events.length;
        if (events.length > 0 && options.onFetched) {
          options.onFetched(new Map([[0, nextOffset]]));
          await new Promise<void>((resolve) => decodesWaiting.push(resolve));
        }
        return new Map([[0, { events, nextOffset, logStart: 0, high: records.length }]]);
      },
      close: async () => {},
    };
    return {
      source,
      sentFrom,
      produce(count: number) {
        for (let index = 0; index < count; index += 1) records.push(pattern(0, records.length, 'AAPL'));
        wakers.splice(0).forEach((resolve) => resolve());
      },
      finishDecodes() {
        decodesWaiting.splice(0).forEach((resolve) => resolve());
      },
      failNextRead() {
        failNext = true;
      },
    };
  }

  const hubOver = (source: LogSource) =>
    new StreamHub({ stream: 'patterns', topic: 't', source, logger: createLogger('test-hub', { level: 'silent' }), ringCapacity: 100, pollWaitMs: 50, maxBytesPerPartition: 1024, metadataRefreshMs: 60_000 });
  const offsetsIn = (hub: StreamHub) => hub.rings.get(0)!.read(0, 1000)!.events.map((event) => event.offset);

  it('sends the next read from where a fetch ended before that fetch is decoded, keeping every record once and in order', async () => {
    const log = scriptedLog();
    const hub = hubOver(log.source);
    await hub.start();
    await vi.waitFor(() => expect(log.sentFrom).toEqual([0]));
    log.produce(3);
    // The first read is still "decoding", yet the next one is already out from offset 3.
    await vi.waitFor(() => expect(log.sentFrom).toEqual([0, 3]));
    expect(hub.rings.get(0)!.nextOffset).toBe(0);
    log.produce(2);
    await vi.waitFor(() => {
      log.finishDecodes();
      expect(offsetsIn(hub)).toEqual([0, 1, 2, 3, 4]);
    });
    // No more than one read ahead of the loop: the read from 5 went out once the one from 3 was taken.
    expect(log.sentFrom.slice(0, 3)).toEqual([0, 3, 5]);
    log.finishDecodes();
    await vi.waitFor(() => expect(offsetsIn(hub)).toEqual([0, 1, 2, 3, 4]));
    await hub.stop();
  });

  it('drops the reads sent on from a failed one and resumes from the rings', async () => {
    const log = scriptedLog();
    const hub = hubOver(log.source);
    await hub.start();
    log.produce(2);
    await vi.waitFor(() => expect(log.sentFrom).toEqual([0, 2]));
    log.failNextRead();
    log.finishDecodes();
    await vi.waitFor(() => expect(hub.rings.get(0)!.nextOffset).toBe(2));
    log.produce(1);
    await vi.waitFor(
      () => {
        log.finishDecodes();
        expect(offsetsIn(hub), JSON.stringify(log.sentFrom)).toEqual([0, 1, 2]);
      },
      { timeout: 5_000 },
    );
    await hub.stop();
  });

  it('ignores a pipelined read that no longer starts where the ring ends', async () => {
    const log = scriptedLog();
    const hub = hubOver(log.source);
    await hub.start();
    log.produce(2);
    await vi.waitFor(() => expect(log.sentFrom).toEqual([0, 2]));
    // The ring moves on its own (as a reset would) while the read sent from offset 2 is out.
    hub.rings.get(0)!.reset(10);
    log.finishDecodes();
    log.produce(1);
    await vi.waitFor(() => {
      log.finishDecodes();
      expect(log.sentFrom).toContain(10);
    });
    expect(hub.rings.get(0)!.nextOffset).toBe(10);
    expect(hub.rings.get(0)!.length).toBe(0);
    await hub.stop();
  });
});
