import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { faultPoint, type FaultHook } from './faults.js';
import {
  applySql,
  copySql,
  patternChangeOf,
  planBatch,
  rowTimeSpan,
  stagedLine,
  stagingDdl,
  type BatchPlan,
  type Row,
  type RowTimeSpan,
  type TableName,
} from './core.js';
import { batchScopes } from '../contracts/pattern-scopes.js';

/** One message of a batch, already turned into a row, a tombstone, a reject, or nothing (skipped copy). */
export type PreparedMessage =
  | { readonly offset: number; readonly kind: 'row'; readonly row: Row }
  | { readonly offset: number; readonly kind: 'tombstone'; readonly row: Row }
  | { readonly offset: number; readonly kind: 'reject'; readonly reason: string; readonly payload: Buffer | null }
  | { readonly offset: number; readonly kind: 'skip' };

export interface PreparedBatch {
  readonly table: TableName;
  readonly topic: string;
  readonly partition: number;
  readonly messages: readonly PreparedMessage[];
  /** The next offset this process believes is stored (undefined when it does not know). */
  readonly believed: number | undefined;
}

export type BatchOutcome =
  | (BatchPlan & { readonly action: 'seek' })
  | {
      readonly action: 'apply';
      readonly nextOffset: number;
      readonly rows: number;
      readonly rejected: number;
      readonly symbols: readonly string[];
      /** The span of the rows' time (tables with a time column, batches with rows). */
      readonly timeSpan: RowTimeSpan | undefined;
    };

/** Rows are streamed to COPY in chunks of this many lines. */
const COPY_CHUNK_ROWS = 2000;

function* copyChunks(messages: readonly PreparedMessage[]): Generator<string> {
  let chunk = '';
  let count = 0;
  for (const message of messages) {
    if (message.kind !== 'row' && message.kind !== 'tombstone') continue;
    chunk += stagedLine(message.row, message.offset, message.kind === 'tombstone');
    count += 1;
    if (count === COPY_CHUNK_ROWS) {
      yield chunk;
      chunk = '';
      count = 0;
    }
  }
  if (chunk.length > 0) yield chunk;
}

/**
 * Writes batches of one projection: COPY into a per-connection staging table, fold into the target tables
 * with INSERT ... ON CONFLICT, and store the next offset, all in one transaction. The offsets row is locked
 * first, so two writers of the same partition serialise and the loser sees the moved offset and seeks.
 */
export class PgBatchWriter {
  constructor(
    private readonly pool: pg.Pool,
    private readonly options: {
      /** Name under which offsets are stored (a rebuild writes under its own name). */
      readonly projection: string;
      /** Suffix of the target tables (rebuilds write into `<table>__rebuild`). */
      readonly tableSuffix?: string;
      readonly faultHook?: FaultHook;
      /**
       * Record each batch's changed symbols in `projection_notices` inside the transaction (an outbox): the
       * notice after COMMIT can then be lost to a crash or a Redis outage and still be sent later.
       */
      readonly recordNotices?: boolean;
    },
  ) {}

  /** Next offsets stored for the given partitions of a topic. */
  async storedOffsets(topic: string): Promise<Map<number, number>> {
    const result = await this.pool.query<{ partition: number; next_offset: string }>(
      'SELECT partition, next_offset FROM projection_offsets WHERE projection = $1 AND topic = $2',
      [this.options.projection, topic],
    );
    return new Map(result.rows.map((row) => [row.partition, Number(row.next_offset)]));
  }

