import type { Transaction } from 'kafkajs';
import { describe, expect, it, vi } from 'vitest';
import type { Logger } from '../platform/index.js';
import type { DeadLetterRecord } from '../platform/records.js';
import { SessionCalendar } from '../contracts/calendar.js';
import { deadLetterMessage } from './dead-letters.js';
import { ENGINE_VERSION, type BarInput, type PatternEventRecord } from './engine.js';
import { coreFailure, createPatternCore, createTradeBarCore, type OutputMessage } from './partition-core.js';
import { processorChecks } from './readiness.js';
import { SkipReporter } from './skip-reporting.js';
import { snapshotKey, snapshotMessages, usableSnapshot, type SnapshotValue } from './snapshots.js';
import { NativeBarsTable, type TradeBar, type TradeInput } from './trade-bars.js';
import { commitTransaction, retryConcurrentTransactions, topicMessagesOf } from './transactions.js';

// The processor's shell modules without Kafka: each stubs only the encoder, transaction or logger it is given.

const json = (value: unknown) => Buffer.from(JSON.stringify(value));
const calendar = new SessionCalendar();
const MINUTE = 60_000;

function minuteBar(symbol: string, minute: number, close: number): BarInput {
  const start = calendar.dayOf(Date.parse('2026-11-24T17:00:00Z')).openMs + minute * MINUTE;
  return {
    symbol,
    interval: 'MINUTE',
    windowStartMs: start,
    windowEndMs: start + MINUTE,
    open: close,
    high: close + 0.05,
    low: close - 0.05,
    close,
    volume: 1000,
    source: 'massive',
  };
}

function patternCore(encodePattern: (event: PatternEventRecord) => Buffer = json, state?: Buffer) {
  return createPatternCore(
    { inputTopic: 'in', partition: 5, engine: { calendar }, patternsTopic: 'patterns', patternsPartitions: 3, encodePattern },
    state,
  );
}

const T0 = Date.parse('2026-11-24T14:30:00Z');
const trade = (symbol: string, seconds: number, price = 10): TradeInput => ({
  symbol,
  price,
  size: 100,
  sipTimestampMs: T0 + seconds * 1000,
});

function tradeCore(encodeAggregate: (bar: TradeBar) => Buffer = json, state?: Buffer) {
  return createTradeBarCore(
    {
      partition: 2,
      latenessMs: 0,
      nativeBars: new NativeBarsTable(),
      maxEventTimeSkewMs: undefined,
      minuteTopic: 'minute',
      encodeAggregate,
    },
    state,
  );
}

function silentLogger() {
  return { warn: vi.fn(), info: vi.fn() } as unknown as Logger & { warn: ReturnType<typeof vi.fn>; info: ReturnType<typeof vi.fn> };
}

describe('pattern partition core', () => {
  it('applies a bar, skips one older than the clock (saying why) and rejects an invalid one', () => {
    const core = patternCore();
    const out: OutputMessage[] = [];
    expect(core.fold(minuteBar('AAA', 5, 10), undefined, 0, out)).toBe('applied');
    expect(core.lastSkip).toBeUndefined();
    expect(core.fold(minuteBar('AAA', 3, 10), undefined, 1, out)).toBe('skipped');
    expect(core.lastSkip).toEqual({ reason: 'older-than-clock', behindMs: 2 * MINUTE });
    const rejection = core.fold({ ...minuteBar('AAA', 6, 10), close: Number.NaN }, undefined, 2, out);
    expect(rejection).toMatchObject({ reason: expect.any(String), details: expect.any(String) });
    expect(core.lastSkip).toBeUndefined();
  });

  it('produces its events on the patterns topic, partition mod the patterns partitions, and nothing while replaying', () => {
    const replayed = patternCore();
    const live = patternCore();
    const out: OutputMessage[] = [];
    for (let minute = 0; minute < 120; minute += 1) {
      const bar = minuteBar('AAA', minute, 10 + (minute % 7) * 0.3 + (minute > 60 ? minute * 0.2 : 0));
      replayed.fold(bar, undefined, minute, undefined);
      live.fold(bar, undefined, minute, out);
    }
    expect(out.length).toBeGreaterThan(0);
    for (const message of out) expect(message).toMatchObject({ topic: 'patterns', key: 'AAA', partition: 5 % 3 });
    // Replaying folds the same state without output: both snapshots are equal.
    expect(replayed.snapshot().equals(live.snapshot())).toBe(true);
  });

  it('restores from its snapshot', () => {
    const core = patternCore();
    core.fold(minuteBar('AAA', 5, 10), undefined, 0, []);
    const restored = patternCore(json, core.snapshot());
    expect(restored.fold(minuteBar('AAA', 4, 10), undefined, 1, [])).toBe('skipped');
  });

  it('turns an encoder that throws into an engine-error rejection', () => {
    const core = patternCore(() => {
      throw new Error('boom');
    });
    let outcome: ReturnType<typeof core.fold> = 'applied';
    for (let minute = 0; minute < 120 && typeof outcome === 'string'; minute += 1) {
      outcome = core.fold(minuteBar('AAA', minute, 10 + (minute % 7) * 0.3 + (minute > 60 ? minute * 0.2 : 0)), undefined, minute, []);
    }
    expect(outcome).toEqual({ reason: 'engine-error', details: 'Error: boom' });
  });
});

