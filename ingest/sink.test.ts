import { afterEach, describe, expect, it, vi } from 'vitest';
import type { ProducerBatch, RecordMetadata } from 'kafkajs';
import { BROADCAST_COPY_HEADER, Partitioners, createLogger, createMetricsRegistry } from '../platform/index.js';
import { capturedLogger } from '../test/log-capture.js';
import { createIngestMetrics, type IngestMetrics } from './metrics.js';
import type { OutRecord, RecordValue } from './records.js';
import { KafkaSink, transactionalBatches, type BatchProducer, type SinkWiring } from './sink.js';

// The Kafka sink against a stubbed producer boundary: partitioning, and what happens when Kafka fails.

const logger = createLogger('sink-test', { level: 'silent' });
const PARTITIONS = 6;

interface Delivered {
  readonly topic: string;
  readonly key: string;
  readonly partition: number | undefined;
  readonly headers: Record<string, unknown> | undefined;
}

/** A producer whose behaviour the test switches: acknowledge, reject, or never answer. */
class StubProducer implements BatchProducer {
  mode: 'ok' | 'fail' | 'hang' | 'fenced' = 'ok';
  attempts = 0;
  readonly delivered: Delivered[] = [];

  async sendBatch(batch: ProducerBatch): Promise<RecordMetadata[]> {
    this.attempts += 1;
    if (this.mode === 'fail') throw new Error('KafkaJSNonRetriableError: broker said no');
    if (this.mode === 'hang') return new Promise<RecordMetadata[]>(() => undefined);
    // As kafkajs rejects a transaction of a fenced producer: the protocol error as the cause of a non-retriable one.
    if (this.mode === 'fenced')
      throw Object.assign(new Error('The producer attempted to use a producer id which is currently assigned to its transactional id'), {
        name: 'KafkaJSNonRetriableError',
        cause: Object.assign(new Error('fenced'), { name: 'KafkaJSProtocolError', type: 'INVALID_PRODUCER_EPOCH', code: 47 }),
      });
    for (const { topic, messages } of batch.topicMessages ?? []) {
      for (const message of messages)
        this.delivered.push({ topic, key: String(message.key), partition: message.partition, headers: message.headers });
    }
    return [];
  }

  async disconnect(): Promise<void> {}
}

function wiring(producer: BatchProducer): SinkWiring {
  const encode = (value: unknown) => Buffer.from(JSON.stringify(value));
  return {
    producer,
    topicName: (topic) => `t.${topic}`,
    encoders: new Map([
      ['trades', encode],
      ['minuteAggregates', encode],
    ]),
    deadLetterEncoder: encode,
    checkpointEncoder: encode,
    partitionCounts: new Map([
      ['trades', PARTITIONS],
      ['minuteAggregates', PARTITIONS],
      ['deadLetters', PARTITIONS],
    ]),
  };
}

const trade = (symbol: string, sequence: number): OutRecord => ({
  topic: 'trades',
  key: symbol,
  value: { symbol, sequence } as unknown as RecordValue,
  eventTimeMs: 0,
});

async function counter(metrics: IngestMetrics, name: 'eventsOut' | 'produceFailures'): Promise<number> {
  const { values } = await metrics[name].get();
  return values.reduce((sum, entry) => sum + entry.value, 0);
}

const sinks: KafkaSink[] = [];
afterEach(async () => {
  vi.useRealTimers();
  for (const sink of sinks.splice(0)) await sink.close(10);
});

function setup(options: { highWaterMessages?: number; stallTimeoutMs?: number; partitionCacheMaxKeys?: number } = {}) {
  const producer = new StubProducer();
  const metrics = createIngestMetrics(createMetricsRegistry('ingest', { collectDefaults: false }));
  const stalls: string[] = [];
  const saturation: boolean[] = [];
  const fenced: string[] = [];
  const sink = new KafkaSink(
    {
      logger,
      metrics,
      benchmarkSymbol: 'SPY',
      maxBatchMessages: 7,
      onStall: (reason) => stalls.push(reason),
      onFenced: (reason) => fenced.push(reason),
      ...options,
    },
    wiring(producer),
  );
  sink.onSaturation((saturated) => saturation.push(saturated));
  sinks.push(sink);
  return { producer, metrics, stalls, saturation, fenced, sink };
}

