import type { Queryable } from './queryable.js';

/** A continuous aggregate of a hypertable and where its materialized buckets end (TimescaleDB path only). */
export interface AggregateWatermark {
  readonly view: string;
  /** Buckets before it are read from the materialization, the rest is aggregated from the table at read time. */
  readonly watermarkMs: number;
}

/**
 * The continuous aggregates on `table` with their watermarks (`tf_aggregate_watermarks`, migration 1797000000000);
 * none on the plain path, where the 5m/15m/1h bars and the hourly counts are plain views, always current.
 */
export async function aggregateWatermarks(db: Queryable, table: string): Promise<AggregateWatermark[]> {
  const { rows } = await db.query<{ view_name: string; watermark: Date }>('SELECT view_name, watermark FROM tf_aggregate_watermarks($1)', [
    table,
  ]);
  return rows.map((row) => ({ view: row.view_name, watermarkMs: new Date(row.watermark).getTime() }));
}

/**
 * Materializes `view` over [fromMs, toMs) from its table (TimescaleDB's `refresh_continuous_aggregate`: only the
 * buckets wholly inside the window, and only where rows were written since the last refresh). Runs its own
 * transactions: `db` must not be inside one. A concurrent refresh of an overlapping window (a policy run) makes it
 * fail with SQLSTATE 55P03 (`isConcurrentRefresh`).
 */
export async function refreshAggregate(db: Queryable, view: string, fromMs: number, toMs: number): Promise<void> {
  await db.query('CALL refresh_continuous_aggregate($1::regclass, $2::timestamptz, $3::timestamptz)', [
    view,
    new Date(fromMs).toISOString(),
    new Date(toMs).toISOString(),
  ]);
}

/** TimescaleDB refused a refresh because another one (a policy's) covers an overlapping window right now. */
export function isConcurrentRefresh(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as { code?: unknown }).code === '55P03';
}
