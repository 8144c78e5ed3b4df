import type { ICustomPartitioner, IHeaders, ProducerBatch, RecordMetadata, Transaction } from 'kafkajs';
import {
  BROADCAST_COPY_HEADER,
  Partitioners,
  connectFencing,
  isProducerFenced,
  isProducerSequenceLost,
  partitionKey,
  type AvroCodec,
  type Encoder,
  type IngestCheckpointRecord,
  type Kafka,
  type Logger,
  type Producer,
} from '../platform/index.js';
import { checkpointKey } from './checkpoint.js';
import type { IngestMetrics } from './metrics.js';
import { PlatformaticBatchProducer } from './platformatic-producer.js';
import { deadLetter, type DeadLetterOut, type DeadLetterRecord, type IngestTopic, type OutRecord, type RecordValue } from './records.js';

/** Where sources put records: the Kafka sink in production, an array in unit tests. */
export interface RecordSink {
  produce(records: readonly OutRecord[]): void;
  deadLetter(letters: readonly DeadLetterOut[]): void;
  /** Resolves once everything handed over so far is durably stored. */
  flush(): Promise<void>;
}

import { backoffDelay, type BackoffPolicy } from '../platform/backoff.js';
import type { BatchProducer } from './batch-producer.js';
import type { TrackedStructure } from '../platform/tracked-structures.js';

export type { BatchProducer };

/** A message as kafkajs takes it, with its partition chosen by us (murmur2 of the key, cached per key). */
interface OutMessage {
  readonly key: string;
  readonly value: Buffer;
  readonly partition?: number;
  readonly headers?: IHeaders;
}

interface Pending {
  readonly topic: string;
  readonly message: OutMessage;
  readonly eventTimeMs: number;
  /** Broadcast copies are not counted as events out. */
  readonly copy: boolean;
  readonly topicKey: SinkTopic;
}

type SinkTopic = IngestTopic | 'deadLetters' | 'ingestCheckpoints';
export interface KafkaSinkSettings {
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
   * assigns sequence numbers at send time, in call order, on one connection per broker. Above 1, what a broker failure
   * makes the sink send again can be reordered, lost or repeated (warned at start): 1 is the default.
   */
  readonly maxInFlight?: number;
  /**
   * Kafka has acknowledged nothing for this long while messages wait (requests failing or hanging):
   * `onStall` is called once, for the process to exit and its supervisor to restart it.
   */
  readonly stallTimeoutMs?: number;
  readonly onStall?: (reason: string) => void;
  /** Keys whose partition is remembered, per topic (INGEST_PARTITION_CACHE_MAX_KEYS); the cache is emptied when full. */
  readonly partitionCacheMaxKeys?: number;
  /** Clock of the stall watchdog (tests). */
  readonly now?: () => number;
  /**
   * Kafka refused a write because another producer with the sink's transactional id started (another ingest instance
   * took the lease over): called once; nothing more is sent, and what waits is dropped (the new holder carries on).
   */
  readonly onFenced?: (reason: string) => void;
}

export interface KafkaSinkOptions extends KafkaSinkSettings {
  readonly kafka: Kafka;
  readonly codec: AvroCodec;
  /** Only these topics get encoders (and must exist); default: every ingest topic. */
  readonly topics?: readonly IngestTopic[];
  /** Producer library (INGEST_KAFKA_CLIENT); @platformatic/kafka connects to `brokers` itself. */
  readonly client?: 'kafkajs' | 'platformatic';
  /** Required with the platformatic client. */
  readonly brokers?: readonly string[];
  /** Client id of the platformatic producer (default `tickflow-ingest`). */
  readonly clientId?: string;
  /**
   * Write every batch in a Kafka transaction of this transactional id (kafkajs only): opening the sink fences any
   * earlier producer of the same id, whose later writes the broker refuses (the lease's fencing, ingest/lease.ts).
   */
  readonly transactionalId?: string;
  /** Also encode backfill checkpoint records (`checkpoint`): the checkpoints topic must exist with its schema. */
  readonly checkpoints?: boolean;
}