describe('Kafka sink', () => {
  it('keys by symbol on the murmur2 partition of the default partitioner, and copies benchmark bars to every other partition', async () => {
    const { producer, sink } = setup();
    const symbols = ['AAPL', 'MSFT', 'NVDA', 'TSLA', 'AMZN', 'META', 'GOOG', 'AMD'];
    sink.produce(symbols.map((symbol, index) => trade(symbol, index)));
    sink.produce([{ topic: 'minuteAggregates', key: 'SPY', value: { symbol: 'SPY' } as unknown as RecordValue, eventTimeMs: 0 }]);
    await sink.flush();
    const partitioner = Partitioners.DefaultPartitioner();
    const partitionMetadata = Array.from({ length: PARTITIONS }, (_, partitionId) => ({
      partitionId,
      leader: 0,
      partitionErrorCode: 0,
      replicas: [0],
      isr: [0],
    }));
    const expected = (topic: string, key: string) => partitioner({ topic, partitionMetadata, message: { key, value: null } });
    const trades = producer.delivered.filter((message) => message.topic === 't.trades');
    expect(trades.map((message) => message.key)).toEqual(symbols);
    for (const message of trades) expect(message.partition).toBe(expected('t.trades', message.key));
    expect(new Set(trades.map((message) => message.partition)).size).toBeGreaterThan(1);
    const spy = producer.delivered.filter((message) => message.topic === 't.minuteAggregates');
    expect(spy.map((message) => message.partition).sort()).toEqual([0, 1, 2, 3, 4, 5]);
    const canonical = spy.filter((message) => message.headers === undefined);
    expect(canonical.map((message) => message.partition)).toEqual([expected('t.minuteAggregates', 'SPY')]);
    expect(spy.filter((message) => message.headers?.[BROADCAST_COPY_HEADER] === '1')).toHaveLength(PARTITIONS - 1);
  });

  it('Kafka rejecting every send: nothing is acknowledged or dropped, the source is paused, sends are retried with backoff, and after the bound onStall fires once', async () => {
    vi.useFakeTimers();
    const { producer, metrics, stalls, saturation, sink } = setup({ highWaterMessages: 30, stallTimeoutMs: 10_000 });
    producer.mode = 'fail';
    const sent = Array.from({ length: 40 }, (_, index) => trade(`S${index % 5}`, index));
    sink.produce(sent.slice(0, 20));
    await vi.advanceTimersByTimeAsync(1_000);
    sink.produce(sent.slice(20));
    await vi.advanceTimersByTimeAsync(5_000);
    expect(await counter(metrics, 'eventsOut')).toBe(0);
    expect(sink.buffered).toBe(40);
    expect(saturation).toEqual([true]);
    expect(stalls).toEqual([]);
    // Exponential backoff: 100, 200, 400, ... ms between attempts, so a handful in 6 s, not hundreds.
    expect(producer.attempts).toBeGreaterThanOrEqual(4);
    expect(producer.attempts).toBeLessThanOrEqual(8);
    expect(await counter(metrics, 'produceFailures')).toBe(producer.attempts);

    await vi.advanceTimersByTimeAsync(6_000);
    expect(stalls).toHaveLength(1);
    expect(stalls[0]).toMatch(/acknowledged nothing for 1\d s with 40 messages waiting/);
    expect((await metrics.produceStalled.get()).values[0]!.value).toBeGreaterThan(10);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(stalls).toHaveLength(1);

    // Kafka is back (if the supervisor has not restarted us yet): everything goes, in order, exactly once.
    producer.mode = 'ok';
    await vi.advanceTimersByTimeAsync(6_000);
    expect(producer.delivered.map((message) => message.key)).toEqual(sent.map((record) => record.key));
    expect(await counter(metrics, 'eventsOut')).toBe(40);
    expect(sink.buffered).toBe(0);
    expect(saturation).toEqual([true, false]);
    await vi.advanceTimersByTimeAsync(2_000);
    expect((await metrics.produceStalled.get()).values[0]!.value).toBe(0);
  });

  it('a send that never answers counts as a stall too', async () => {
    vi.useFakeTimers();
    const { producer, stalls, sink } = setup({ stallTimeoutMs: 3_000 });
    producer.mode = 'hang';
    sink.produce([trade('AAPL', 1), trade('MSFT', 2)]);
    await vi.advanceTimersByTimeAsync(2_500);
    expect(stalls).toEqual([]);
    await vi.advanceTimersByTimeAsync(1_500);
    expect(stalls).toHaveLength(1);
    expect(stalls[0]).toMatch(/with 2 messages waiting/);
  });

  it('fenced by Kafka (another instance took the lease over): reported once, never retried, nothing more sent', async () => {
    const { producer, metrics, fenced, sink } = setup();
    sink.produce([trade('AAPL', 1)]);
    await sink.flush();
    producer.mode = 'fenced';
    sink.produce(Array.from({ length: 20 }, (_, index) => trade('MSFT', index)));
    await sink.flush();
    expect(fenced).toHaveLength(1);
    expect(fenced[0]).toMatch(/another one holds the lease/);
    expect(sink.isFenced).toBe(true);
    expect(sink.buffered).toBe(0);
    expect(producer.attempts).toBe(2);
    expect(await counter(metrics, 'produceFailures')).toBe(0);
    // Whatever still arrives goes nowhere; the producer is not asked again.
    producer.mode = 'ok';
    sink.produce([trade('NVDA', 1)]);
    sink.checkpoint({ job: 'bars:day:a:b', symbol: 'NVDA', nextUrl: null, done: true, updatedAtMs: 0 });
    await sink.flush();
    expect(producer.attempts).toBe(2);
    expect(producer.delivered.map((message) => message.key)).toEqual(['AAPL']);
    expect(fenced).toHaveLength(1);
  });

  it('a checkpoint record goes after what was queued before it, on partition 0 of the checkpoints topic, keyed job/symbol', async () => {
    const { producer, metrics, sink } = setup();
    sink.produce([trade('AAPL', 1), trade('MSFT', 2)]);
    sink.checkpoint({ job: 'bars:day:a:b', symbol: 'AAPL', nextUrl: 'https://x/next?cursor=2', done: false, updatedAtMs: 5 });
    await sink.flush();
    expect(producer.delivered.map((message) => [message.topic, message.key, message.partition ?? -1])).toEqual([
      ['t.trades', 'AAPL', expect.any(Number)],
      ['t.trades', 'MSFT', expect.any(Number)],
      ['t.ingestCheckpoints', 'bars:day:a:b/AAPL', 0],
    ]);
    // Not an event: the events-out counter counts the trades only.
    expect(await counter(metrics, 'eventsOut')).toBe(2);
  });

  it('an idle sink never stalls, however long Kafka has been quiet', async () => {
    vi.useFakeTimers();
    const { stalls, sink } = setup({ stallTimeoutMs: 1_000 });
    await vi.advanceTimersByTimeAsync(5_000);
    sink.produce([trade('AAPL', 1)]);
    await vi.advanceTimersByTimeAsync(100);
    await sink.flush();
    await vi.advanceTimersByTimeAsync(5_000);
    expect(stalls).toEqual([]);
  });
});