describe('trade-bar partition core', () => {
  it('produces closed minutes on the minute topic in its own partition, marks late trades skipped and rejects invalid ones', () => {
    const core = tradeCore();
    const out: OutputMessage[] = [];
    expect(core.fold(trade('AAA', 1), undefined, 0, out)).toBe('applied');
    expect(core.fold(trade('AAA', 61), undefined, 1, out)).toBe('applied');
    expect(out).toHaveLength(1);
    expect(out[0]).toMatchObject({ topic: 'minute', key: 'AAA', partition: 2 });
    expect(core.fold(trade('AAA', 30), undefined, 2, out)).toBe('skipped');
    expect(core.lastSkip).toEqual({ reason: 'late', behindMs: 31_000 });
    expect(core.fold({ ...trade('AAA', 62), price: Number.NaN }, undefined, 3, out)).toMatchObject({ reason: expect.any(String) });
    expect(core.fold(trade('AAA', 122), undefined, 4, undefined)).toBe('applied');
    expect(out).toHaveLength(1);
  });

  it('turns an encoder that throws into an engine-error rejection', () => {
    const core = tradeCore(() => {
      throw new TypeError('bad bar');
    });
    core.fold(trade('AAA', 1), undefined, 0, []);
    expect(core.fold(trade('AAA', 61), undefined, 1, [])).toEqual({ reason: 'engine-error', details: 'TypeError: bad bar' });
  });

  it('restores from its snapshot', () => {
    const core = tradeCore();
    core.fold(trade('AAA', 1), undefined, 0, []);
    const out: OutputMessage[] = [];
    tradeCore(json, core.snapshot()).fold(trade('AAA', 61), undefined, 1, out);
    expect(out).toHaveLength(1);
  });

  it('describes a thrown non-Error as its string', () => {
    expect(coreFailure('odd')).toEqual({ reason: 'engine-error', details: 'odd' });
  });
});

describe('snapshots', () => {
  const snapshot = (nextOffset: number, engineVersion = ENGINE_VERSION): SnapshotValue => ({
    group: 'g',
    inputTopic: 't',
    partition: 1,
    nextOffset,
    engineVersion,
    state: Buffer.alloc(0),
    createdAtMs: 0,
  });

  it('are used only when of this engine version, not past the committed offset and not below the log start', () => {
    expect(usableSnapshot(undefined, 10, 0)).toBe(false);
    expect(usableSnapshot(snapshot(5), 10, 0)).toBe(true);
    expect(usableSnapshot(snapshot(10), 10, 10)).toBe(true);
    expect(usableSnapshot(snapshot(11), 10, 0)).toBe(false);
    expect(usableSnapshot(snapshot(5), 10, 6)).toBe(false);
    expect(usableSnapshot(snapshot(5, ENGINE_VERSION + 1), 10, 0)).toBe(false);
  });

  it('are written as chunks keyed by group, topic and partition, on partition 0', () => {
    const encode = vi.fn((value: SnapshotValue) => json({ ...value, state: value.state.toString('hex') }));
    const messages = snapshotMessages({ groupId: 'g', topic: 'snaps', maxBytes: 4, encode }, 'in', 3, 42, Buffer.from('0123456789'), 7);
    expect(snapshotKey('g', 'in', 3)).toBe('g/in/3');
    expect(messages.map((message) => [message.topic, message.key, message.partition])).toEqual([
      ['snaps', 'g/in/3/0of3', 0],
      ['snaps', 'g/in/3/1of3', 0],
      ['snaps', 'g/in/3/2of3', 0],
    ]);
    expect(encode.mock.calls.map(([value]) => value.state.toString())).toEqual(['0123', '4567', '89']);
    expect(encode.mock.calls[0]![0]).toMatchObject({
      group: 'g',
      inputTopic: 'in',
      partition: 3,
      nextOffset: 42,
      engineVersion: ENGINE_VERSION,
      createdAtMs: 7,
    });
  });
});

describe('dead letters', () => {
  it('carry the raw payload and where it came from, keyed by the input topic', () => {
    const encode = vi.fn((value: DeadLetterRecord) => json({ ...value, rawPayload: value.rawPayload.toString() }));
    const message = deadLetterMessage({ topic: 'dlq', encode }, 'invalid', 'close is NaN', Buffer.from('raw'), 'in', 4, 99, 1234);
    expect(message).toMatchObject({ topic: 'dlq', key: 'in', partition: 0 });
    expect(encode).toHaveBeenCalledWith({
      stage: 'processors',
      source: 'in',
      reason: 'invalid',
      details: 'close is NaN',
      rawPayload: Buffer.from('raw'),
      sourceTopic: 'in',
      sourcePartition: 4,
      sourceOffset: 99,
      receivedAtMs: 1234,
    });
    deadLetterMessage({ topic: 'dlq', encode }, 'undecodable', null, null, 'in', 0, 0, 0);
    expect(encode.mock.calls[1]![0].rawPayload).toEqual(Buffer.alloc(0));
  });
});