/** What the sink is wired to: built from Kafka and the registry by `create`, or stubs in unit tests. */
export interface SinkWiring {
  readonly producer: BatchProducer;
  readonly topicName: (topic: SinkTopic) => string;
  readonly encoders: ReadonlyMap<IngestTopic, Encoder<RecordValue>>;
  readonly deadLetterEncoder: Encoder<DeadLetterRecord>;
  readonly checkpointEncoder?: Encoder<IngestCheckpointRecord>;
  /** Partition counts; a topic missing here is partitioned by kafkajs's default partitioner. */
  readonly partitionCounts: ReadonlyMap<SinkTopic, number>;
  /** Batches are transactions (one in flight). */
  readonly transactional?: boolean;
  /** kafkajs only: what the sink needs to replace a producer whose sequence numbers Kafka refuses. */
  readonly recovery?: ProducerRecovery;
}

/**
 * Replacing a producer in place (kafkajs issue #598): a producer whose sequence numbers Kafka refuses can never write
 * again. What it had not written goes through the new one (KafkaSink.unwrittenOf).
 */
export interface ProducerRecovery {
  /** A new producer (a new producer id; the same transactional id, fencing the old one, when transactional). */
  newProducer(): Promise<BatchProducer>;
}

const ALL_TOPICS: readonly IngestTopic[] = [
  'trades',
  'quotes',
  'secondAggregates',
  'minuteAggregates',
  'dailyAggregates',
  'luld',
  'fmv',
  'symbols',
  'fundamentals',
];
const BROADCAST_TOPICS: ReadonlySet<SinkTopic> = new Set(['minuteAggregates', 'dailyAggregates']);

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
/** The default of INGEST_PARTITION_CACHE_MAX_KEYS. */
export const DEFAULT_PARTITION_CACHE_MAX_KEYS = 200_000;

/** Pause before re-sending a failed batch (one producer retrying its own queue: no jitter). */
const PRODUCE_RETRY: BackoffPolicy = { baseMs: 100, maxMs: 5000, jitter: 'none' };

/**
 * Takes the partition we set on each message (the same murmur2 of the key as kafkajs's default, computed
 * once per key instead of per message); messages without one get the default partitioner.
 */
const explicitPartitioner: ICustomPartitioner = () => {
  const fallback = Partitioners.DefaultPartitioner();
  return (args) => args.message.partition ?? fallback(args);
};

const murmur2Partitioner = Partitioners.DefaultPartitioner();

/**
 * Each batch one transaction: the broker refuses a batch (and aborts its transaction) once the producer is fenced. A
 * transaction whose abort failed too (its coordinator unreachable) is aborted again before the next one begins.
 */
export function transactionalBatches(producer: Pick<Producer, 'transaction' | 'disconnect'>): BatchProducer {
  let unfinished: Transaction | undefined;
  return {
    sendBatch: async (batch) => {
      if (unfinished?.isActive()) await unfinished.abort();
      unfinished = await producer.transaction();
      const transaction = unfinished;
      try {
        const result = await transaction.sendBatch(batch);
        // A partition kafkajs left out (see leftOut) may be missing from the transaction: none of it is committed.
        const missing = unansweredPartitions(batch, result);
        if (missing.length > 0) throw new Error(`Kafka acknowledged a transaction's batch without partitions ${missing.join(', ')}`);
        await transaction.commit();
        unfinished = undefined;
        return result;
      } catch (error) {
        await transaction.abort().then(
          () => (unfinished = undefined),
          () => undefined,
        );
        throw error;
      }
    },
    disconnect: () => producer.disconnect(),
  };
}

/** murmur2 partition of a key, as kafkajs's (and Java's) default partitioner chooses it. */
function murmur2Partition(topic: string, key: string, partitions: number): number {
  return murmur2Partitioner({
    topic,
    partitionMetadata: Array.from({ length: partitions }, (_, partitionId) => ({
      partitionId,
      leader: 0,
      partitionErrorCode: 0,
      replicas: [0],
      isr: [0],
    })),
    message: { key, value: null },
  });
}