describe('Kafka sink memory', () => {
  it('a flood of distinct unknown symbols keeps the partition cache within INGEST_PARTITION_CACHE_MAX_KEYS per topic', async () => {
    const { sink } = setup({ partitionCacheMaxKeys: 100, highWaterMessages: 1_000_000 });
    const cache = sink.trackedStructures().find((structure) => structure.name === 'ingest.sink.partition-cache')!;
    let largest = 0;
    for (let batch = 0; batch < 50; batch += 1) {
      sink.produce(Array.from({ length: 100 }, (_, index) => trade(`UNKNOWN${batch * 100 + index}`, index)));
      largest = Math.max(largest, cache.entries());
    }
    await sink.flush();
    expect(largest).toBeLessThanOrEqual(100);
    expect(cache.cap).toBe(100 * 3);
  });
});

/** The broker's refusal of a producer's sequence numbers, as kafkajs's retrier bails with it (a protocol error). */
const sequenceRefused = () =>
  Object.assign(new Error('The broker received an out of order sequence number'), {
    name: 'KafkaJSProtocolError',
    type: 'OUT_OF_ORDER_SEQUENCE_NUMBER',
    code: 45,
  });

interface PartitionLog {
  readonly records: { key: string; value: string }[];
  /** Per producer id: the sequence expected next and the last batches' [first, last] (a broker keeps 5). */
  readonly producers: Map<number, { next: number; batches: [number, number][] }>;
}

