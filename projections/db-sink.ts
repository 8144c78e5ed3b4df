import type pg from 'pg';
import type { AvroCodec } from '../platform/codec.js';
import type { Logger } from '../platform/logger.js';
import type { TopicKey } from '../platform/topics.js';
import { acceptsTombstones, RejectedValueError, rowFor, tableForTopic, tombstoneRow, type DbProjectionName } from './core.js';
import { decodeMessages } from './decode.js';
import type { ProjectorMetrics } from './metrics.js';
import type { Notifier } from '../store/notifier.js';
import type { PartitionBatch, PartitionSink, SinkOutcome } from './partition-consumer.js';
import { faultPoint, type FaultHook } from './faults.js';
import { PgBatchWriter, type PreparedMessage } from './pg-writer.js';
import type { LateRowRefresher } from './late-refresh.js';

/** Turns decoded messages of a topic into prepared rows, tombstones, rejects and skips (pure but for the types). */
export function prepareMessages(
  topicKey: TopicKey,
  topic: string,
  partition: number,
  decoded: Awaited<ReturnType<typeof decodeMessages>>,
): PreparedMessage[] {
  const table = tableForTopic(topicKey);
  return decoded.map((message): PreparedMessage => {
    switch (message.kind) {
      case 'skip':
        return { offset: message.offset, kind: 'skip' };
      case 'undecodable':
        return { offset: message.offset, kind: 'reject', reason: message.reason, payload: message.raw };
      case 'tombstone':
        if (acceptsTombstones(topicKey) && message.key !== null && message.key.length > 0) {
          return { offset: message.offset, kind: 'tombstone', row: tombstoneRow(table, message.key) };
        }
        return { offset: message.offset, kind: 'reject', reason: 'null value on a topic without tombstones', payload: null };
      case 'value':
        try {
          return {
            offset: message.offset,
            kind: 'row',
            row: rowFor(topicKey, message.value, { topic, partition, offset: message.offset }),
          };
        } catch (error) {
          if (!(error instanceof RejectedValueError) && !(error instanceof TypeError)) throw error;
          return { offset: message.offset, kind: 'reject', reason: `invalid: ${error.message}`, payload: message.raw };
        }
    }
  });
}

/**
 * The PostgreSQL side of one projection: decode, prepare, write in one transaction with the offsets, then
 * announce. While the pool has waiters (the database is behind) the partition is paused until a connection
 * is released.
 */
export class DbProjectionSink implements PartitionSink {
  private readonly writer: PgBatchWriter;

  constructor(
    private readonly pool: pg.Pool,
    private readonly options: {
      readonly projection: DbProjectionName;
      /** Offsets are stored under this name (default: the projection's). */
      readonly offsetsName?: string;
      readonly tableSuffix?: string;
      readonly topics: ReadonlyMap<string, TopicKey>;
      readonly codec: AvroCodec;
      readonly logger: Logger;
      readonly metrics: ProjectorMetrics;
      readonly notifier?: Notifier;
      readonly faultHook?: FaultHook;
      /** Called after each committed batch (rebuild progress). */
      readonly onApplied?: (topic: string, partition: number, nextOffset: number) => void;
      /**
       * Refreshes the continuous aggregates over rows a batch committed below their watermark, before the batch is
       * announced (TimescaleDB path; the live projector's tables only, a rebuild's have no aggregates yet).
       */
      readonly lateRefresher?: LateRowRefresher;
    },
  ) {
    this.writer = new PgBatchWriter(pool, {
      projection: options.offsetsName ?? options.projection,
      tableSuffix: options.tableSuffix,
      faultHook: options.faultHook,
      recordNotices: options.notifier !== undefined,
    });
  }

  private get offsetsName(): string {
    return this.options.offsetsName ?? this.options.projection;
  }

  /** Called on every assignment: also announces what a crash or a Redis outage left unannounced. */
  async storedOffsets(topic: string): Promise<Map<number, number>> {
    await this.announcePending(topic).catch((error: unknown) =>
      this.options.logger.warn({ err: error, topic }, 'announcing pending notices failed; the next batch retries'),
    );
    return this.writer.storedOffsets(topic);
  }

  /**
   * Announces every recorded, not yet announced change of this projection (the projector calls it whenever the
   * notice connection to Redis becomes ready: at start, and when Redis is back after an outage).
   */
  async announceAllPending(): Promise<void> {
    // Not before the late refreshes running now: their batches are announced once their aggregates show the rows.
    await this.options.lateRefresher?.idle();
    return this.announcePending(undefined);
  }

