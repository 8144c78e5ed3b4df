import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { BROADCAST_COPY_HEADER, Partitioners, createLogger, createMetricsRegistry } from '../platform/index.js';
import type { TestKafka } from '../test/kafka.js';
import { createIngestMetrics } from './metrics.js';
import type { AggregateRecord, OutRecord, TradeRecord } from './records.js';
import { KafkaSink } from './sink.js';
import { collectTopics, createIngestTestTopics } from './testing/collect.js';

// The sink on both producer libraries against the real broker and registry: same keys, partitions,
// broadcast copies and per-symbol order.

const logger = createLogger('sink-int', { level: 'silent' });
const partitionOf = (key: string) =>
  Partitioners.DefaultPartitioner()({
    topic: 't',
    partitionMetadata: Array.from({ length: 6 }, (_, partitionId) => ({
      partitionId,
      leader: 0,
      partitionErrorCode: 0,
      replicas: [0],
      isr: [0],
    })),
    message: { key, value: null },
  });

const trade = (symbol: string, sequence: number): OutRecord => {
  const value: TradeRecord = {
    symbol,
    exchange: 4,
    tradeId: String(sequence),
    tape: 3,
    price: 100 + sequence / 100,
    size: 100,
    fractionalSize: null,
    conditions: [],
    sipTimestampMs: 1_764_000_000_000 + sequence,
    sequence,
    trfId: null,
    trfTimestampMs: null,
    source: 'simulator',
    ingestedAtMs: 1_764_000_000_000,
  };
  return { topic: 'trades', key: symbol, value, eventTimeMs: value.sipTimestampMs };
};

const spyBar = (windowStartMs: number): OutRecord => {
  const value: AggregateRecord = {
    symbol: 'SPY',
    interval: 'MINUTE',
    windowStartMs,
    windowEndMs: windowStartMs + 60_000,
    open: 600,
    high: 601,
    low: 599,
    close: 600.5,
    volume: 1000,
    vwap: 600.2,
    transactions: null,
    accumulatedVolume: 1000,
    officialOpen: 600,
    dayVwap: 600.2,
    averageTradeSize: 100,
    otc: false,
    source: 'simulator',
    ingestedAtMs: 1_764_000_000_000,
  };
  return { topic: 'minuteAggregates', key: 'SPY', value, eventTimeMs: value.windowEndMs };
};

let topics: TestKafka;
beforeAll(async () => {
  topics = await createIngestTestTopics('ingest-sink', ['trades', 'minuteAggregates', 'deadLetters']);
});
afterAll(async () => {
  await topics?.cleanup();
});

describe.each(['kafkajs', 'platformatic'] as const)('Kafka sink on %s', (client) => {
  it('produces keyed by symbol on murmur2 partitions, in order per symbol, with benchmark bars on every partition', async () => {
    const sink = await KafkaSink.create({
      kafka: topics.kafka,
      codec: topics.codec,
      logger,
      metrics: createIngestMetrics(createMetricsRegistry('ingest', { collectDefaults: false })),
      benchmarkSymbol: 'SPY',
      topics: ['trades', 'minuteAggregates'],
      maxBatchMessages: 50,
      client,
      brokers: topics.brokers,
    });
    const symbols = ['AAPL', 'MSFT', 'NVDA', 'TSLA', 'AMZN', 'META'];
    const records = Array.from({ length: 600 }, (_, index) =>
      trade(`${symbols[index % symbols.length]}`, 1_000 * (client === 'kafkajs' ? 1 : 2) + index),
    );
    sink.produce(records.slice(0, 300));
    const barStart = 1_764_000_000_000 + (client === 'kafkajs' ? 0 : 60_000);
    sink.produce([spyBar(barStart)]);
    sink.produce(records.slice(300));
    await sink.flush();
    await sink.close();

    const collector = await collectTopics(topics.kafka, topics.codec, ['trades', 'minuteAggregates']);
    try {
      const mine = () =>
        collector
          .on('trades')
          .filter((message) => Math.floor((message.value.sequence as number) / 1_000) === (client === 'kafkajs' ? 1 : 2));
      await vi.waitFor(() => expect(mine()).toHaveLength(600), { timeout: 30_000, interval: 200 });
      for (const message of mine()) expect(message.partition).toBe(partitionOf(message.key));
      for (const symbol of symbols) {
        const sequences = mine()
          .filter((message) => message.key === symbol)
          .map((message) => message.value.sequence as number);
        expect(sequences).toEqual([...sequences].sort((a, b) => a - b));
        expect(sequences).toHaveLength(100);
      }
      const bars = () => collector.on('minuteAggregates').filter((message) => message.value.windowStartMs === barStart);
      await vi.waitFor(() => expect(bars()).toHaveLength(6), { timeout: 30_000, interval: 200 });
      expect(
        bars()
          .map((message) => message.partition)
          .sort(),
      ).toEqual([0, 1, 2, 3, 4, 5]);
      for (const bar of bars()) expect(bar.headers[BROADCAST_COPY_HEADER] !== undefined).toBe(bar.partition !== partitionOf('SPY'));
    } finally {
      await collector.stop();
    }
  });
});