/**
 * A stub Kafka with a broker's idempotence and kafkajs's sequence bookkeeping. Per partition, a batch is kept once
 * when it repeats one of the producer's last batches exactly (same first and last sequence), appended when it starts
 * at the expected sequence, and refused (OUT_OF_ORDER_SEQUENCE_NUMBER) otherwise. A producer numbers each partition's
 * messages from 0 and, as kafkajs does, rolls a whole request's numbers back when any partition of it fails, while
 * the broker keeps what the others appended. Faults: `leaveOutNext` writes a partition (or not) but leaves it out of
 * the answer with its numbers rolled back (kafkajs after a broker's SIGKILL); `skewNext` puts a producer's numbers
 * for a partition behind the broker's (a producer refused from then on, as in kafkajs #598).
 */
class StubKafka {
  readonly logs = new Map<string, PartitionLog>();
  producersMade = 0;
  leaveOutNext: { partition: string; written: boolean } | undefined;
  skewNext: string | undefined;
  private refuseReplacements = 0;

  constructor(private readonly transactional = false) {}

  failNextReplacements(count: number): void {
    this.refuseReplacements = count;
  }

  async newProducer(): Promise<BatchProducer> {
    if (this.producersMade > 0 && this.refuseReplacements > 0) {
      this.refuseReplacements -= 1;
      throw new Error('KafkaJSConnectionError: Connection timeout');
    }
    return this.producer();
  }

  producer(): BatchProducer {
    this.producersMade += 1;
    const id = this.producersMade;
    const sequences = new Map<string, number>();
    return {
      sendBatch: async (batch: ProducerBatch): Promise<RecordMetadata[]> => {
        const byPartition = new Map<string, { topic: string; partition: number; messages: { key: string; value: string }[] }>();
        for (const { topic, messages } of batch.topicMessages ?? []) {
          for (const message of messages) {
            const key = `${topic}:${message.partition}`;
            const entry = byPartition.get(key) ?? { topic, partition: message.partition!, messages: [] };
            byPartition.set(key, entry);
            entry.messages.push({ key: String(message.key), value: String(message.value) });
          }
        }
        if (this.skewNext && sequences.has(this.skewNext)) {
          sequences.set(this.skewNext, sequences.get(this.skewNext)! - 1);
          this.skewNext = undefined;
        }
        const answered: RecordMetadata[] = [];
        let refused = false;
        const appended: (() => void)[] = [];
        for (const [key, { topic, partition, messages }] of byPartition) {
          const first = sequences.get(key) ?? 0;
          const last = first + messages.length - 1;
          const log: PartitionLog = this.logs.get(key) ?? { records: [], producers: new Map() };
          this.logs.set(key, log);
          const state = log.producers.get(id) ?? { next: 0, batches: [] as [number, number][] };
          log.producers.set(id, state);
          const leftOut = this.leaveOutNext?.partition === key ? this.leaveOutNext : undefined;
          if (leftOut) this.leaveOutNext = undefined;
          const duplicate = state.batches.some(([a, b]) => a === first && b === last);
          if (!duplicate && first !== state.next) {
            refused = true;
            continue;
          }
          const append = () => {
            if (duplicate) return;
            log.records.push(...messages);
            state.next = last + 1;
            state.batches = [...state.batches, [first, last] as [number, number]].slice(-5);
          };
          if (leftOut) {
            if (leftOut.written) append();
            continue; // its numbers are not advanced: as if rolled back
          }
          appended.push(append);
          sequences.set(key, last + 1);
          answered.push({ topicName: topic, partition, errorCode: 0, baseOffset: String(log.records.length) });
        }
        if (refused) {
          // The other partitions' appends stand (unless the batch was a transaction, then aborted); numbers roll back.
          if (!this.transactional) for (const append of appended) append();
          for (const [key, { messages }] of byPartition)
            if (answered.some((entry) => `${entry.topicName}:${entry.partition}` === key))
              sequences.set(key, sequences.get(key)! - messages.length);
          throw sequenceRefused();
        }
        for (const append of appended) append();
        return answered;
      },
      disconnect: async () => {},
    };
  }

