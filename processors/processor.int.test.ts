import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { IHeaders } from 'kafkajs';
import {
  BROADCAST_COPY_HEADER,
  createLogger,
  createMetricsRegistry,
  isBroadcastCopy,
  readSchemaId,
  type Encoder,
} from '../platform/index.js';
import type { TestKafka } from '../test/kafka.js';
import { SessionCalendar } from '../contracts/calendar.js';
import { PatternEngine, type BarInput, type FundamentalsInput, type PatternEventRecord } from './engine.js';
import { createProcessorTestEnv, type MinuteAggregate as Aggregate, type ProcessorTestEnv, type ReadRecord } from './testing.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const calendar = new SessionCalendar();
const logger = createLogger('processor-int', { level: 'error' });
const SYMBOLS = ['AAPL', 'MSFT', 'NVDA', 'AMZN', 'META', 'TSLA', 'AMD', 'NFLX'];
const SESSIONS = ['2026-11-23', '2026-11-24'];
const FACTS: FundamentalsInput & Record<string, unknown> = {
  symbol: 'NVDA',
  asOfDate: '2026-11-01',
  fiscalPeriod: 'Q3',
  fiscalYear: 2026,
  eps: 1.2,
  epsEstimate: 1.1,
  epsSurprisePct: 9.1,
  revenue: 3.5e10,
  revenueYoYGrowthPct: 62,
  marketCap: null,
  priceToEarnings: null,
  priceToBook: null,
  evToEbitda: null,
  dividendYield: null,
  debtToEquity: null,
  source: 'test',
  updatedAtMs: 0,
};

function stream(sessions: readonly string[], minutes: number): Aggregate[] {
  let seed = 11;
  const random = () => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed / 2147483648;
  };
  const prices = new Map([...SYMBOLS, 'SPY'].map((symbol) => [symbol, 100]));
  const bars: Aggregate[] = [];
  for (const date of sessions) {
    const open = calendar.dayOf(Date.parse(`${date}T17:00:00Z`)).openMs;
    for (let minute = 0; minute < minutes; minute += 1) {
      for (const symbol of ['SPY', ...SYMBOLS]) {
        const first = prices.get(symbol)!;
        const close = first * (1 + (random() - 0.5) * 0.01);
        prices.set(symbol, close);
        const start = open + minute * 60_000;
        bars.push({
          symbol,
          interval: 'MINUTE',
          windowStartMs: start,
          windowEndMs: start + 60_000,
          open: first,
          close,
          high: Math.max(first, close) * (1 + random() * 0.002),
          low: Math.min(first, close) * (1 - random() * 0.002),
          volume: random() < 0.03 ? 6000 : 900 + Math.floor(random() * 200),
          source: 'massive',
          vwap: null,
          transactions: null,
          accumulatedVolume: null,
          officialOpen: null,
          dayVwap: null,
          averageTradeSize: null,
          otc: false,
          ingestedAtMs: start + 61_000,
        });
      }
    }
  }
  return bars;
}

