import type { Logger } from '../platform/index.js';
import type { LogSource, TopicInfo } from './kafka-log.js';
import { PartitionRing } from './ring.js';
import type { StreamName } from './types.js';

export interface HubOptions {
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
export class StreamHub {
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

  constructor(readonly options: HubOptions) {}

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
    const from = new Map([...this.rings].map(([partition, ring]) => [partition, ring.nextOffset]));
    const reads = await this.options.source.read(this.info, from, { maxWaitMs, maxBytesPerPartition: this.options.maxBytesPerPartition });
    let advanced = false;
    for (const [partition, read] of reads) {
      const ring = this.rings.get(partition)!;
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
    this.options.logger.info({ topic: info.topic, added: Object.fromEntries(added) }, 'partitions added to the topic: tailing them from their log start');
    for (const listener of this.partitionListeners) listener(added);
  }

  private async tail(): Promise<void> {
    let failures = 0;
    while (this.running) {
      try {
        if (Date.now() - this.lastDescribeAt >= this.options.metadataRefreshMs) await this.refreshPartitions();
        await this.pollOnce(this.options.pollWaitMs);
        failures = 0;
      } catch (error) {
        if (!this.running) break;
        failures += 1;
        this.options.logger.warn({ err: error, stream: this.options.stream, failures }, 'tail read failed; re-reading topic metadata');
        await new Promise((resolve) => setTimeout(resolve, Math.min(5_000, 100 * 2 ** Math.min(failures, 6))));
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
      if (partitionBounds && (ring.nextOffset < partitionBounds.logStart || ring.nextOffset > partitionBounds.high)) ring.reset(partitionBounds.logStart);
    }
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
  }
}