  /**
   * Announces the recorded, not yet announced changes (of a topic, of one of its partitions, or all): one version
   * bump and notice for their symbols, then the records go. Announcing twice is harmless (an extra version bump).
   */
  private async announcePending(topic: string | undefined, partition?: number): Promise<void> {
    const notifier = this.options.notifier;
    if (!notifier) return;
    const { rows } = await this.pool.query<{
      topic: string;
      partition: number;
      next_offset: string;
      symbols: string[];
      scopes: string[] | null;
    }>(
      `SELECT topic, partition, next_offset, symbols, scopes FROM projection_notices
        WHERE projection = $1 AND ($2::text IS NULL OR topic = $2) AND ($3::int IS NULL OR partition = $3)`,
      [this.offsetsName, topic ?? null, partition ?? null],
    );
    if (rows.length === 0) return;
    const symbols = [...new Set(rows.flatMap((row) => row.symbols))].sort();
    // One record without scopes makes the whole notice unscoped (every broad scan is then invalidated).
    const scopes = rows.every((row) => row.scopes !== null) ? [...new Set(rows.flatMap((row) => row.scopes ?? []))].sort() : undefined;
    const notice = await notifier.announceScopes(`db.${this.options.projection}`, symbols, this.options.projection === 'patterns', scopes);
    if (notice === undefined) return; // Redis is away: the records stay for the next attempt
    await this.pool.query(
      `DELETE FROM projection_notices WHERE projection = $1
          AND (topic, partition, next_offset) IN (SELECT * FROM unnest($2::text[], $3::int[], $4::bigint[]))`,
      [this.offsetsName, rows.map((row) => row.topic), rows.map((row) => row.partition), rows.map((row) => row.next_offset)],
    );
  }

  async write(batch: PartitionBatch): Promise<SinkOutcome> {
    const topicKey = this.options.topics.get(batch.topic);
    if (topicKey === undefined) throw new RangeError(`projection ${this.options.projection} does not read topic ${batch.topic}`);
    const started = performance.now();
    const fault = faultPoint(this.options.faultHook, {
      projection: this.offsetsName,
      topic: batch.topic,
      partition: batch.partition,
      firstOffset: Number(batch.messages[0]?.offset ?? -1),
    });
    await fault('consume');
    const decoded = await decodeMessages(this.options.codec, batch.messages);
    const messages = prepareMessages(topicKey, batch.topic, batch.partition, decoded);
    const outcome = await this.writer.write({
      table: tableForTopic(topicKey),
      topic: batch.topic,
      partition: batch.partition,
      messages,
      believed: batch.believed,
    });
    const labels = { projection: this.options.projection, topic: batch.topic };
    if (outcome.action === 'seek') {
      this.options.metrics.batches.inc({ ...labels, outcome: 'seek' });
      // Typically a retry of a batch that failed after its COMMIT: its notice may be pending, and the partition may
      // get no further batch to carry it.
      await this.announcePending(batch.topic, batch.partition).catch((error: unknown) =>
        this.options.logger.warn(
          { err: error, topic: batch.topic, partition: batch.partition },
          'announcing pending notices failed; the next batch retries',
        ),
      );
      return outcome;
    }
    this.options.metrics.batches.inc({ ...labels, outcome: 'applied' });
    this.options.metrics.rows.inc(labels, outcome.rows);
    if (outcome.rejected > 0) this.options.metrics.rejects.inc(labels, outcome.rejected);
    this.options.metrics.batchSeconds.observe(labels, (performance.now() - started) / 1000);
    this.options.metrics.nextOffset.set({ ...labels, partition: String(batch.partition) }, outcome.nextOffset);
    this.options.onApplied?.(batch.topic, batch.partition, outcome.nextOffset);
    await this.options.lateRefresher?.afterCommit(tableForTopic(topicKey), outcome.timeSpan);
    if (outcome.rows > 0 && this.options.notifier) {
      await fault('notify');
      // The rows are committed: a failed announcement stays recorded for the next batch, it must not fail this one.
      await this.announcePending(batch.topic, batch.partition).catch((error: unknown) =>
        this.options.logger.warn(
          { err: error, topic: batch.topic, partition: batch.partition },
          'announcing the batch failed; the next batch retries',
        ),
      );
      await fault('after-notify');
    }
    if (this.pool.waitingCount > 0) {
      this.options.metrics.paused.inc(labels);
      await pauseWhileBehind(this.pool, batch.pause);
      this.options.metrics.paused.dec(labels);
    }
    return outcome;
  }
}

/** The part of a pg.Pool that tells whether the database is behind. */
export interface PoolPressure {
  readonly waitingCount: number;
  on(event: 'release', listener: () => void): unknown;
  off(event: 'release', listener: () => void): unknown;
}

/** How often a paused partition looks at the pool again (a waiter can leave without a release: its connect failed). */
export const BEHIND_RECHECK_MS = 250;

/**
 * While the pool has waiters (every connection busy and more work queued: the database is behind), pause the
 * partition's fetching; resume once no one is waiting. Checked at each release and every BEHIND_RECHECK_MS: when
 * the database goes away, waiters leave through a failed connect, which emits no release.
 */
export function pauseWhileBehind(pool: PoolPressure, pause: () => () => void, recheckMs: number = BEHIND_RECHECK_MS): Promise<void> {
  if (pool.waitingCount === 0) return Promise.resolve();
  const resume = pause();
  return new Promise<void>((resolve) => {
    const check = () => {
      if (pool.waitingCount > 0) return;
      pool.off('release', check);
      clearInterval(timer);
      resume();
      resolve();
    };
    const timer = setInterval(check, recheckMs);
    pool.on('release', check);
  });
}