/**
 * Kafka adapter of ingest: encodes records with the registry codec (synchronously), keys them by
 * symbol and produces them through one idempotent producer (transactional, a batch per transaction, under the
 * ingest lease: `transactionalId`). Batching is natural: while one request is
 * in flight, everything that arrives queues up and goes in the next request (up to maxBatchMessages).
 * A record that does not encode becomes a dead letter instead of stopping the stream.
 *
 * When Kafka fails: a rejected request is put back at the head of the queue in order and retried with
 * exponential backoff (kafkajs itself retries retriable errors without end); the queue passes the
 * high-water mark and the source stops reading (nothing is acknowledged or dropped meanwhile); and if
 * Kafka acknowledges nothing for `stallTimeoutMs` while messages wait, `onStall` is called. A producer whose sequence
 * numbers Kafka refuses is replaced in place, and only what no partition appended goes again (ProducerRecovery).
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
  private readonly topicNames = new Map<SinkTopic, string>();
  private readonly partitionCache = new Map<SinkTopic, Map<string, number>>();
  private readonly now: () => number;
  /** Messages handed to the producer and not yet acknowledged or put back. */
  private sendingMessages = 0;
  /** Last acknowledgement, or when the sink last became busy after being idle. */
  private progressAtMs: number;
  private stallReported = false;
  private fenced = false;
  /** Replaced in place when Kafka refuses its sequence numbers (ProducerRecovery). */
  private producer: BatchProducer;
  private replacing: Promise<void> | undefined;
  private readonly watchdog: NodeJS.Timeout | undefined;

  constructor(
    private readonly settings: KafkaSinkSettings,
    private readonly wiring: SinkWiring,
  ) {
    this.maxBatch = settings.maxBatchMessages ?? 2_000;
    this.highWater = settings.highWaterMessages ?? 100_000;
    // A transaction at a time: one loop.
    this.inFlight = wiring.transactional ? 1 : Math.min(5, Math.max(1, settings.maxInFlight ?? 1));
    if (this.inFlight > 1 && wiring.recovery)
      settings.logger.warn(
        { maxInFlight: this.inFlight },
        'INGEST_MAX_IN_FLIGHT above 1: when a broker fails, a batch sent again (retried, or a partition an answer left out) ' +
          'goes behind batches already in flight, and kafkajs rolls back the sequence numbers other batches of the partition ' +
          'use (kafkajs #598): per-symbol order and exactly-once input hold through broker failures only at 1, the default',
      );
    this.now = settings.now ?? Date.now;
    this.progressAtMs = this.now();
    this.producer = wiring.producer;
    const stallTimeoutMs = settings.stallTimeoutMs;
    if (stallTimeoutMs !== undefined && stallTimeoutMs > 0) {
      this.watchdog = setInterval(() => this.checkStall(stallTimeoutMs), Math.max(10, Math.min(1000, stallTimeoutMs / 4)));
      this.watchdog.unref();
    }
  }

  static async create(options: KafkaSinkOptions): Promise<KafkaSink> {
    const topics = options.topics ?? ALL_TOPICS;
    const encoders = new Map<IngestTopic, Encoder<RecordValue>>();
    for (const topic of topics) encoders.set(topic, await options.codec.encoderFor<RecordValue>(topic));
    const deadLetterEncoder = await options.codec.encoderFor<DeadLetterRecord>('deadLetters');
    const checkpointEncoder = options.checkpoints ? await options.codec.encoderFor<IngestCheckpointRecord>('ingestCheckpoints') : undefined;
    const partitionCounts = new Map<SinkTopic, number>();
    const all: SinkTopic[] = [...topics, 'deadLetters', ...(options.checkpoints ? (['ingestCheckpoints'] as const) : [])];
    const topicNames = all.map((topic) => options.codec.topic(topic));
    const admin = options.kafka.admin();
    await admin.connect();
    try {
      const metadata = await admin.fetchTopicMetadata({ topics: topicNames });
      for (const topic of all) {
        const found = metadata.topics.find((entry) => entry.name === options.codec.topic(topic));
        if (found && found.partitions.length > 0) partitionCounts.set(topic, found.partitions.length);
      }
    } finally {
      await admin.disconnect();
    }
    if (options.client === 'platformatic') {
      // The caller passes what it read from the env (the adapter reads none itself).
      if (!options.brokers) throw new Error('the platformatic Kafka client needs brokers');
      if (options.transactionalId !== undefined)
        throw new Error('the ingest lease fences through kafkajs transactions: use INGEST_KAFKA_CLIENT=kafkajs');
      const producer = new PlatformaticBatchProducer({ brokers: options.brokers, clientId: options.clientId ?? 'tickflow-ingest' });
      return new KafkaSink(options, {
        producer,
        topicName: (topic) => options.codec.topic(topic),
        encoders,
        deadLetterEncoder,
        checkpointEncoder,
        partitionCounts,
      });
    }
    const transactional = options.transactionalId !== undefined;
    const newProducer = async (): Promise<BatchProducer> => {
      const producer = options.kafka.producer({
        idempotent: true,
        ...(transactional ? { transactionalId: options.transactionalId } : {}),
        maxInFlightRequests: transactional ? 1 : Math.min(5, Math.max(1, options.maxInFlight ?? 1)),
        allowAutoTopicCreation: false,
        // The idempotent producer must not give up on retriable errors (kafkajs warns otherwise).
        retry: { retries: Number.MAX_SAFE_INTEGER, initialRetryTime: 200, maxRetryTime: 5000 },
        createPartitioner: explicitPartitioner,
      });
      // With a transactional id, the id is initialised before the sink uses it: from here on an earlier producer of
      // the id (a previous lease holder, frozen or dead, or the one this replaces) is fenced, and its open
      // transaction aborted.
      if (transactional) await connectFencing(producer);
      else await producer.connect();
      return transactional ? transactionalBatches(producer) : producer;
    };
    return new KafkaSink(options, {
      producer: await newProducer(),
      recovery: { newProducer },
      transactional,
      topicName: (topic) => options.codec.topic(topic),
      encoders,
      deadLetterEncoder,
      checkpointEncoder,
      partitionCounts,
    });
  }

  get buffered(): number {
    return this.queue.length;
  }

  private get partitionCacheMaxKeys(): number {
    return this.settings.partitionCacheMaxKeys ?? DEFAULT_PARTITION_CACHE_MAX_KEYS;
  }

  /** The partition cache (all topics) and the send queue, for /metrics; the queue's bound is INGEST_HIGH_WATER plus a frame. */
  trackedStructures(): TrackedStructure[] {
    return [
      {
        name: 'ingest.sink.partition-cache',
        entries: () => [...this.partitionCache.values()].reduce((sum, cache) => sum + cache.size, 0),
        cap: this.partitionCacheMaxKeys * this.wiring.partitionCounts.size,
      },
      { name: 'ingest.sink.queue', entries: () => this.queue.length, cap: Number.POSITIVE_INFINITY },
    ];
  }

  /** Called with true when the queue passes the high-water mark, false once it drained below half. */
  onSaturation(listener: (saturated: boolean) => void): void {
    this.saturationListeners.push(listener);
  }

  produce(records: readonly OutRecord[]): void {
    const now = Date.now();
    const failed: DeadLetterOut[] = [];
    for (const record of records) {
      const encoder = this.wiring.encoders.get(record.topic);
      let value: Buffer;
      try {
        if (!encoder) throw new TypeError(`ingest sink has no encoder for topic ${record.topic}`);
        value = encoder(record.value);
      } catch (error) {
        failed.push(
          deadLetter(
            String(record.value && 'source' in record.value ? record.value.source : 'ingest'),
            `does not encode: ${(error as Error).message}`,
            JSON.stringify(record.value),
            now,
            record.key,
          ),
        );
        continue;
      }
      const topic = this.topicName(record.topic);
      const partition = this.partitionOf(record.topic, topic, record.key);
      this.enqueue({
        topic,
        message: { key: record.key, value, partition },
        eventTimeMs: record.eventTimeMs,
        copy: false,
        topicKey: record.topic,
      });
      if (record.key === this.settings.benchmarkSymbol && BROADCAST_TOPICS.has(record.topic))
        this.broadcastCopies(record, topic, value, partition);
    }
    if (failed.length > 0) this.deadLetter(failed);
    this.afterEnqueue();
  }

  private topicName(topic: SinkTopic): string {
    let name = this.topicNames.get(topic);
    if (name === undefined) {
      name = this.wiring.topicName(topic);
      this.topicNames.set(topic, name);
    }
    return name;
  }

  private partitionOf(topicKey: SinkTopic, topic: string, key: string): number | undefined {
    const partitions = this.wiring.partitionCounts.get(topicKey);
    if (partitions === undefined) return undefined;
    let cache = this.partitionCache.get(topicKey);
    if (!cache) {
      cache = new Map();
      this.partitionCache.set(topicKey, cache);
    }
    let partition = cache.get(key);
    if (partition === undefined) {
      // Bounded: tickers are a few tens of thousands; a flood of distinct keys only empties it now and then.
      if (cache.size >= this.partitionCacheMaxKeys) cache.clear();
      partition = murmur2Partition(topic, key, partitions);
      cache.set(key, partition);
    }
    return partition;
  }

  private broadcastCopies(record: OutRecord, topic: string, value: Buffer, canonical: number | undefined): void {
    const count = this.wiring.partitionCounts.get(record.topic) ?? 1;
    for (let partition = 0; partition < count; partition += 1) {
      if (partition === canonical) continue;
      this.enqueue({
        topic,
        message: { key: record.key, value, partition, headers: { [BROADCAST_COPY_HEADER]: '1' } },
        eventTimeMs: record.eventTimeMs,
        copy: true,
        topicKey: record.topic,
      });
    }
  }

  deadLetter(letters: readonly DeadLetterOut[]): void {
    const topic = this.topicName('deadLetters');
    for (const letter of letters) {
      const partition = this.partitionOf('deadLetters', topic, letter.key);
      this.enqueue({
        topic,
        message: { key: letter.key, value: this.wiring.deadLetterEncoder(letter.value), partition },
        eventTimeMs: letter.value.receivedAtMs,
        copy: false,
        topicKey: 'deadLetters',
      });
      this.settings.metrics.deadLetters.inc({ source: letter.value.source });
    }
    this.afterEnqueue();
  }

  /** Queues a backfill checkpoint record, after everything queued before it. */
  checkpoint(record: IngestCheckpointRecord): void {
    const encoder = this.wiring.checkpointEncoder;
    if (!encoder) throw new Error('this sink was created without checkpoints');
    this.enqueue({
      topic: this.topicName('ingestCheckpoints'),
      message: { key: checkpointKey(record), value: encoder(record), partition: 0 },
      eventTimeMs: record.updatedAtMs,
      copy: false,
      topicKey: 'ingestCheckpoints',
    });
    this.afterEnqueue();
  }

  /** Fenced: nothing more is written. */
  get isFenced(): boolean {
    return this.fenced;
  }

  private enqueue(pending: Pending): void {
    // Fenced: another instance writes now; what this one still receives goes nowhere (counted in /metrics).
    if (this.fenced) return;
    // Idle until now: the stall clock starts with the first waiting message.
    if (this.queue.length === 0 && this.sendingMessages === 0) this.progressAtMs = this.now();
    this.queue.push(pending);
  }

  private afterEnqueue(): void {
    this.settings.metrics.buffered.set(this.queue.length);
    if (!this.saturated && this.queue.length >= this.highWater) this.setSaturated(true);
    if (!this.sending && this.queue.length > 0) this.sending = this.sendLoops();
  }

  private setSaturated(saturated: boolean): void {
    this.saturated = saturated;
    for (const listener of this.saturationListeners) listener(saturated);
  }

  private checkStall(stallTimeoutMs: number): void {
    const busy = this.queue.length > 0 || this.sendingMessages > 0;
    const stalledMs = busy ? Math.max(0, this.now() - this.progressAtMs) : 0;
    this.settings.metrics.produceStalled.set(stalledMs / 1000);
    if (!busy || this.closed || this.stallReported || stalledMs <= stallTimeoutMs) return;
    this.stallReported = true;
    const reason = `Kafka acknowledged nothing for ${Math.round(stalledMs / 1000)} s with ${this.queue.length + this.sendingMessages} messages waiting`;
    this.settings.logger.fatal({ waiting: this.queue.length, sending: this.sendingMessages, stalledMs }, reason);
    this.settings.onStall?.(reason);
  }

  private async sendLoops(): Promise<void> {
    await Promise.all(Array.from({ length: this.inFlight }, () => this.sendLoop()));
    this.sending = undefined;
    for (const waiter of this.drainWaiters.splice(0)) waiter();
    // Records queued while the last loops were finishing.
    if (this.queue.length > 0 && !this.fenced) this.sending = this.sendLoops();
  }

  private async sendLoop(): Promise<void> {
    let failures = 0;
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0, this.maxBatch);
      this.sendingMessages += batch.length;
      const producer = this.producer;
      // What Kafka has not acknowledged yet: the whole batch, then the partitions an answer left out.
      let unacknowledged: readonly Pending[] = batch;
      try {
        while (unacknowledged.length > 0) {
          const metadata = await producer.sendBatch({ acks: -1, topicMessages: topicMessagesOf(unacknowledged) });
          const left = this.wiring.recovery && !this.wiring.transactional ? leftOut(unacknowledged, metadata) : [];
          this.countAcknowledged(left.length === 0 ? unacknowledged : without(unacknowledged, left));
          if (left.length > 0) this.reportLeftOut(left);
          unacknowledged = left;
        }
        this.sendingMessages -= batch.length;
        failures = 0;
      } catch (error) {
        this.sendingMessages -= batch.length;
        if (isProducerFenced(error)) {
          this.fence(unacknowledged.length, error);
          break;
        }
        if (this.wiring.recovery && isProducerSequenceLost(error)) {
          const unwritten = await this.unwrittenOf(producer, unacknowledged);
          this.queue.unshift(...unwritten);
          this.settings.metrics.buffered.set(this.queue.length);
          try {
            await this.replaceProducer(this.wiring.recovery, producer);
            this.settings.logger.error(
              { err: error, messages: batch.length, resent: unwritten.length },
              "Kafka refused the producer's sequence numbers; replaced it with a new producer, which sends what it had not written",
            );
          } catch (replaceError) {
            // Kafka unreachable meanwhile: what was not written waits (at the head), and the next failure tries again.
            failures += 1;
            this.settings.logger.error({ err: replaceError, failures }, 'replacing the producer failed; retrying');
            await delay(backoffDelay(PRODUCE_RETRY, failures));
          }
          continue;
        }
        // The idempotent producer retries retriable errors itself; anything reaching here is put back in order.
        failures += 1;
        this.queue.unshift(...unacknowledged);
        this.settings.metrics.produceFailures.inc();
        this.settings.metrics.buffered.set(this.queue.length);
        if (!this.saturated && this.queue.length >= this.highWater) this.setSaturated(true);
        this.settings.logger.error({ err: error, messages: unacknowledged.length, failures }, 'produce failed; retrying');
        if (this.closed && failures > 3) break;
        await delay(backoffDelay(PRODUCE_RETRY, failures));
      }
    }
  }

  private countAcknowledged(acknowledged: readonly Pending[]): void {
    this.settings.metrics.buffered.set(this.queue.length);
    if (acknowledged.length === 0) return;
    const now = Date.now();
    this.progressAtMs = this.now();
    const outByTopic = new Map<string, number>();
    for (const item of acknowledged) {
      if (item.copy || item.topicKey === 'deadLetters' || item.topicKey === 'ingestCheckpoints') continue;
      outByTopic.set(item.topicKey, (outByTopic.get(item.topicKey) ?? 0) + 1);
      this.settings.metrics.lag.observe(Math.max(0, now - item.eventTimeMs) / 1000);
    }
    for (const [topic, count] of outByTopic) this.settings.metrics.eventsOut.inc({ topic }, count);
    if (this.saturated && this.queue.length < this.highWater / 2) this.setSaturated(false);
  }

  private reportLeftOut(left: readonly Pending[]): void {
    this.settings.metrics.produceFailures.inc();
    this.settings.logger.error(
      { messages: left.length, partitions: [...partitionGroups(left).groups.keys()] },
      'Kafka acknowledged a batch without some of its partitions; sending exactly their messages again',
    );
  }

  /**
   * Kafka refused the producer's sequence numbers: which of `refused`'s messages no partition has appended, in order.
   * Transactional: the batch's transaction was aborted (or is, by the new producer's fencing), so all of them.
   * Otherwise kafkajs may have written some partitions of the batch (it sends a request per broker) and rolled back
   * their sequence numbers with the failed request's: each partition's messages go again alone, exactly as before,
   * on the refused producer. The broker then keeps a batch it already has once (same producer id and sequence
   * numbers: idempotence) or appends it; it refuses again only a partition whose sequence it does not accept, which
   * has not appended them: those are returned, for the new producer.
   */
  private async unwrittenOf(refused: BatchProducer, batch: readonly Pending[]): Promise<Pending[]> {
    if (this.wiring.transactional) return [...batch];
    const { groups, unpartitioned } = partitionGroups(batch);
    const unwritten = new Set<Pending>(unpartitioned);
    for (const items of groups.values()) {
      try {
        const metadata = await refused.sendBatch({ acks: -1, topicMessages: topicMessagesOf(items) });
        if (leftOut(items, metadata).length > 0) for (const item of items) unwritten.add(item);
        else this.countAcknowledged(items);
      } catch {
        // Refused (kafkajs retries what may yet succeed without end): not appended.
        for (const item of items) unwritten.add(item);
      }
    }
    return batch.filter((item) => unwritten.has(item));
  }

  /** A new producer in place of `refused`, unless another send loop (INGEST_MAX_IN_FLIGHT > 1) replaced it already. */
  private async replaceProducer(recovery: ProducerRecovery, refused: BatchProducer): Promise<void> {
    await this.replacing;
    if (this.producer !== refused) return;
    const replacing = (async () => {
      this.producer = await recovery.newProducer();
      await refused.disconnect().catch(() => undefined);
      this.settings.metrics.producerReplacements.inc();
    })();
    this.replacing = replacing.catch(() => undefined);
    await replacing;
  }

  private fence(unsent: number, error: unknown): void {
    if (this.fenced) return;
    this.fenced = true;
    const dropped = unsent + this.queue.length;
    this.queue.length = 0;
    this.settings.metrics.buffered.set(0);
    const reason = 'Kafka fenced this ingest instance: another one holds the lease and has opened its producer';
    this.settings.logger.warn({ err: error, dropped }, reason);
    this.settings.onFenced?.(reason);
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
    clearInterval(this.watchdog);
    if (timedOut)
      this.settings.logger.error(
        { unacknowledged: this.queue.length + this.sendingMessages },
        'closing with messages Kafka never acknowledged',
      );
    await this.producer.disconnect();
  }
}

