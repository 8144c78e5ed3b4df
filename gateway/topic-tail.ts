import type { Logger } from '../platform/index.js';
import { backoffDelay, type BackoffPolicy } from '../platform/backoff.js';
import type { LogSource, TopicInfo } from './kafka-log.js';
import type { PartitionBounds, PartitionRead } from './types.js';
import { PartitionRing } from './ring.js';
import type { StreamName } from './types.js';

/** A tail read on its way: the positions it reads from, its result, and the read sent on from its answer. */
interface TailRead {
  readonly from: ReadonlyMap<number, number>;
  readonly reads: Promise<Map<number, PartitionRead & PartitionBounds>>;
  next?: TailRead;
}

/** Reads sent and not yet taken by the tail loop; a dropped chain sends no more. */
interface TailChain {
  count: number;
  dropped: boolean;
}

/** Tail reads in flight at most: the one being handled and the one sent on from its answer. */
const PIPELINE_DEPTH = 2;
/** Pause before re-reading after a failed tail read (this tail retrying its own reads: no jitter). */
const TAIL_RETRY: BackoffPolicy = { baseMs: 100, maxMs: 5_000, jitter: 'none' };

export interface TopicTailOptions {
  readonly stream: StreamName;
  readonly topic: string;
  readonly source: LogSource;
  readonly logger: Logger;
  /** Events kept per partition in memory. */
  readonly ringCapacity: number;
  readonly pollWaitMs: number;
  readonly maxBytesPerPartition: number;
  /** How often the topic's metadata is re-read to pick up partitions added at runtime. */
  readonly metadataRefreshMs: number;
}

/**
 * One stream's tail: follows every partition of its topic from the log head (primed with the last
 * `ringCapacity` records) into per-partition rings, and tells listeners when records arrive. It keeps no
 * per-client state; subscriptions read the rings at their own positions.
 */
export class TopicTail {
  readonly rings = new Map<number, PartitionRing>();
  private info!: TopicInfo;
  private running = false;
  private loop: Promise<void> | undefined;
  private readonly listeners = new Set<() => void>();
  private readonly resetListeners = new Set<(info: TopicInfo) => void>();
  private readonly partitionListeners = new Set<(added: ReadonlyMap<number, number>) => void>();
  private lastDescribeAt = 0;
  /** Time of the last successful poll, for /ready. */
  lastPollAt = 0;
  appended = 0;

  constructor(readonly options: TopicTailOptions) {}

  get topic(): TopicInfo {
    return this.info;
  }

  /** Primes the rings and reads up to the log head as it was, so that `latest` means the head from the start. */
  async start(): Promise<void> {
    const target = await this.prime();
    const behind = () => [...this.rings].some(([partition, ring]) => ring.nextOffset < (target.get(partition) ?? 0));
    while (behind()) await this.pollOnce(this.options.pollWaitMs);
    this.running = true;
    this.loop = this.tail();
  }

  /** Starts every ring `ringCapacity` records before the head; returns the head per partition. */
  private async prime(): Promise<Map<number, number>> {
    this.info = await this.options.source.describe(this.options.topic);
    this.lastDescribeAt = Date.now();
    const bounds = await this.options.source.bounds(this.options.topic);
    this.rings.clear();
    const heads = new Map<number, number>();
    for (const partition of this.info.partitions) {
      const { logStart, high } = bounds.get(partition) ?? { logStart: 0, high: 0 };
      this.rings.set(partition, new PartitionRing(this.options.ringCapacity, Math.max(logStart, high - this.options.ringCapacity)));
      heads.set(partition, high);
    }
    this.lastPollAt = Date.now();
    return heads;
  }

  /** One read of every partition from where its ring ends; tells listeners when any position moved. */
  private async pollOnce(maxWaitMs: number): Promise<void> {
    const from = this.positions();
    this.apply(
      from,
      await this.options.source.read(this.info, from, { maxWaitMs, maxBytesPerPartition: this.options.maxBytesPerPartition }),
    );
  }

  private positions(): Map<number, number> {
    return new Map([...this.rings].map(([partition, ring]) => [partition, ring.nextOffset]));
  }

  /**
   * Appends a read to the rings. A partition is taken only if the read started where its ring ends now (a
   * pipelined read sent before a reset or a refresh may not have); listeners hear when any position moved.
   */
  private apply(from: ReadonlyMap<number, number>, reads: ReadonlyMap<number, PartitionRead & PartitionBounds>): void {
    let advanced = false;
    for (const [partition, read] of reads) {
      const ring = this.rings.get(partition);
      if (!ring || from.get(partition) !== ring.nextOffset) continue;
      if (read.nextOffset > ring.nextOffset) {
        ring.append(read);
        this.appended += read.events.length;
        // Skipped records (control records, broadcast copies) move positions too: listeners must hear of it.
        advanced = true;
      }
    }
    this.lastPollAt = Date.now();
    if (advanced) for (const listener of this.listeners) listener();
  }

