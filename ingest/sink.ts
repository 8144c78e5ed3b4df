import type { IHeaders } from 'kafkajs';
import {
  BROADCAST_COPY_HEADER,
  Partitioners,
  type AvroCodec,
  type Encoder,
  type Kafka,
  type Logger,
  type Producer,
} from '../platform/index.js';
import type { IngestMetrics } from './metrics.js';
import { deadLetter, type DeadLetterOut, type DeadLetterRecord, type IngestTopic, type OutRecord, type RecordValue } from './records.js';

/** Where sources put records: the Kafka sink in production, an array in unit tests. */
export interface RecordSink {
  produce(records: readonly OutRecord[]): void;
  deadLetter(letters: readonly DeadLetterOut[]): void;
  /** Resolves once everything handed over so far is durably stored. */
  flush(): Promise<void>;
}

interface Pending {
  readonly topic: string;
  readonly key: string;
  readonly value: Buffer;
  readonly partition?: number;
  readonly headers?: IHeaders;
  readonly eventTimeMs: number;
  /** Broadcast copies are not counted as events out. */
  readonly copy: boolean;
  readonly topicKey: IngestTopic | 'deadLetters';
}

export interface KafkaSinkOptions {
  readonly kafka: Kafka;
  readonly codec: AvroCodec;
  readonly logger: Logger;
  readonly metrics: IngestMetrics;
  /** Its minute and day bars go to every partition (platform/broadcast.ts). */
  readonly benchmarkSymbol: string;
  /** Messages per produce request. */
  readonly maxBatchMessages?: number;
  /** Above this many waiting messages the sink reports itself saturated (sources pause). */
  readonly highWaterMessages?: number;
  /**
   * Produce requests in flight at once. Kafka keeps order for an idempotent producer with up to 5; kafkajs
   * assigns sequence numbers at send time, in call order, on one connection per broker.
   */
  readonly maxInFlight?: number;
  /** Only these topics get encoders (and must exist); default: every ingest topic. */
  readonly topics?: readonly IngestTopic[];
}

const ALL_TOPICS: readonly IngestTopic[] = ['trades', 'quotes', 'secondAggregates', 'minuteAggregates', 'dailyAggregates', 'luld', 'fmv', 'symbols', 'fundamentals'];
const BROADCAST_TOPICS: ReadonlySet<IngestTopic> = new Set(['minuteAggregates', 'dailyAggregates']);

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Kafka adapter of ingest: encodes records with the registry codec (synchronously), keys them by
 * symbol and produces them through one idempotent producer. Batching is natural: while one request is
 * in flight, everything that arrives queues up and goes in the next request (up to maxBatchMessages).
 * A record that does not encode becomes a dead letter instead of stopping the stream.
 */
export class KafkaSink implements RecordSink {
  private readonly queue: Pending[] = [];
  private sending: Promise<void> | undefined;
  private readonly inFlight: number;
  private readonly drainWaiters: (() => void)[] = [];
  private readonly maxBatch: number;
  private readonly highWater: number;
  private closed = false;
  private readonly saturationListeners: ((saturated: boolean) => void)[] = [];
  private saturated = false;

  private constructor(
    private readonly options: KafkaSinkOptions,
    private readonly producer: Producer,
    private readonly encoders: Map<IngestTopic, Encoder<RecordValue>>,
    private readonly deadLetterEncoder: Encoder<DeadLetterRecord>,
    private readonly partitionCounts: Map<IngestTopic, number>,
  ) {
    this.maxBatch = options.maxBatchMessages ?? 10_000;
    this.highWater = options.highWaterMessages ?? 100_000;
    this.inFlight = Math.min(5, Math.max(1, options.maxInFlight ?? 1));
  }

  static async create(options: KafkaSinkOptions): Promise<KafkaSink> {
    const topics = options.topics ?? ALL_TOPICS;
    const encoders = new Map<IngestTopic, Encoder<RecordValue>>();
    for (const topic of topics) encoders.set(topic, await options.codec.encoderFor<RecordValue>(topic));
    const deadLetterEncoder = await options.codec.encoderFor<DeadLetterRecord>('deadLetters');
    const partitionCounts = new Map<IngestTopic, number>();
    const broadcast = topics.filter((topic) => BROADCAST_TOPICS.has(topic));
    if (broadcast.length > 0) {
      const admin = options.kafka.admin();
      await admin.connect();
      try {
        const metadata = await admin.fetchTopicMetadata({ topics: broadcast.map((topic) => options.codec.topic(topic)) });
        for (const topic of broadcast) {
          const found = metadata.topics.find((entry) => entry.name === options.codec.topic(topic));
          partitionCounts.set(topic, found?.partitions.length ?? 1);
        }
      } finally {
        await admin.disconnect();
      }
    }
    const producer = options.kafka.producer({
      idempotent: true,
      maxInFlightRequests: Math.min(5, Math.max(1, options.maxInFlight ?? 1)),
      allowAutoTopicCreation: false,
      // The idempotent producer must not give up on retriable errors (kafkajs warns otherwise).
      retry: { retries: Number.MAX_SAFE_INTEGER, initialRetryTime: 200, maxRetryTime: 5000 },
      createPartitioner: Partitioners.DefaultPartitioner,
    });
    await producer.connect();
    return new KafkaSink(options, producer, encoders, deadLetterEncoder, partitionCounts);
  }

  get buffered(): number {
    return this.queue.length;
  }

  /** Called with true when the queue passes the high-water mark, false once it drained below half. */
  onSaturation(listener: (saturated: boolean) => void): void {
    this.saturationListeners.push(listener);
  }

