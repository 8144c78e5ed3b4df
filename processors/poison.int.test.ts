import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createLogger, type DeadLetterRecord, type Encoder } from '../platform/index.js';
import type { TestKafka } from '../test/kafka.js';
import { SessionCalendar } from '../contracts/calendar.js';
import { PatternEngine, type PatternEventRecord } from './engine.js';
import { createProcessorTestEnv, type MinuteAggregate as Aggregate, type ProcessorTestEnv } from './testing.js';

// Issue 18, items 13 and 14: poisoned records in the minute topic are dead-lettered with their reason, exactly
// once and deterministically, and neither stop the partition nor move its event-time clock.
const logger = createLogger('processor-poison-int', { level: 'error' });
const calendar = new SessionCalendar();
const MINUTE = 60_000;
const DAY = 86_400_000;
const SESSIONS = ['2026-11-23', '2026-11-24'];

function stream(): Aggregate[] {
  let seed = 3;
  const random = () => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed / 2147483648;
  };
  const prices = new Map([
    ['AAA', 100],
    ['BBB', 50],
  ]);
  const bars: Aggregate[] = [];
  for (const date of SESSIONS) {
    const openMs = calendar.dayOf(Date.parse(`${date}T17:00:00Z`)).openMs;
    for (let minute = 0; minute < 390; minute += 1) {
      for (const symbol of prices.keys()) {
        const open = prices.get(symbol)!;
        const close = open * (1 + (random() - 0.5) * 0.01);
        prices.set(symbol, close);
        const start = openMs + minute * MINUTE;
        bars.push({
          symbol,
          interval: 'MINUTE',
          windowStartMs: start,
          windowEndMs: start + MINUTE,
          open,
          close,
          high: Math.max(open, close) * (1 + random() * 0.002),
          low: Math.min(open, close) * (1 - random() * 0.002),
          volume: random() < 0.03 ? 6000 : 900 + Math.floor(random() * 200),
          source: 'massive',
          vwap: null,
          transactions: null,
          accumulatedVolume: null,
          officialOpen: null,
          dayVwap: null,
          averageTradeSize: null,
          otc: false,
          ingestedAtMs: start + MINUTE + 1_000,
        });
      }
    }
  }
  return bars;
}

/** A calendar that cannot place one instant: the bar starting then makes the engine throw (a stand-in for any bug). */
class ThrowingCalendar extends SessionCalendar {
  constructor(private readonly poisonMs: number) {
    super();
  }

  override dayOf(utcMs: number) {
    if (utcMs === this.poisonMs) throw new RangeError('stub calendar cannot place this instant');
    return super.dayOf(utcMs);
  }
}

/** Events as the clean reference would emit them, without the source offsets (the poison shifts them). */
function withoutOffsets(events: readonly PatternEventRecord[]): string[] {
  return events.map(({ sourceOffset: _offset, ...event }) => JSON.stringify(event));
}

