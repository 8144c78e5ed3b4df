import type { Consumer, EachBatchPayload, Kafka, KafkaMessage } from 'kafkajs';
import { backoffDelay, type BackoffPolicy } from '../platform/backoff.js';
import type { Logger } from '../platform/logger.js';

/** Retries of a batch whose store is unreachable: from 200 ms up to 5 s apart, jittered, for as long as it lasts. */
export const STORE_RETRY: BackoffPolicy = { baseMs: 200, maxMs: 5000, jitter: 'equal' };

/** Where a consumer reports that its store failed or served a batch (one per process: one WARN per outage). */
export interface OutageReport {
  /** A batch attempt starts: its mark for `succeeded`. */
  begin(): number;
  failed(error: unknown): void;
  /** The attempt marked `begun` succeeded (it ends an outage only if it began during it). */
  succeeded(begun: number): void;
}

/** What the sink did with a batch: stored a new next offset, or found its stored offset moved and wants a seek. */
export type SinkOutcome = { readonly action: 'apply'; readonly nextOffset: number } | { readonly action: 'seek'; readonly offset: number };

export interface PartitionBatch {
  readonly topic: string;
  readonly partition: number;
  readonly messages: readonly KafkaMessage[];
  /** The next offset this consumer believes is stored for the partition (undefined: unknown). */
  readonly believed: number | undefined;
  /** Pauses fetching of this partition; call the returned function to resume. */
  readonly pause: () => () => void;
}

export interface PartitionSink {
  /** The next offsets stored for a topic's partitions (the source of truth, not the group's commits). */
  storedOffsets(topic: string): Promise<Map<number, number>>;
  write(batch: PartitionBatch): Promise<SinkOutcome>;
}

/**
 * A kafkajs consumer whose positions come from a sink's own store: on every assignment it seeks each partition
 * to the stored next offset, and it never commits group offsets. Batches are handed to the sink one
 * partition at a time; the sink decides (transactionally) what is new.
 */
export class PartitionConsumer {
  private readonly consumer: Consumer;
  private readonly believed = new Map<string, number>();
  private joined: Promise<void> = Promise.resolve();
  private assignment: Record<string, number[]> = {};
  private running = false;

  constructor(
    kafka: Kafka,
    private readonly options: {
      readonly groupId: string;
      readonly topics: readonly string[];
      readonly sink: PartitionSink;
      readonly logger: Logger;
      readonly partitionsConsumedConcurrently?: number;
      readonly onError?: (error: Error) => void;
      /**
       * Errors that mean the store is unreachable (a database restarting): the batch is retried in place with
       * STORE_RETRY backoff, heartbeating, until the store is back or the consumer stops. Any other error goes to
       * kafkajs, which retries the batch a few times and then restarts the consumer.
       */
      readonly isUnavailable?: (error: unknown) => boolean;
      readonly outage?: OutageReport;
      /** Waits between retries (tests pass a fast one). */
      readonly sleep?: (ms: number) => Promise<void>;
    },
  ) {
    // A short fetch wait keeps shutdown quick (a stop waits for the in-flight fetch).
    this.consumer = kafka.consumer({
      groupId: options.groupId,
      allowAutoTopicCreation: false,
      maxWaitTimeInMs: 1000,
      retry: { retries: 8 },
    });
    this.consumer.on(this.consumer.events.GROUP_JOIN, (event) => {
      this.assignment = event.payload.memberAssignment;
      const joined = this.seekToStored(event.payload.memberAssignment);
      // The next batch awaits (and fails on) this; mark it handled so an idle consumer cannot crash the process.
      joined.catch((error: unknown) => {
        if (options.isUnavailable?.(error) === true) options.outage?.failed(error);
        else options.logger.error({ err: error }, 'loading stored offsets failed; the next batch retries');
      });
      this.joined = joined;
    });
    this.consumer.on(this.consumer.events.CRASH, (event) => {
      options.logger.error({ err: event.payload.error, restart: event.payload.restart }, 'consumer crashed');
      if (!event.payload.restart) options.onError?.(event.payload.error);
    });
  }

  private key(topic: string, partition: number): string {
    return `${topic}\u0000${partition}`;
  }