  produce(records: readonly OutRecord[]): void {
    const now = Date.now();
    const failed: DeadLetterOut[] = [];
    for (const record of records) {
      const encoder = this.encoders.get(record.topic);
      let value: Buffer;
      try {
        if (!encoder) throw new TypeError(`ingest sink has no encoder for topic ${record.topic}`);
        value = encoder(record.value);
      } catch (error) {
        failed.push(deadLetter(String(record.value && 'source' in record.value ? record.value.source : 'ingest'), `does not encode: ${(error as Error).message}`, JSON.stringify(record.value), now, record.key));
        continue;
      }
      const topic = this.options.codec.topic(record.topic);
      this.queue.push({ topic, key: record.key, value, eventTimeMs: record.eventTimeMs, copy: false, topicKey: record.topic });
      if (record.key === this.options.benchmarkSymbol && BROADCAST_TOPICS.has(record.topic)) this.broadcastCopies(record, topic, value);
    }
    if (failed.length > 0) this.deadLetter(failed);
    this.afterEnqueue();
  }

  private broadcastCopies(record: OutRecord, topic: string, value: Buffer): void {
    const count = this.partitionCounts.get(record.topic) ?? 1;
    const canonical = Partitioners.DefaultPartitioner()({
      topic,
      partitionMetadata: Array.from({ length: count }, (_, partitionId) => ({ partitionId, leader: 0, partitionErrorCode: 0, replicas: [0], isr: [0] })),
      message: { key: record.key, value },
    });
    for (let partition = 0; partition < count; partition += 1) {
      if (partition === canonical) continue;
      this.queue.push({ topic, key: record.key, value, partition, headers: { [BROADCAST_COPY_HEADER]: '1' }, eventTimeMs: record.eventTimeMs, copy: true, topicKey: record.topic });
    }
  }

  deadLetter(letters: readonly DeadLetterOut[]): void {
    const topic = this.options.codec.topic('deadLetters');
    for (const letter of letters) {
      this.queue.push({ topic, key: letter.key, value: this.deadLetterEncoder(letter.value), eventTimeMs: letter.value.receivedAtMs, copy: false, topicKey: 'deadLetters' });
      this.options.metrics.deadLetters.inc({ source: letter.value.source });
    }
    this.afterEnqueue();
  }

  private afterEnqueue(): void {
    this.options.metrics.buffered.set(this.queue.length);
    if (!this.saturated && this.queue.length >= this.highWater) this.setSaturated(true);
    if (!this.sending && this.queue.length > 0) this.sending = this.sendLoops();
  }

  private setSaturated(saturated: boolean): void {
    this.saturated = saturated;
    for (const listener of this.saturationListeners) listener(saturated);
  }

  private async sendLoops(): Promise<void> {
    await Promise.all(Array.from({ length: this.inFlight }, () => this.sendLoop()));
    this.sending = undefined;
    for (const waiter of this.drainWaiters.splice(0)) waiter();
    // Records queued while the last loops were finishing.
    if (this.queue.length > 0) this.sending = this.sendLoops();
  }

  private async sendLoop(): Promise<void> {
    let failures = 0;
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0, this.maxBatch);
      const byTopic = new Map<string, { key: string; value: Buffer; partition?: number; headers?: IHeaders }[]>();
      for (const item of batch) {
        let messages = byTopic.get(item.topic);
        if (!messages) {
          messages = [];
          byTopic.set(item.topic, messages);
        }
        messages.push(item.partition === undefined ? { key: item.key, value: item.value } : { key: item.key, value: item.value, partition: item.partition, headers: item.headers });
      }
      try {
        await this.producer.sendBatch({ acks: -1, topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })) });
        failures = 0;
      } catch (error) {
        // Idempotent producer retries retriable errors itself; anything reaching here is requeued in order.
        failures += 1;
        this.queue.unshift(...batch);
        this.options.logger.error({ err: error, messages: batch.length, failures }, 'produce failed; retrying');
        if (this.closed && failures > 3) break;
        await delay(Math.min(5000, 100 * 2 ** failures));
        continue;
      }
      const now = Date.now();
      const outByTopic = new Map<string, number>();
      for (const item of batch) {
        if (item.copy || item.topicKey === 'deadLetters') continue;
        outByTopic.set(item.topicKey, (outByTopic.get(item.topicKey) ?? 0) + 1);
        this.options.metrics.lag.observe(Math.max(0, now - item.eventTimeMs) / 1000);
      }
      for (const [topic, count] of outByTopic) this.options.metrics.eventsOut.inc({ topic }, count);
      this.options.metrics.buffered.set(this.queue.length);
      if (this.saturated && this.queue.length < this.highWater / 2) this.setSaturated(false);
    }
  }

  /** Resolves once everything queued so far has been acknowledged. */
  async flush(): Promise<void> {
    if (!this.sending && this.queue.length === 0) return;
    await new Promise<void>((resolve) => this.drainWaiters.push(resolve));
  }

  /**
   * Flushes (bounded: a broker that is down must not hold shutdown forever; what is still queued then
   * was never acknowledged and is logged as lost) and disconnects.
   */
  async close(timeoutMs = 10_000): Promise<void> {
    this.closed = true;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([
      this.flush().then(() => false),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(true), timeoutMs);
      }),
    ]);
    clearTimeout(timer);
    if (timedOut) this.options.logger.error({ unacknowledged: this.queue.length }, 'closing with messages Kafka never acknowledged');
    await this.producer.disconnect();
  }
}