  /** Every record of every log, as `topic key value`, to check for loss and duplicates. */
  all(): string[] {
    return [...this.logs].flatMap(([key, log]) => log.records.map((record) => `${key.split(':')[0]} ${record.key} ${record.value}`));
  }
}

describe('Kafka sink: partitions left out of an answer, and a producer whose sequence numbers Kafka refuses', () => {
  function recoverySetup(transactional = false) {
    const kafka = new StubKafka(transactional);
    const metrics = createIngestMetrics(createMetricsRegistry('ingest', { collectDefaults: false }));
    const sink = new KafkaSink(
      { logger, metrics, benchmarkSymbol: 'SPY', maxBatchMessages: 50 },
      { ...wiring(kafka.producer()), transactional, recovery: { newProducer: () => kafka.newProducer() } },
    );
    sinks.push(sink);
    return { kafka, metrics, sink };
  }
  it('warns at start where INGEST_MAX_IN_FLIGHT above 1 gives up order and exactly-once through broker failures', () => {
    const warnings = (maxInFlight: number, transactional = false) => {
      const { logger: captured, text } = capturedLogger('sink-test');
      const kafka = new StubKafka(transactional);
      const metrics = createIngestMetrics(createMetricsRegistry('ingest', { collectDefaults: false }));
      const sink = new KafkaSink(
        { logger: captured, metrics, benchmarkSymbol: 'SPY', maxInFlight },
        { ...wiring(kafka.producer()), transactional, recovery: { newProducer: () => kafka.newProducer() } },
      );
      sinks.push(sink);
      return text()
        .split('\n')
        .filter((line) => line.includes('"level":40'));
    };
    expect(warnings(1)).toEqual([]);
    // One transaction at a time under the lease: the setting does not apply.
    expect(warnings(3, true)).toEqual([]);
    const [warning, ...more] = warnings(3);
    expect(more).toEqual([]);
    expect(JSON.parse(warning!)).toMatchObject({ maxInFlight: 3, msg: expect.stringContaining('only at 1, the default') });
  });
  const symbols = ['AAPL', 'MSFT', 'NVDA', 'TSLA', 'AMZN', 'META', 'GOOG', 'AMD'];
  const round = (base: number) => symbols.map((symbol, index) => trade(symbol, base + index));
  const expected = (trades: readonly OutRecord[]) =>
    trades.map((record) => `t.trades ${record.key} ${JSON.stringify(record.value)}`).sort();
  async function send(sink: KafkaSink, trades: OutRecord[]) {
    sink.produce(trades);
    await sink.flush();
    return trades;
  }
  const replacements = async (metrics: IngestMetrics) => (await metrics.producerReplacements.get()).values[0]?.value ?? 0;

  for (const written of [true, false])
    it(`a partition left out of the answer (${written ? 'written' : 'not written'}) goes again exactly as it was: every trade once`, async () => {
      const { kafka, metrics, sink } = recoverySetup();
      const sent = await send(sink, round(0));
      kafka.leaveOutNext = { partition: [...kafka.logs.keys()][0]!, written };
      sent.push(...(await send(sink, round(100))), ...(await send(sink, round(200))));
      expect(kafka.all().sort()).toEqual(expected(sent));
      expect(kafka.producersMade).toBe(1);
      expect(await replacements(metrics)).toBe(0);
      expect(await counter(metrics, 'eventsOut')).toBe(sent.length);
    });

  it('a refused producer is replaced: what its partitions had appended is kept once, the rest goes through the new one', async () => {
    const { kafka, metrics, sink } = recoverySetup();
    const sent = await send(sink, round(0));
    kafka.skewNext = [...kafka.logs.keys()][0]!;
    sent.push(...(await send(sink, round(100))), ...(await send(sink, round(200))));
    expect(kafka.all().sort()).toEqual(expected(sent));
    for (const symbol of symbols) {
      const sequences = kafka
        .all()
        .filter((line) => line.includes(` ${symbol} `))
        .map((line) => (JSON.parse(line.split(' ')[2]!) as { sequence: number }).sequence);
      expect(sequences).toEqual([...sequences].sort((a, b) => a - b));
    }
    expect(kafka.producersMade).toBe(2);
    expect(await replacements(metrics)).toBe(1);
    expect(await counter(metrics, 'eventsOut')).toBe(sent.length);
  });

  it('transactional: the refused batch was aborted, so all of it goes again through the new producer', async () => {
    const { kafka, sink } = recoverySetup(true);
    const sent = await send(sink, round(0));
    kafka.skewNext = [...kafka.logs.keys()][0]!;
    sent.push(...(await send(sink, round(100))));
    expect(kafka.all().sort()).toEqual(expected(sent));
    expect(kafka.producersMade).toBe(2);
  });

  it('a replacement that fails (Kafka unreachable meanwhile) is tried again after a pause, and nothing is lost or repeated', async () => {
    const { kafka, metrics, sink } = recoverySetup();
    const sent = await send(sink, round(0));
    kafka.failNextReplacements(1);
    kafka.skewNext = [...kafka.logs.keys()][0]!;
    sent.push(...(await send(sink, round(100))));
    expect(kafka.all().sort()).toEqual(expected(sent));
    expect(kafka.producersMade).toBe(2);
    expect(await replacements(metrics)).toBe(1);
  });
});