describe('poisoned records in the processor input (real broker)', () => {
  let harness: ProcessorTestEnv;
  let env: TestKafka;
  let minuteTopic: string;
  let encode: Encoder<Aggregate>;
  const clean = stream();
  const at = clean.length / 4;
  const base = clean[at]!;
  // The engine threw RangeError on this one (outside the Date range) and the batch was retried forever.
  const outsideDateRange: Aggregate = { ...base, windowStartMs: 9e15, windowEndMs: 9e15 + MINUTE };
  // A year ahead, for another symbol: it moved the partition's clock and expired every pattern.
  const yearAhead: Aggregate = {
    ...clean[at + 1]!,
    windowStartMs: base.windowStartMs + 365 * DAY,
    windowEndMs: base.windowEndMs + 365 * DAY,
  };
  // In microseconds (year ~57,000): accepted, and every later bar of the symbol was a "duplicate".
  const microseconds: Aggregate = { ...base, windowStartMs: base.windowStartMs * 1000, windowEndMs: base.windowEndMs * 1000 };
  // A plausible bar the (stubbed) calendar throws on: any throw of the engine must dead-letter, not stall.
  const throwsMs = base.windowStartMs + 30_000;
  const throwing: Aggregate = { ...base, symbol: 'CCC', windowStartMs: throwsMs, windowEndMs: throwsMs + 30_000 };
  const poison = [outsideDateRange, yearAhead, microseconds, throwing];
  let poisonOffsets: number[] = [];
  let total = 0;

  beforeAll(async () => {
    harness = await createProcessorTestEnv('procpoison', logger);
    env = harness.kafka;
    minuteTopic = env.codec.topic('minuteAggregates');
    encode = await env.codec.encoderFor<Aggregate>('minuteAggregates');
    const ordered = [...clean.slice(0, at), ...poison, ...clean.slice(at)];
    poisonOffsets = poison.map((_, index) => at + index);
    await harness.produce(
      'minuteAggregates',
      ordered.map((bar) => ({ key: bar.symbol, value: encode(bar), partition: 0 })),
    );
    total = ordered.length;
  });

  afterAll(async () => {
    await harness?.cleanup();
  });

  async function committed(groupId: string): Promise<number> {
    return (await harness.committed(groupId)).get(0) ?? -1;
  }

  async function runGroup(groupId: string): Promise<void> {
    const handle = await harness.start({
      groupId,
      useFundamentals: false,
      engine: { calendar: new ThrowingCalendar(throwsMs) },
      snapshotEveryRecords: 300,
      maxRecordsPerTransaction: 100,
      stallTimeoutMs: 600_000,
    });
    // The partition moves past the poison to the end of the log.
    await vi.waitFor(async () => expect(await committed(groupId)).toBe(total), { timeout: 60_000, interval: 200 });
    await handle.stop();
  }

  async function deadLetters(): Promise<DeadLetterRecord[]> {
    return Promise.all((await harness.read('deadLetters')).map(({ message }) => env.codec.decode<DeadLetterRecord>(message.value!)));
  }

  it('dead-letters each poisoned record once with its reason, moves on, and emits what the clean stream emits', async () => {
    await runGroup(`${env.prefix}first`);
    const letters = await deadLetters();
    expect(letters.map((letter) => [letter.sourceOffset, letter.reason])).toEqual([
      [poisonOffsets[0], 'implausible-time'],
      [poisonOffsets[1], 'ahead-of-watermark'],
      [poisonOffsets[2], 'implausible-time'],
      [poisonOffsets[3], 'engine-error'],
    ]);
    expect(
      letters.every((letter) => letter.stage === 'processors' && letter.sourceTopic === minuteTopic && letter.sourcePartition === 0),
    ).toBe(true);
    expect(letters[0]!.details).toMatch(/windowStartMs is after 2200/);
    expect(letters[1]!.details).toMatch(/365\.0 days ahead/);
    expect(letters[3]!.details).toMatch(/RangeError: stub calendar/);
    expect(letters.map((letter) => Buffer.from(letter.rawPayload).equals(encode(poison[letters.indexOf(letter)]!)))).toEqual([
      true,
      true,
      true,
      true,
    ]);

    // The records after the poison were folded, and nothing the poison did shows in the events: they are the
    // clean stream's events (detections and expiries of both symbols), in order.
    const output = await Promise.all(
      (await harness.read('patterns')).map(({ message }) => env.codec.decode<PatternEventRecord>(message.value!)),
    );
    const reference = new PatternEngine();
    const expected: PatternEventRecord[] = [];
    clean.forEach((bar, offset) => reference.onBar(bar, { topic: minuteTopic, partition: 0, offset }, false, expected));
    expect(expected.filter((event) => event.kind === 'EXPIRED').length).toBeGreaterThan(10);
    expect(output.filter((event) => event.sourceOffset > poisonOffsets[3]!).length).toBeGreaterThan(expected.length / 2);
    expect(withoutOffsets(output)).toEqual(withoutOffsets(expected));
  }, 120_000);

  it('a replay (another group over the same log) dead-letters the same records and produces the same bytes', async () => {
    const firstEvents = (await harness.read('patterns')).map(({ message }) => message.value!.toString('hex'));
    await runGroup(`${env.prefix}replay`);
    const both = (await harness.read('patterns')).map(({ message }) => message.value!.toString('hex'));
    expect(both).toHaveLength(firstEvents.length * 2);
    expect(both.slice(firstEvents.length)).toEqual(firstEvents);
    const letters = await deadLetters();
    expect(letters).toHaveLength(8);
    const describe = (letter: DeadLetterRecord) => `${letter.sourceOffset} ${letter.reason} ${letter.details}`;
    expect(letters.slice(4).map(describe)).toEqual(letters.slice(0, 4).map(describe));
  }, 120_000);
});