  async write(batch: PreparedBatch): Promise<BatchOutcome> {
    if (batch.messages.length === 0) throw new RangeError('an empty batch has no offsets to store');
    const firstOffset = batch.messages[0]!.offset;
    const lastOffset = batch.messages[batch.messages.length - 1]!.offset;
    const fault = faultPoint(this.options.faultHook, {
      projection: this.options.projection,
      topic: batch.topic,
      partition: batch.partition,
      firstOffset,
    });
    const client = await this.pool.connect();
    let broken: Error | undefined;
    // A checked-out client has no pool listener: a connection lost between two queries (server restart, terminated
    // backend) would be an uncaught 'error' event. The next query then fails and the batch is retried.
    const onConnectionError = (error: Error) => {
      broken = error;
    };
    client.on('error', onConnectionError);
    try {
      await client.query('BEGIN');
      // Rows and offsets commit together, so losing the last commits in a server crash loses both consistently and
      // the batches are simply re-applied from Kafka: the WAL flush need not be waited for.
      await client.query("SET LOCAL synchronous_commit = off; SET LOCAL work_mem = '64MB'");
      await fault('begin');
      const locked = await client.query<{ next_offset: string }>(
        'SELECT next_offset FROM projection_offsets WHERE projection = $1 AND topic = $2 AND partition = $3 FOR UPDATE',
        [this.options.projection, batch.topic, batch.partition],
      );
      await fault('lock-offsets');
      const stored = locked.rows[0] === undefined ? undefined : Number(locked.rows[0].next_offset);
      const plan = planBatch({ stored, believed: batch.believed, firstOffset, lastOffset });
      if (plan.action === 'seek') {
        await client.query('ROLLBACK');
        return plan;
      }
      const fresh = batch.messages.filter((message) => message.offset >= plan.from);
      const rows = fresh.filter((message) => message.kind === 'row' || message.kind === 'tombstone');
      if (rows.length > 0) {
        await client.query(stagingDdl(batch.table));
        await pipeline(Readable.from(copyChunks(fresh)), client.query(copyFrom(copySql(batch.table))));
      }
      await fault('copy');
      if (rows.length > 0) {
        for (const statement of applySql(batch.table, this.options.tableSuffix ?? '')) await client.query(statement);
      }
      await fault('apply');
      const rejects = fresh.filter((message) => message.kind === 'reject');
      for (const reject of rejects) {
        await client.query(
          `INSERT INTO projection_rejects (projection, topic, partition, kafka_offset, reason, payload) VALUES ($1, $2, $3, $4, $5, $6)
           ON CONFLICT DO NOTHING`,
          [this.options.projection, batch.topic, batch.partition, reject.offset, reject.reason, reject.payload],
        );
      }
      await fault('rejects');
      const symbols = new Set<string>();
      for (const message of rows)
        if (message.kind === 'row' || message.kind === 'tombstone') symbols.add(String(message.row[symbolColumn(batch.table)]));
      const changed = [...symbols].sort();
      if (this.options.recordNotices && changed.length > 0) {
        // Pattern events also record the scopes their new states fall in (every state the batch passes through:
        // a superset of the final ones, so never too few).
        const scopes =
          batch.table === 'pattern_events'
            ? batchScopes(rows.flatMap((message) => (message.kind === 'row' ? [patternChangeOf(message.row)] : [])))
            : null;
        await client.query(
          `INSERT INTO projection_notices (projection, topic, partition, next_offset, symbols, scopes) VALUES ($1, $2, $3, $4, $5, $6)
           ON CONFLICT DO NOTHING`,
          [this.options.projection, batch.topic, batch.partition, plan.nextOffset, changed, scopes],
        );
      }
      await client.query(
        `INSERT INTO projection_offsets (projection, topic, partition, next_offset, updated_at) VALUES ($1, $2, $3, $4, now())
         ON CONFLICT (projection, topic, partition) DO UPDATE SET next_offset = EXCLUDED.next_offset, updated_at = now()`,
        [this.options.projection, batch.topic, batch.partition, plan.nextOffset],
      );
      await fault('store-offsets');
      await fault('commit');
      await client.query('COMMIT');
      await fault('after-commit');
      const timeSpan = rowTimeSpan(
        batch.table,
        rows.flatMap((message) => (message.kind === 'row' ? [message.row] : [])),
      );
      return { action: 'apply', nextOffset: plan.nextOffset, rows: rows.length, rejected: rejects.length, symbols: changed, timeSpan };
    } catch (error) {
      broken = error instanceof Error ? error : new Error(String(error));
      await client.query('ROLLBACK').catch(() => {});
      throw error;
    } finally {
      // A connection that failed mid-COPY may be in any state: destroy it rather than return it to the pool.
      client.off('error', onConnectionError);
      client.release(broken);
    }
  }
}

/** Which row column holds the symbol (for per-symbol cache invalidation). */
function symbolColumn(table: TableName): number {
  return table === 'pattern_events' ? 7 : 0;
}