describe('Kafka sink: a batch per transaction', () => {
  function stubTransactions(answer: (batch: ProducerBatch) => RecordMetadata[]) {
    const ended: string[] = [];
    const producer = {
      transaction: async () => {
        let active = true;
        return {
          sendBatch: async (batch: ProducerBatch) => answer(batch),
          commit: async () => {
            active = false;
            ended.push('commit');
          },
          abort: async () => {
            active = false;
            ended.push('abort');
          },
          isActive: () => active,
        };
      },
      disconnect: async () => {},
    } as unknown as Parameters<typeof transactionalBatches>[0];
    return { batches: transactionalBatches(producer), ended };
  }
  const batch: ProducerBatch = {
    topicMessages: [
      {
        topic: 't.trades',
        messages: [
          { key: 'AAPL', value: 'a', partition: 0 },
          { key: 'MSFT', value: 'b', partition: 1 },
        ],
      },
    ],
  };
  const answered = (partitions: number[]) => partitions.map((partition) => ({ topicName: 't.trades', partition, errorCode: 0 }));

  it('commits a batch every partition of which was acknowledged', async () => {
    const { batches, ended } = stubTransactions(() => answered([0, 1]));
    await expect(batches.sendBatch(batch)).resolves.toHaveLength(2);
    expect(ended).toEqual(['commit']);
  });

  it('aborts a batch an acknowledgement left a partition out of, and fails it (the sink sends all of it again)', async () => {
    const { batches, ended } = stubTransactions(() => answered([0]));
    await expect(batches.sendBatch(batch)).rejects.toThrow('without partitions t.trades:1');
    expect(ended).toEqual(['abort']);
  });
});
