import { describe, expect, it, vi } from 'vitest';
import { createLogger } from '../platform/index.js';
import { topicEpoch } from './cursor.js';
import type { LogSource, TopicInfo } from './kafka-log.js';
import { patternEvent as pattern } from './test-events.js';
import { TopicTail } from './topic-tail.js';
import type { LogEvent } from './types.js';

describe('TopicTail partitions added at runtime', () => {
  const info = (topicId: string, count: number): TopicInfo => ({
    topic: 't',
    topicId,
    epoch: topicEpoch('t', topicId),
    partitions: [...Array(count).keys()],
  });

  function stubSource(described: TopicInfo[]): LogSource {
    return {
      describe: async () => described.shift()!,
      bounds: async () => new Map([0, 1, 2].map((partition) => [partition, { logStart: partition === 2 ? 4 : 0, high: 7 }])),
      offsetsForTime: async () => new Map(),
      read: async () => new Map(),
      close: async () => {},
    };
  }

  const tailOver = (source: LogSource) =>
    new TopicTail({
      stream: 'patterns',
      topic: 't',
      source,
      logger: createLogger('test-tail', { level: 'silent' }),
      ringCapacity: 10,
      pollWaitMs: 0,
      maxBytesPerPartition: 1024,
      metadataRefreshMs: 60_000,
    });

  it('adds a ring per new partition from its log start and tells listeners', async () => {
    const tail = tailOver(stubSource([info('id-1', 1), info('id-1', 1), info('id-1', 3)]));
    // prime() alone sets the starting shape; start() would also poll up to the head.
    await (tail as unknown as { prime(): Promise<unknown> }).prime();
    expect([...tail.rings.keys()]).toEqual([0]);
    const heard: [number, number][][] = [];
    tail.onPartitionsAdded((added) => heard.push([...added]));
    await tail.refreshPartitions(); // nothing new
    expect(heard).toEqual([]);
    await tail.refreshPartitions();
    expect(heard).toEqual([
      [
        [1, 0],
        [2, 4],
      ],
    ]);
    expect(tail.rings.get(2)!.nextOffset).toBe(4);
    expect(tail.topic.partitions).toEqual([0, 1, 2]);
  });

  it('leaves a recreated topic (new id) to the tail recovery', async () => {
    const tail = tailOver(stubSource([info('id-1', 1), info('id-2', 3)]));
    await (tail as unknown as { prime(): Promise<unknown> }).prime();
    await tail.refreshPartitions();
    expect([...tail.rings.keys()]).toEqual([0]);
    expect(tail.topic.topicId).toBe('id-1');
  });
});

describe('TopicTail pipelined tail', () => {
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

  const tailOver = (source: LogSource) =>
    new TopicTail({
      stream: 'patterns',
      topic: 't',
      source,
      logger: createLogger('test-tail', { level: 'silent' }),
      ringCapacity: 100,
      pollWaitMs: 50,
      maxBytesPerPartition: 1024,
      metadataRefreshMs: 60_000,
    });
  const offsetsIn = (tail: TopicTail) =>
    tail.rings
      .get(0)!
      .read(0, 1000)!
      .events.map((event) => event.offset);

  it('sends the next read from where a fetch ended before that fetch is decoded, keeping every record once and in order', async () => {
    const log = scriptedLog();
    const tail = tailOver(log.source);
    await tail.start();
    await vi.waitFor(() => expect(log.sentFrom).toEqual([0]));
    log.produce(3);
    // The first read is still "decoding", yet the next one is already out from offset 3.
    await vi.waitFor(() => expect(log.sentFrom).toEqual([0, 3]));
    expect(tail.rings.get(0)!.nextOffset).toBe(0);
    log.produce(2);
    await vi.waitFor(() => {
      log.finishDecodes();
      expect(offsetsIn(tail)).toEqual([0, 1, 2, 3, 4]);
    });
    // No more than one read ahead of the loop: the read from 5 went out once the one from 3 was taken.
    expect(log.sentFrom.slice(0, 3)).toEqual([0, 3, 5]);
    log.finishDecodes();
    await vi.waitFor(() => expect(offsetsIn(tail)).toEqual([0, 1, 2, 3, 4]));
    await tail.stop();
  });

  it('drops the reads sent on from a failed one and resumes from the rings', async () => {
    const log = scriptedLog();
    const tail = tailOver(log.source);
    await tail.start();
    log.produce(2);
    await vi.waitFor(() => expect(log.sentFrom).toEqual([0, 2]));
    log.failNextRead();
    log.finishDecodes();
    await vi.waitFor(() => expect(tail.rings.get(0)!.nextOffset).toBe(2));
    log.produce(1);
    await vi.waitFor(
      () => {
        log.finishDecodes();
        expect(offsetsIn(tail), JSON.stringify(log.sentFrom)).toEqual([0, 1, 2]);
      },
      { timeout: 5_000 },
    );
    await tail.stop();
  });

  it('ignores a pipelined read that no longer starts where the ring ends', async () => {
    const log = scriptedLog();
    const tail = tailOver(log.source);
    await tail.start();
    log.produce(2);
    await vi.waitFor(() => expect(log.sentFrom).toEqual([0, 2]));
    // The ring moves on its own (as a reset would) while the read sent from offset 2 is out.
    tail.rings.get(0)!.reset(10);
    log.finishDecodes();
    log.produce(1);
    await vi.waitFor(() => {
      log.finishDecodes();
      expect(log.sentFrom).toContain(10);
    });
    expect(tail.rings.get(0)!.nextOffset).toBe(10);
    expect(tail.rings.get(0)!.length).toBe(0);
    await tail.stop();
  });
});