/** The messages as kafkajs takes them: per topic, in order. */
function topicMessagesOf(items: readonly Pending[]): { topic: string; messages: OutMessage[] }[] {
  const byTopic = new Map<string, OutMessage[]>();
  for (const item of items) {
    const messages = byTopic.get(item.topic);
    if (messages) messages.push(item.message);
    else byTopic.set(item.topic, [item.message]);
  }
  return [...byTopic].map(([topic, messages]) => ({ topic, messages }));
}

/**
 * The messages of the partitions an acknowledgement does not name. kafkajs can leave one out: when a request to one
 * broker fails, its retry goes only to the brokers that have not answered yet, by the partitions' current leaders, so a
 * partition whose leader moved to a broker that had answered is not sent again, and the batch resolves. That
 * partition may or may not have been written by the failed request (seen under a broker's SIGKILL: written, its
 * sequence numbers rolled back), so its messages must go again exactly as they were, alone, for the broker to
 * recognise them (chaos/kafka-faults.cluster.test.ts). Messages left to kafkajs's partitioner are never reported.
 */
function leftOut(items: readonly Pending[], metadata: readonly RecordMetadata[]): Pending[] {
  const answered = answeredPartitions(metadata);
  return items.filter((item) => item.message.partition !== undefined && answered.get(item.topic)?.has(item.message.partition) !== true);
}