describe('processor shell against the real broker', () => {
  let harness: ProcessorTestEnv;
  let env: TestKafka;
  let minuteTopic: string;
  let inputCount = 0;
  let homePartition = 0;
  let encode: Encoder<Aggregate>;
  const children: ChildProcess[] = [];

  beforeAll(async () => {
    harness = await createProcessorTestEnv('proc', logger);
    env = harness.kafka;
    minuteTopic = env.codec.topic('minuteAggregates');
    encode = await env.codec.encoderFor<Aggregate>('minuteAggregates');
    await harness.produce('fundamentals', [{ key: 'NVDA', value: await env.codec.encode('fundamentals', FACTS) }]);
    const bars = stream(SESSIONS, 390);
    // Learn the benchmark's home partition; every other partition gets copies with the broadcast header.
    const [home] = await harness.produce('minuteAggregates', [{ key: 'SPY', value: encode(bars[0]!) }]);
    homePartition = home!.partition;
    await produceBars(bars.slice(1), [
      // Bad input: undecodable bytes and an impossible bar; both must land in the dead-letter topic.
      { key: 'AAPL', value: Buffer.from('not avro') },
      { key: 'AAPL', value: encode({ ...bars.at(-1)!, symbol: 'AAPL', high: 1, low: 2 }) },
    ]);
    inputCount += 1;
  });

  async function produceBars(bars: readonly Aggregate[], extra: { key: string; value: Buffer }[] = []): Promise<void> {
    const ordered: { key: string; value: Buffer; partition?: number; headers?: IHeaders }[] = [];
    for (const bar of bars) {
      const value = encode(bar);
      ordered.push({ key: bar.symbol, value });
      if (bar.symbol === 'SPY') {
        for (let partition = 0; partition < 6; partition += 1) {
          if (partition !== homePartition) ordered.push({ key: 'SPY', value, partition, headers: { [BROADCAST_COPY_HEADER]: '1' } });
        }
      }
    }
    ordered.push(...extra);
    await harness.produce('minuteAggregates', ordered);
    inputCount += ordered.length;
  }

  afterAll(async () => {
    for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
    await harness?.cleanup();
  });

  async function expectedOutput(): Promise<Map<number, Buffer[]>> {
    const input = await harness.read('minuteAggregates');
    expect(input).toHaveLength(inputCount);
    const encode = await env.codec.encoderFor<PatternEventRecord>('patterns');
    const facts = new Map([[FACTS.symbol, FACTS]]);
    const engines = new Map<number, PatternEngine>();
    const expected = new Map<number, Buffer[]>();
    input.sort((a, b) => a.partition - b.partition || Number(a.message.offset) - Number(b.message.offset));
    for (const { partition, message } of input) {
      let engine = engines.get(partition);
      if (!engine) engines.set(partition, (engine = new PatternEngine({ fundamentals: { get: (symbol) => facts.get(symbol) } })));
      let bar: BarInput;
      try {
        bar = await env.codec.decode<BarInput>(message.value!);
      } catch {
        continue;
      }
      const events: PatternEventRecord[] = [];
      engine.onBar(bar, { topic: minuteTopic, partition, offset: Number(message.offset) }, isBroadcastCopy(message.headers), events);
      const list = expected.get(partition) ?? [];
      for (const event of events) list.push(encode(event));
      expected.set(partition, list);
    }
    return expected;
  }

  const committedByPartition = (groupId: string) => harness.committed(groupId);

  async function committedTotal(groupId: string): Promise<number> {
    return [...(await harness.committed(groupId)).values()].reduce((sum, offset) => sum + Math.max(0, offset), 0);
  }

  const highWatermarkTotal = () => harness.highWatermarkTotal();

  /** The output topic holds exactly the reference engine's events, byte for byte, in order per partition. */
  async function expectExactlyOnce(): Promise<ReadRecord[]> {
    const expected = await expectedOutput();
    const output = await harness.read('patterns');
    const actual = new Map<number, string[]>();
    for (const { partition, message } of output) actual.set(partition, [...(actual.get(partition) ?? []), message.value!.toString('hex')]);
    let events = 0;
    for (const [partition, list] of expected) {
      events += list.length;
      expect(actual.get(partition) ?? []).toEqual(list.map((buffer) => buffer.toString('hex')));
    }
    expect(events).toBeGreaterThan(50);
    expect(output).toHaveLength(events);
    return output;
  }

  function startChild(groupId: string): ChildProcess {
    const child = spawn(process.execPath, ['bin/tickflow.js', 'process', '--ops-port', '0'], {
      cwd: root,
      env: {
        ...process.env,
        TOPIC_PREFIX: env.prefix,
        PROCESSOR_GROUP_ID: groupId,
        PROCESSOR_INPUTS: 'minuteAggregates',
        PROCESSOR_TRADE_BARS: 'false',
        PROCESSOR_MAX_RECORDS_PER_TRANSACTION: '40',
        PROCESSOR_SNAPSHOT_EVERY_RECORDS: '400',
        LOG_LEVEL: 'error',
      },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    children.push(child);
    return child;
  }

  it('a SIGKILLed processor and a rebalance leave each expected event exactly once (read_committed)', async () => {
    const groupId = `${env.prefix}processors`;
    const total = await highWatermarkTotal();
    const child = startChild(groupId);
    await vi.waitFor(async () => expect(await committedTotal(groupId)).toBeGreaterThan(total / 5), { timeout: 90_000, interval: 100 });
    // A second instance joins: the partitions are split (rebalance) while the first keeps going.
    const second = await harness.start({
      groupId,
      snapshotEveryRecords: 400,
      maxRecordsPerTransaction: 40,
    });
    await vi.waitFor(() => expect(second.assigned().length).toBeGreaterThan(0), { timeout: 60_000, interval: 100 });
    const killedAt = await committedTotal(groupId);
    expect(killedAt).toBeLessThan(total);
    child.kill('SIGKILL');
    await new Promise((resolve) => child.once('exit', resolve));
    // The survivor takes over every partition and finishes the log.
    await vi.waitFor(async () => expect(await committedTotal(groupId)).toBe(total), { timeout: 110_000, interval: 200 });

    const output = await expectExactlyOnce();
    const decoded = await Promise.all(output.slice(0, 200).map(({ message }) => env.codec.decode<PatternEventRecord>(message.value!)));
    expect(new Set(decoded.map((event) => event.kind))).toContain('DETECTED');
    // Benchmark patterns come only from its home partition (copies never emit).
    expect(decoded.filter((event) => event.symbol === 'SPY').every((event) => event.sourcePartition === homePartition)).toBe(true);
    expect(readSchemaId(output[0]!.message.value!)).toBeGreaterThan(0);

    const deadLetters = await harness.read('deadLetters');
    expect(deadLetters).toHaveLength(2);
    const reasons = await Promise.all(
      deadLetters.map(({ message }) => env.codec.decode<{ reason: string; sourceTopic: string }>(message.value!)),
    );
    expect(reasons.map((entry) => entry.reason).sort()).toEqual(['invalid', 'undecodable']);

    // A clean stop writes a snapshot per partition with the offsets it matches.
    await second.stop();
    const snapshots = await harness.read('processorSnapshots');
    const latest = new Map<number, { nextOffset: number }>();
    for (const { message } of snapshots) {
      const snapshot = await env.codec.decode<{ nextOffset: number; partition: number }>(message.value!);
      if ((latest.get(snapshot.partition)?.nextOffset ?? -1) < snapshot.nextOffset) latest.set(snapshot.partition, snapshot);
    }
    // Each partition has a snapshot, never ahead of the offsets committed with it.
    expect(latest.size).toBe(6);
    const committed = await committedByPartition(groupId);
    for (const [partition, snapshot] of latest) {
      expect(snapshot.nextOffset).toBeGreaterThan(0);
      expect(snapshot.nextOffset).toBeLessThanOrEqual(committed.get(partition)!);
    }
  }, 300_000);

  it('a restart replays only from the snapshots (not all history), and a new group reproduces the same bytes', async () => {
    const groupId = `${env.prefix}processors`;
    // What a restart must replay at most: the records between each snapshot and its committed offset.
    const snapshots = await harness.read('processorSnapshots');
    const snapshotAt = new Map<number, number>();
    for (const { message } of snapshots) {
      const snapshot = await env.codec.decode<{ nextOffset: number; partition: number }>(message.value!);
      snapshotAt.set(snapshot.partition, Math.max(snapshotAt.get(snapshot.partition) ?? 0, snapshot.nextOffset));
    }
    const committedBefore = await committedByPartition(groupId);
    const gap = [...committedBefore].reduce((sum, [partition, offset]) => sum + offset - (snapshotAt.get(partition) ?? 0), 0);
    const registry = createMetricsRegistry('processor-int', { collectDefaults: false });
    const restarted = await harness.start({
      groupId,
      metrics: registry,
      snapshotMaxBytes: 4_000,
    });
    await vi.waitFor(() => expect(restarted.ready()).toBe(true), { timeout: 60_000, interval: 100 });
    // The next session's first minutes: they also close yesterday's daily bars (daily tier, gaps).
    await produceBars(
      stream(['2026-11-25'], 3).map((bar, i) => {
        const open = bar.open * (i % 2 === 0 ? 1.02 : 0.98);
        return { ...bar, open, high: Math.max(bar.high, open), low: Math.min(bar.low, open) };
      }),
    );
    const total = await highWatermarkTotal();
    await vi.waitFor(async () => expect(await committedTotal(groupId)).toBe(total), { timeout: 110_000, interval: 200 });
    const records = (await registry.getSingleMetric('tickflow_processor_records_total')!.get()).values;
    const replayed = records.filter((entry) => entry.labels.outcome === 'replayed').reduce((sum, entry) => sum + entry.value, 0);
    expect(replayed).toBeLessThanOrEqual(gap);
    expect(replayed).toBeLessThan(inputCount / 2);
    expect(records.reduce((sum, entry) => sum + entry.value, 0)).toBeGreaterThan(0);
    await restarted.stop();

    // Its clean stop wrote chunked snapshots (4 kB chunks) at the committed offsets: the next start restores them
    // and replays nothing.
    const chunkedRegistry = createMetricsRegistry('processor-int', { collectDefaults: false });
    const third = await harness.start({
      groupId,
      metrics: chunkedRegistry,
      snapshotMaxBytes: 4_000,
    });
    await vi.waitFor(() => expect(third.ready()).toBe(true), { timeout: 60_000, interval: 100 });
    await produceBars(stream(['2026-11-25'], 5).slice(9 * 3));
    const grown = await highWatermarkTotal();
    await vi.waitFor(async () => expect(await committedTotal(groupId)).toBe(grown), { timeout: 110_000, interval: 200 });
    const thirdRecords = (await chunkedRegistry.getSingleMetric('tickflow_processor_records_total')!.get()).values;
    expect(thirdRecords.filter((entry) => entry.labels.outcome === 'replayed').reduce((sum, entry) => sum + entry.value, 0)).toBe(0);
    expect(thirdRecords.filter((entry) => entry.labels.outcome === 'applied').reduce((sum, entry) => sum + entry.value, 0)).toBeGreaterThan(
      0,
    );
    await third.stop();
    const chunkKeys = (await harness.read('processorSnapshots')).map(({ message }) => message.key!.toString());
    expect(chunkKeys.some((key) => /\/[1-9]\d*of\d+$/.test(key))).toBe(true);

    const firstRun = await expectExactlyOnce();
    const decoded = await Promise.all(firstRun.map(({ message }) => env.codec.decode<PatternEventRecord>(message.value!)));
    expect(decoded.some((event) => event.tier === 'DAILY')).toBe(true);
    expect(decoded.some((event) => event.kind === 'EXPIRED')).toBe(true);
    expect(decoded.some((event) => event.symbol === 'NVDA' && event.fundamentalReasons.length === 2)).toBe(true);

    // A second group over the same log: its events are byte-identical copies of the first group's.
    const replay = await harness.start({
      groupId: `${env.prefix}replay`,
    });
    await vi.waitFor(async () => expect(await committedTotal(`${env.prefix}replay`)).toBe(grown), { timeout: 110_000, interval: 200 });
    await replay.stop();
    const both = await harness.read('patterns');
    expect(both).toHaveLength(firstRun.length * 2);
    for (let partition = 0; partition < 6; partition += 1) {
      const values = both.filter((entry) => entry.partition === partition).map((entry) => entry.message.value!.toString('hex'));
      const half = values.length / 2;
      expect(values.slice(half)).toEqual(values.slice(0, half));
    }
  }, 300_000);
});

describe('processor shell: trades to minute bars, and the daily topic', () => {
  let harness: ProcessorTestEnv;
  let env: TestKafka;

  beforeAll(async () => {
    harness = await createProcessorTestEnv('proctrades', logger, ['trades']);
    env = harness.kafka;
  });

  afterAll(async () => {
    await harness?.cleanup();
  });

  it('builds minute bars from trades exactly once, only for symbols without native bars, and runs the daily tier on daily bars', async () => {
    const open = calendar.dayOf(Date.parse('2026-11-24T17:00:00Z')).openMs;
    const encodeTrade = await env.codec.encoderFor<Record<string, unknown>>('trades');
    const trades = [];
    for (let second = 0; second < 5 * 60; second += 10) {
      trades.push({
        key: 'ONLYT',
        value: encodeTrade({
          symbol: 'ONLYT',
          exchange: 4,
          tradeId: String(second),
          tape: 3,
          price: 50 + (second % 60) / 100,
          size: 100,
          fractionalSize: null,
          conditions: [],
          sipTimestampMs: open + second * 1000,
          sequence: second,
          trfId: null,
          trfTimestampMs: null,
          source: 'test',
          ingestedAtMs: open + second * 1000,
        }),
      });
    }
    // NATIVE has native minute bars as well as trades: it must get no trade-built bars.
    const encodeMinute = await env.codec.encoderFor<Record<string, unknown>>('minuteAggregates');
    const nativeBars = [0, 1, 2, 3, 4].map((minute) => ({
      key: 'NATIVE',
      value: encodeMinute({
        symbol: 'NATIVE',
        interval: 'MINUTE',
        windowStartMs: open + minute * 60_000,
        windowEndMs: open + (minute + 1) * 60_000,
        open: 70,
        high: 71,
        low: 69,
        close: 70.5,
        volume: 1000,
        vwap: null,
        transactions: null,
        accumulatedVolume: null,
        officialOpen: null,
        dayVwap: null,
        averageTradeSize: null,
        otc: false,
        source: 'massive',
        ingestedAtMs: 0,
      }),
    }));
    await harness.produce('minuteAggregates', nativeBars);
    for (let second = 0; second < 5 * 60; second += 20) {
      trades.push({
        key: 'NATIVE',
        value: encodeTrade({
          symbol: 'NATIVE',
          exchange: 4,
          tradeId: `n${second}`,
          tape: 3,
          price: 70,
          size: 100,
          fractionalSize: null,
          conditions: [],
          sipTimestampMs: open + second * 1000 + 1,
          sequence: second,
          trfId: null,
          trfTimestampMs: null,
          source: 'test',
          ingestedAtMs: open + second * 1000,
        }),
      });
    }
    await harness.produce('trades', trades);
    const encodeBar = await env.codec.encoderFor<Record<string, unknown>>('dailyAggregates');
    const days: { key: string; value: Buffer }[] = [];
    let dayNumber = calendar.dayOf(Date.parse('2026-10-01T17:00:00Z')).dayNumber;
    for (let count = 0; count < 30; dayNumber += 1) {
      const day = calendar.day(dayNumber);
      if (!day.isTradingDay) continue;
      count += 1;
      const close = count === 30 ? 130 : 100 + (count % 2);
      days.push({
        key: 'DAILY1',
        value: encodeBar({
          symbol: 'DAILY1',
          interval: 'DAY',
          windowStartMs: day.startMs,
          windowEndMs: day.endMs,
          open: 100,
          high: Math.max(close, 100) + 1,
          low: 99,
          close,
          volume: count === 30 ? 9e6 : 1e6,
          vwap: null,
          transactions: null,
          accumulatedVolume: null,
          officialOpen: null,
          dayVwap: null,
          averageTradeSize: null,
          otc: false,
          source: 'rest',
          ingestedAtMs: 0,
        }),
      });
    }
    await harness.produce('dailyAggregates', days);

    const handle = await harness.start({
      groupId: `${env.prefix}g`,
      inputs: ['minuteAggregates', 'dailyAggregates'],
      tradeBars: true,
      tradeBarLatenessMs: 0,
    });
    // Four minutes are closed by later trades; the fifth stays open (no later trade).
    const tradeBuilt = async () =>
      (
        await Promise.all(
          (await harness.read('minuteAggregates')).map(({ message }) => env.codec.decode<Record<string, unknown>>(message.value!)),
        )
      ).filter((bar) => bar.source === 'trades');
    await vi.waitFor(async () => expect((await tradeBuilt()).length).toBe(4), { timeout: 60_000, interval: 200 });
    const bars = await tradeBuilt();
    expect(bars.map((bar) => bar.windowStartMs)).toEqual([0, 1, 2, 3].map((minute) => open + minute * 60_000));
    expect(bars.every((bar) => bar.symbol === 'ONLYT')).toBe(true);
    // Every trade, NATIVE's too, has been folded: the group's committed trades offsets reach the end of the topic.
    const high = await harness.highWatermarkTotal('trades');
    await vi.waitFor(
      async () => {
        const offsets = await harness.committed(`${env.prefix}g`, 'trades');
        expect([...offsets.values()].reduce((sum, offset) => sum + Math.max(0, offset), 0)).toBe(high);
      },
      { timeout: 60_000, interval: 200 },
    );
    expect(await tradeBuilt()).toHaveLength(4);
    expect(bars[0]).toMatchObject({
      symbol: 'ONLYT',
      source: 'trades',
      open: 50,
      high: 50.5,
      low: 50,
      close: 50.5,
      volume: 600,
      transactions: 6,
    });
    await vi.waitFor(
      async () => {
        const events = await Promise.all(
          (await harness.read('patterns')).map(({ message }) => env.codec.decode<PatternEventRecord>(message.value!)),
        );
        expect(events.some((event) => event.symbol === 'DAILY1' && event.tier === 'DAILY' && event.pattern === 'volume_spike')).toBe(true);
      },
      { timeout: 60_000, interval: 200 },
    );
    expect(handle.assigned().some((key) => key.startsWith(env.codec.topic('trades')))).toBe(true);
    await handle.stop();
    // Every trade was folded (offsets committed), and still no bar for NATIVE.
    expect(await tradeBuilt()).toHaveLength(4);
  }, 300_000);
});