describe('poisoned trades in the processor input (real broker)', () => {
  let harness: ProcessorTestEnv;
  let env: TestKafka;

  beforeAll(async () => {
    harness = await createProcessorTestEnv('procpoisontrades', logger, ['trades']);
    env = harness.kafka;
  });

  afterAll(async () => {
    await harness?.cleanup();
  });

  it('dead-letters a trade stamped a year ahead or in microseconds; the trade bars are those of the clean trades', async () => {
    const open = calendar.dayOf(Date.parse('2026-11-24T17:00:00Z')).openMs;
    const encodeTrade = await env.codec.encoderFor<Record<string, unknown>>('trades');
    const trade = (symbol: string, atMs: number, price: number, id: string) => ({
      symbol,
      exchange: 4,
      tradeId: id,
      tape: 3,
      price,
      size: 100,
      fractionalSize: null,
      conditions: [],
      sipTimestampMs: atMs,
      sequence: 1,
      trfId: null,
      trfTimestampMs: null,
      source: 'test',
      ingestedAtMs: Math.min(atMs, open + 10 * MINUTE) + 5,
    });
    const clean = [];
    for (let second = 0; second < 5 * 60; second += 10)
      clean.push(trade(second % 20 === 0 ? 'AAA' : 'BBB', open + second * 1000, 50 + (second % 60) / 100, String(second)));
    const at = clean.length / 2;
    const poison = [
      { ...clean[at]!, tradeId: 'year', sipTimestampMs: clean[at]!.sipTimestampMs + 365 * DAY },
      { ...clean[at]!, tradeId: 'micro', sipTimestampMs: clean[at]!.sipTimestampMs * 1000 },
    ];
    const ordered = [...clean.slice(0, at), ...poison, ...clean.slice(at)];
    await harness.produce(
      'trades',
      ordered.map((value) => ({ key: value.symbol, value: encodeTrade(value), partition: 0 })),
    );

    const handle = await harness.start({
      groupId: `${env.prefix}g`,
      tradeBars: true,
      tradeBarLatenessMs: 0,
      useFundamentals: false,
    });
    const letters = async () =>
      Promise.all((await harness.read('deadLetters')).map(({ message }) => env.codec.decode<DeadLetterRecord>(message.value!)));
    await vi.waitFor(async () => expect((await letters()).length).toBe(2), { timeout: 60_000, interval: 200 });
    expect((await letters()).map((letter) => [letter.sourceTopic, letter.sourceOffset, letter.reason])).toEqual([
      [env.codec.topic('trades'), at, 'ahead-of-watermark'],
      [env.codec.topic('trades'), at + 1, 'implausible-time'],
    ]);
    // Four minutes of each symbol closed by later trades (the fifth stays open): the poison closed none early.
    const built = async () =>
      Promise.all(
        (await harness.read('minuteAggregates')).map(({ message }) => env.codec.decode<Record<string, number | string>>(message.value!)),
      );
    await vi.waitFor(async () => expect((await built()).length).toBe(8), { timeout: 60_000, interval: 200 });
    const bars = await built();
    expect(bars.every((bar) => (bar.windowStartMs as number) < open + 5 * MINUTE)).toBe(true);
    expect(bars.filter((bar) => bar.symbol === 'AAA').map((bar) => bar.transactions)).toEqual([3, 3, 3, 3]);
    await handle.stop();
  }, 120_000);
});