  /**
   * Sends a tail read. When the broker answers, and before the answer is decoded and dispatched, the next read
   * is sent from where this one ends (at most `PIPELINE_DEPTH` reads ahead of the loop): records produced while
   * this one is handled wait at the broker in a fetch already there, not for this cycle to end.
   */
  private sendTailRead(from: ReadonlyMap<number, number>, ahead: TailChain): TailRead {
    ahead.count += 1;
    // Built before the read is sent: a source may report its fetch before read() returns.
    const read: { -readonly [K in keyof TailRead]: TailRead[K] } = { from, reads: Promise.resolve(new Map()) };
    read.reads = this.options.source.read(this.info, from, {
      maxWaitMs: this.options.pollWaitMs,
      maxBytesPerPartition: this.options.maxBytesPerPartition,
      onFetched: (fetched) => {
        if (!this.running || ahead.dropped || ahead.count >= PIPELINE_DEPTH) return;
        // Partitions the ring set gained since (a refresh) join from their ring's position.
        const next = this.positions();
        for (const [partition, offset] of from) next.set(partition, fetched.get(partition) ?? offset);
        read.next = this.sendTailRead(next, ahead);
      },
    });
    // The loop awaits every read it takes; one dropped after a failure must not be an unhandled rejection.
    read.reads.catch(() => {});
    return read;
  }

  onAppend(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Called when the topic was recreated (new epoch): every position of the old log is void. */
  onReset(listener: (info: TopicInfo) => void): () => void {
    this.resetListeners.add(listener);
    return () => this.resetListeners.delete(listener);
  }

  /**
   * Partitions added to the topic at runtime: each gets a ring from its log start, and listeners hear of it
   * with that start, so every position (and cursor) includes the new partition from its first record.
   */
  onPartitionsAdded(listener: (added: ReadonlyMap<number, number>) => void): () => void {
    this.partitionListeners.add(listener);
    return () => this.partitionListeners.delete(listener);
  }

  /** Re-reads the topic's metadata; new partitions join the tail from their log start. */
  async refreshPartitions(): Promise<void> {
    this.lastDescribeAt = Date.now();
    const info = await this.options.source.describe(this.options.topic);
    // A new topic id is a recreated topic: the next read fails and recover() starts a new epoch.
    if (info.topicId !== this.info.topicId) return;
    const fresh = info.partitions.filter((partition) => !this.rings.has(partition));
    if (fresh.length === 0) return;
    const bounds = await this.options.source.bounds(this.options.topic);
    const added = new Map<number, number>();
    for (const partition of fresh) {
      const logStart = bounds.get(partition)?.logStart ?? 0;
      this.rings.set(partition, new PartitionRing(this.options.ringCapacity, logStart));
      added.set(partition, logStart);
    }
    this.info = info;
    this.options.logger.info(
      { topic: info.topic, added: Object.fromEntries(added) },
      'partitions added to the topic: tailing them from their log start',
    );
    for (const listener of this.partitionListeners) listener(added);
  }

  private async tail(): Promise<void> {
    let failures = 0;
    let ahead: TailChain = { count: 0, dropped: false };
    let pending: TailRead | undefined;
    while (this.running) {
      try {
        if (Date.now() - this.lastDescribeAt >= this.options.metadataRefreshMs) await this.refreshPartitions();
        const current: TailRead = pending ?? this.sendTailRead(this.positions(), ahead);
        const reads = await current.reads;
        ahead.count -= 1;
        pending = current.next;
        this.apply(current.from, reads);
        failures = 0;
      } catch (error) {
        // Reads sent on from a failed one are dropped: recovery may move the positions they started from.
        pending = undefined;
        ahead.dropped = true;
        ahead = { count: 0, dropped: false };
        if (!this.running) break;
        failures += 1;
        this.options.logger.warn({ err: error, stream: this.options.stream, failures }, 'tail read failed; re-reading topic metadata');
        await new Promise((resolve) => setTimeout(resolve, backoffDelay(TAIL_RETRY, failures)));
        await this.recover().catch((recoverError: unknown) => this.options.logger.warn({ err: recoverError }, 'recovery failed'));
      }
    }
  }

  /** After a failed read: a new topic id means a new log (reset everything); positions below the log start jump to it. */
  private async recover(): Promise<void> {
    const info = await this.options.source.describe(this.options.topic);
    if (info.topicId !== this.info.topicId) {
      this.options.logger.warn({ topic: info.topic, epoch: info.epoch }, 'topic recreated: new epoch');
      const heads = await this.prime();
      const behind = () => [...this.rings].some(([partition, ring]) => ring.nextOffset < (heads.get(partition) ?? 0));
      while (behind()) await this.pollOnce(this.options.pollWaitMs);
      for (const listener of this.resetListeners) listener(this.info);
      return;
    }
    const bounds = await this.options.source.bounds(this.options.topic);
    for (const [partition, ring] of this.rings) {
      const partitionBounds = bounds.get(partition);
      if (partitionBounds && (ring.nextOffset < partitionBounds.logStart || ring.nextOffset > partitionBounds.high))
        ring.reset(partitionBounds.logStart);
    }
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
  }
}