describe('skip reporting', () => {
  it('warns once when (nearly) every record of a topic is skipped, says so in skipping(), and tells when it ends', () => {
    const logger = silentLogger();
    const skips = new SkipReporter(logger);
    for (let second = 0; second < 3; second += 1)
      for (let i = 0; i < 40; i += 1) skips.observe('in', second * 1000, { reason: 'outside-session' });
    skips.evaluate(3_000);
    expect(logger.warn).toHaveBeenCalledTimes(1);
    expect(logger.warn.mock.calls[0]![0]).toMatchObject({ topic: 'in', reason: 'outside-session' });
    expect(skips.skipping(3_000).map((status) => status.reason)).toEqual(['outside-session']);
    skips.evaluate(60_000);
    expect(logger.info).toHaveBeenCalledWith({ topic: 'in' }, 'processor input in: records are applied again');
    expect(skips.skipping(60_000)).toEqual([]);
  });
});

describe('readiness checks', () => {
  it('are down until the group is joined, and degraded while input is skipped', async () => {
    let ready = false;
    let skipping: { message: string }[] = [];
    const [group, input] = processorChecks({ ready: () => ready, assigned: () => ['in:0'], skipping: () => skipping as never });
    await expect(group!.check()).rejects.toThrow('not in the consumer group yet');
    ready = true;
    await expect(group!.check()).resolves.toEqual({ partitions: ['in:0'] });
    expect(input!.optional).toBe(true);
    await expect(input!.check()).resolves.toEqual({ skipping: false });
    skipping = [{ message: 'a' }, { message: 'b' }];
    await expect(input!.check()).rejects.toThrow('a; b');
  });
});

describe('transactions', () => {
  const position = { groupId: 'g', topic: 'in', partition: 1, nextOffset: 10 };
  const message = (topic: string, key: string): OutputMessage => ({ topic, key, value: Buffer.from(key), partition: 0 });

  it('group output by topic in order', () => {
    expect(topicMessagesOf([message('a', '1'), message('b', '2'), message('a', '3')])).toEqual([
      {
        topic: 'a',
        messages: [
          { key: '1', value: Buffer.from('1'), partition: 0 },
          { key: '3', value: Buffer.from('3'), partition: 0 },
        ],
      },
      { topic: 'b', messages: [{ key: '2', value: Buffer.from('2'), partition: 0 }] },
    ]);
  });

  function fakeTransaction(failOn?: 'sendOffsets') {
    const calls: string[] = [];
    const transaction = {
      sendBatch: vi.fn(async () => void calls.push('sendBatch')),
      send: vi.fn(async () => void calls.push('send')),
      sendOffsets: vi.fn(async () => {
        calls.push('sendOffsets');
        if (failOn === 'sendOffsets') throw new Error('fenced');
      }),
      commit: vi.fn(async () => void calls.push('commit')),
      abort: vi.fn(async () => void calls.push('abort')),
    };
    return { transaction, calls };
  }

  it('send output in one batch, each snapshot chunk alone, then the offsets, then commit', async () => {
    const { transaction, calls } = fakeTransaction();
    await commitTransaction(transaction as unknown as Transaction, position, [message('a', '1')], [message('s', 'c0'), message('s', 'c1')]);
    expect(calls).toEqual(['sendBatch', 'send', 'send', 'sendOffsets', 'commit']);
    expect(transaction.sendOffsets).toHaveBeenCalledWith({
      consumerGroupId: 'g',
      topics: [{ topic: 'in', partitions: [{ partition: 1, offset: '10' }] }],
    });
  });

  it('commit only the offsets when there is no output, and abort on failure', async () => {
    const empty = fakeTransaction();
    await commitTransaction(empty.transaction as unknown as Transaction, position, [], []);
    expect(empty.calls).toEqual(['sendOffsets', 'commit']);
    const failing = fakeTransaction('sendOffsets');
    await expect(commitTransaction(failing.transaction as unknown as Transaction, position, [], [])).rejects.toThrow('fenced');
    expect(failing.calls).toEqual(['sendOffsets', 'abort']);
  });

  it('retry CONCURRENT_TRANSACTIONS only', async () => {
    const concurrent = Object.assign(new Error('concurrent'), { code: 51 });
    const operation = vi.fn().mockRejectedValueOnce(concurrent).mockResolvedValueOnce('done');
    await expect(retryConcurrentTransactions(operation)).resolves.toBe('done');
    expect(operation).toHaveBeenCalledTimes(2);
    const other = vi.fn().mockRejectedValue(Object.assign(new Error('other'), { code: 47 }));
    await expect(retryConcurrentTransactions(other)).rejects.toThrow('other');
    expect(other).toHaveBeenCalledTimes(1);
    const always = vi.fn().mockRejectedValue(concurrent);
    await expect(retryConcurrentTransactions(always, 2)).rejects.toThrow('concurrent');
    expect(always).toHaveBeenCalledTimes(2);
  });
});