  private async seekToStored(assignment: Record<string, number[]>): Promise<void> {
    for (const [topic, partitions] of Object.entries(assignment)) {
      const stored = await this.options.sink.storedOffsets(topic);
      for (const partition of partitions) {
        const offset = stored.get(partition);
        if (offset === undefined) {
          this.believed.delete(this.key(topic, partition));
          continue;
        }
        this.believed.set(this.key(topic, partition), offset);
        this.consumer.seek({ topic, partition, offset: String(offset) });
      }
    }
  }

  /**
   * Re-reads the stored offsets of the assigned partitions and seeks wherever they differ from what this
   * consumer believes (after a rebuild swapped the tables and their offsets under it).
   */
  async resync(options: { readonly rebuildWhenMissing?: boolean } = {}): Promise<number> {
    let moved = 0;
    for (const [topic, partitions] of Object.entries(this.assignment)) {
      const stored = await this.options.sink.storedOffsets(topic);
      for (const partition of partitions) {
        const key = this.key(topic, partition);
        // A store that lost its data (Redis restarted empty) has no offset where we had progress: rebuild from the start.
        const lost = options.rebuildWhenMissing === true && stored.get(partition) === undefined && (this.believed.get(key) ?? 0) > 0;
        const offset = lost ? 0 : stored.get(partition);
        if (offset === undefined || offset === this.believed.get(key)) continue;
        this.believed.set(key, offset);
        this.consumer.seek({ topic, partition, offset: String(offset) });
        moved += 1;
      }
    }
    if (moved > 0) this.options.logger.info({ moved }, 'stored offsets moved; seeking');
    return moved;
  }

  async start(): Promise<void> {
    await this.consumer.connect();
    await this.consumer.subscribe({ topics: [...this.options.topics], fromBeginning: true });
    this.running = true;
    await this.consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: true,
      partitionsConsumedConcurrently: this.options.partitionsConsumedConcurrently ?? 1,
      eachBatch: (payload) => this.handle(payload),
    });
  }

  private async handle(payload: EachBatchPayload): Promise<void> {
    const { batch } = payload;
    if (!payload.isRunning() || payload.isStale() || batch.messages.length === 0) return;
    const key = this.key(batch.topic, batch.partition);
    const sleep = this.options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
    let outcome: SinkOutcome;
    for (let attempt = 0; ; attempt += 1) {
      const begun = this.options.outage?.begin() ?? 0;
      try {
        await this.ensureJoined();
        // Loading the stored offsets may just have moved this partition: kafkajs refetches from there.
        if (payload.isStale()) return;
        outcome = await this.options.sink.write({
          topic: batch.topic,
          partition: batch.partition,
          messages: batch.messages,
          believed: this.believed.get(key),
          pause: payload.pause,
        });
        this.options.outage?.succeeded(begun);
        break;
      } catch (error) {
        if (this.options.isUnavailable?.(error) !== true) throw error;
        this.options.outage?.failed(error);
        this.options.logger.debug(
          { err: error, topic: batch.topic, partition: batch.partition, attempt },
          'store unreachable; retrying the batch',
        );
        await sleep(backoffDelay(STORE_RETRY, attempt));
        // Stopping or rebalancing: leave the batch unresolved (positions come from the store on the next start).
        if (!payload.isRunning() || payload.isStale()) throw error;
        await payload.heartbeat();
      }
    }
    if (outcome.action === 'seek') {
      this.options.logger.warn({ topic: batch.topic, partition: batch.partition, offset: outcome.offset }, 'stored offset moved; seeking');
      this.believed.set(key, outcome.offset);
      this.consumer.seek({ topic: batch.topic, partition: batch.partition, offset: String(outcome.offset) });
      return;
    }
    this.believed.set(key, outcome.nextOffset);
    await payload.heartbeat();
  }

  /** The stored offsets of the assignment, loaded again when loading them failed (the store was away at the join). */
  private async ensureJoined(): Promise<void> {
    const loading = this.joined;
    try {
      await loading;
    } catch {
      // Partitions consumed concurrently share one reload.
      if (this.joined === loading) {
        this.joined = this.seekToStored(this.assignment);
        this.joined.catch(() => {});
      }
      await this.joined;
    }
  }

  get isRunning(): boolean {
    return this.running;
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.consumer.disconnect();
  }
}