/** The partitions an acknowledgement names, per topic (no key string per message: this runs on every batch). */
function answeredPartitions(metadata: readonly RecordMetadata[]): Map<string, Set<number>> {
  const answered = new Map<string, Set<number>>();
  for (const entry of metadata) answered.set(entry.topicName, (answered.get(entry.topicName) ?? new Set<number>()).add(entry.partition));
  return answered;
}

/** The partitions (`partitionKey`) of a batch an acknowledgement does not name (see leftOut). */
function unansweredPartitions(batch: ProducerBatch, metadata: readonly RecordMetadata[]): string[] {
  const answered = answeredPartitions(metadata);
  const missing = new Set<string>();
  for (const { topic, messages } of batch.topicMessages ?? [])
    for (const { partition } of messages)
      if (partition !== undefined && answered.get(topic)?.has(partition) !== true) missing.add(partitionKey(topic, partition));
  return [...missing];
}

function without(items: readonly Pending[], removed: readonly Pending[]): Pending[] {
  const set = new Set(removed);
  return items.filter((item) => !set.has(item));
}

/** A batch's messages per partition (`partitionKey`), in order; those left to kafkajs's partitioner apart. */
function partitionGroups(batch: readonly Pending[]): { groups: Map<string, Pending[]>; unpartitioned: Pending[] } {
  const groups = new Map<string, Pending[]>();
  const unpartitioned: Pending[] = [];
  for (const item of batch) {
    if (item.message.partition === undefined) {
      unpartitioned.push(item);
      continue;
    }
    const key = partitionKey(item.topic, item.message.partition);
    const group = groups.get(key);
    if (group) group.push(item);
    else groups.set(key, [item]);
  }
  return { groups, unpartitioned };
}
