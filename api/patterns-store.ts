import type { Queryable } from './universes.js';
import { buildCountSql, buildScanSql, patternView, SCAN_COLUMNS, timesOf, type PatternRow, type PatternTimes, type PatternView, type ScanQuery } from './scan.js';

/** PostgreSQL reads of the patterns projection (thin adapter over the SQL built in scan.ts). */

export interface ScanResult {
  readonly rows: PatternView[];
  /** Per row: detected-at and expires-at in epoch ms (for the age fields). */
  readonly times: PatternTimes[];
  readonly total: number;
  readonly totalCapped: boolean;
  readonly dbMs: number;
}

export async function scanPatterns(db: Queryable, query: ScanQuery, countCap: number): Promise<ScanResult> {
  const started = performance.now();
  if (query.filters.symbols !== undefined && query.filters.symbols.length === 0) return { rows: [], times: [], total: 0, totalCapped: false, dbMs: 0 };
  const page = buildScanSql(query);
  const count = buildCountSql(query.filters, countCap);
  const [pageResult, countResult] = await Promise.all([db.query<PatternRow>(page.text, page.values), db.query<{ total: number }>(count.text, count.values)]);
  const counted = Number(countResult.rows[0]?.total ?? 0);
  const rows = pageResult.rows.map(patternView);
  return {
    rows,
    times: rows.map(timesOf),
    total: Math.min(counted, countCap),
    totalCapped: counted > countCap,
    dbMs: performance.now() - started,
  };
}

export interface PatternEventView {
  event_id: string;
  kind: string;
  detected_at: string;
  confidence: number;
  price: number | null;
  kafka_topic: string;
  kafka_partition: number;
  kafka_offset: number;
}

export async function findPattern(db: Queryable, patternId: string): Promise<{ pattern: PatternView; events: PatternEventView[] } | undefined> {
  const { rows } = await db.query<PatternRow>(`SELECT ${SCAN_COLUMNS} FROM patterns p WHERE p.pattern_id = $1`, [patternId]);
  if (!rows[0]) return undefined;
  const events = await db.query<{
    event_id: string;
    kind: string;
    detected_at: Date;
    confidence: number;
    price: number | null;
    kafka_topic: string;
    kafka_partition: number;
    kafka_offset: string;
  }>(
    `SELECT event_id, kind, detected_at, confidence, price, kafka_topic, kafka_partition, kafka_offset
       FROM pattern_events WHERE pattern_id = $1 AND detected_at = $2 ORDER BY kafka_offset LIMIT 1000`,
    [patternId, rows[0].detected_at],
  );
  return {
    pattern: patternView(rows[0]),
    events: events.rows.map((row) => ({
      event_id: row.event_id,
      kind: row.kind,
      detected_at: new Date(row.detected_at).toISOString(),
      confidence: Number(row.confidence),
      price: row.price === null ? null : Number(row.price),
      kafka_topic: row.kafka_topic,
      kafka_partition: row.kafka_partition,
      kafka_offset: Number(row.kafka_offset),
    })),
  };
}

export interface CountRow {
  key: string;
  count: number;
}

export interface PatternStats {
  active_total: number;
  by_tier: CountRow[];
  by_pattern: CountRow[];
  by_direction: CountRow[];
  detections: { hours: number; total: number; hourly: { bucket: string; count: number }[] };
}

const counts = (rows: { key: string; count: string | number }[]): CountRow[] => rows.map((row) => ({ key: row.key, count: Number(row.count) }));

/** Distribution of active patterns, and detections per hour over the last `hours` (from pattern_counts_hourly). */
export async function patternStats(db: Queryable, hours: number, now: number): Promise<PatternStats> {
  const since = new Date(Math.floor(now / 3_600_000) * 3_600_000 - (hours - 1) * 3_600_000).toISOString();
  // One pass over the active rows for all three distributions (GROUPING SETS), beside the hourly histogram.
  const [distributions, hourly] = await Promise.all([
    db.query<{ tier: string | null; pattern: string | null; direction: string | null; count: string }>(
      `SELECT tier, pattern, direction, count(*) AS count FROM patterns WHERE status = 'active'
        GROUP BY GROUPING SETS ((tier), (pattern), (direction))`,
    ),
    db.query<{ bucket: Date; count: string }>(`SELECT bucket, sum(count)::bigint AS count FROM pattern_counts_hourly WHERE bucket >= $1::timestamptz GROUP BY bucket ORDER BY bucket`, [since]),
  ]);
  const pick = (column: 'tier' | 'pattern' | 'direction') =>
    distributions.rows.filter((row) => row[column] !== null).map((row) => ({ key: row[column] as string, count: row.count }));
  const byCount = (a: CountRow, b: CountRow) => b.count - a.count || (a.key < b.key ? -1 : 1);
  const byKey = (a: CountRow, b: CountRow) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0);
  const byTier = { rows: counts(pick('tier')).sort(byKey) };
  const byPattern = { rows: counts(pick('pattern')).sort(byCount) };
  const byDirection = { rows: counts(pick('direction')).sort(byKey) };
  const tiers = byTier.rows;
  const histogram = hourly.rows.map((row) => ({ bucket: new Date(row.bucket).toISOString(), count: Number(row.count) }));
  return {
    active_total: tiers.reduce((sum, row) => sum + row.count, 0),
    by_tier: tiers,
    by_pattern: byPattern.rows,
    by_direction: byDirection.rows,
    detections: { hours, total: histogram.reduce((sum, row) => sum + row.count, 0), hourly: histogram },
  };
}

export interface TierSummary {
  tier: string;
  active: number;
  average_confidence: number | null;
  latest_detected_at: string | null;
  top: PatternView[];
}

const TIERS = ['DAILY', 'INTRADAY', 'COMBO'] as const;

/** Per tier: active count, mean confidence, latest detection, and the five most confident active patterns. */
export async function patternSummary(db: Queryable): Promise<TierSummary[]> {
  const aggregates = await db.query<{ tier: string; active: string; average_confidence: number | null; latest: Date | null }>(
    `SELECT tier, count(*) AS active, avg(confidence) AS average_confidence, max(detected_at) AS latest
       FROM patterns WHERE status = 'active' GROUP BY tier`,
  );
  const byTier = new Map(aggregates.rows.map((row) => [row.tier, row]));
  return Promise.all(
    TIERS.map(async (tier) => {
      const top = await db.query<PatternRow>(
        `SELECT ${SCAN_COLUMNS} FROM patterns p WHERE p.status = 'active' AND p.tier = $1 ORDER BY p.confidence DESC, p.pattern_id DESC LIMIT 5`,
        [tier],
      );
      const row = byTier.get(tier);
      return {
        tier,
        active: Number(row?.active ?? 0),
        average_confidence: row?.average_confidence === null || row?.average_confidence === undefined ? null : Number(row.average_confidence),
        latest_detected_at: row?.latest ? new Date(row.latest).toISOString() : null,
        top: top.rows.map(patternView),
      };
    }),
  );
}
