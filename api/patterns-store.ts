import type { Queryable } from '../store/queryable.js';
import { buildCountsSql, countsOf, type CountGroupRow, type CountQuery, type CountRow, type PatternCounts } from './pattern-counts.js';
import {
  buildCountedScanSql,
  buildScanSql,
  countableFromBuckets,
  patternView,
  SCAN_COLUMNS,
  timesOf,
  type PatternRow,
  type PatternTimes,
  type PatternView,
  type ScanQuery,
} from './scan.js';

/** PostgreSQL reads of the patterns projection (thin adapter over the SQL built in scan.ts). */

export interface ScanResult {
  readonly rows: PatternView[];
  /** Per row: detected-at and expires-at in epoch ms (for the age fields). */
  readonly times: PatternTimes[];
  readonly total: number;
  readonly totalCapped: boolean;
  /** Symbols of the rows on the pages before this one (offset paging), which the page depends on; undefined past MAX_TRACKED_PAGE. */
  readonly leadingSymbols: readonly string[] | undefined;
  readonly dbMs: number;
}

/**
 * Offset pages up to this one are read from the first row (the same rows PostgreSQL walks for an OFFSET), so
 * the symbols before the page are known and a cached page depends on them rather than on every pattern.
 */
const MAX_TRACKED_PAGE = 5;

/**
 * At or below this many matches a scan filters first and sorts after (see buildScanSql): materialising up to
 * this many rows is bounded work, whereas walking an ordering index for rare matches is not.
 */
const FILTER_FIRST_MAX_MATCHES = 10_000;

/** A pattern filter of at most this many types, with a sort other than confidence, is filtered first whatever its count. */
const FILTER_FIRST_MAX_PATTERN_TYPES = 2;

/**
 * Whether the page query materialises the matches before sorting them (bounded work) rather than walking the
 * sort's index until the page is full. Few matches: always. A filter on one or two pattern types sorted by
 * anything but confidence: also, because the pattern index holds those rows together (index-only), whereas the
 * sort's index may hold them anywhere: measured on 10M rows, 25-36 ms against 76-430 ms when they sort low.
 * Except one pattern of one tier with more than ONE_PATTERN_WALK_MIN_MATCHES matches: its (pattern, sort key)
 * index holds the pattern's rows together and in page order.
 */
export function filterFirstFor(query: ScanQuery, counted: number, countCap: number): boolean {
  if (readInOrder(query)) return false;
  if (counted <= walkAboveMatches(query, countCap)) return true;
  if (walksOnePatternOfATier(query)) return false;
  const patterns = query.filters.patternTypes.length;
  return patterns > 0 && patterns <= FILTER_FIRST_MAX_PATTERN_TYPES && query.page.sortBy !== 'confidence';
}

/**
 * Above this many matches, one pattern of one tier sorted by detection time, relative strength or volume walks the
 * pattern's (pattern, sort key, id) index, skipping the other tiers' entries and those under the confidence: with
 * M matches among the pattern's A active entries, a page of P walks about P * A / M entries, against M gathered
 * and sorted. 10M rows, DAILY hammer by volume, confidence >= 0.6 (6,667 matches): 0.5-1 ms walked, 12 ms gathered.
 */
export const ONE_PATTERN_WALK_MIN_MATCHES = 1_000;

/** One tier, one pattern type, confidence, sorted by a (pattern, sort key, id) index: see ONE_PATTERN_WALK_MIN_MATCHES. */
function walksOnePatternOfATier(query: ScanQuery): boolean {
  const f = query.filters;
  return (
    onlyConfidenceTierPattern(query) &&
    f.tiers.length === 1 &&
    f.patternTypes.length === 1 &&
    query.page.sortBy !== 'confidence' &&
    query.page.sortBy !== 'symbol'
  );
}

/** The number of matches above which the page walks an index instead of gathering the matches. */
export function walkAboveMatches(query: ScanQuery, countCap: number): number {
  return Math.trunc(Math.min(countCap, walksOnePatternOfATier(query) ? ONE_PATTERN_WALK_MIN_MATCHES : FILTER_FIRST_MAX_MATCHES));
}

/** Active patterns filtered by confidence, at most one tier and at most one pattern type, and nothing else. */
function onlyConfidenceTierPattern(query: ScanQuery): boolean {
  const f = query.filters;
  return countableFromBuckets(f) && f.tiers.length <= 1 && f.patternTypes.length <= 1;
}

/**
 * Whether an index holds the matching rows in the page's order, so that the page is its first matching rows:
 * active patterns filtered by confidence, at most one tier and at most one pattern type, and nothing else,
 * - by confidence: the indexes on (tier, confidence, id), (pattern, confidence, id) and (pattern, tier, confidence,
 *   id) (migrations 1796000000000 and 1796500000000) hold exactly the matches, so every entry walked is on the page;
 * - by detection time, relative strength or volume, one pattern across all tiers: the indexes on (pattern, sort key,
 *   id) including confidence and tier (migration 1796600000000). The walk filters by confidence and stops once
 *   the page is full; at most it reads the pattern's active entries, which a gather (no tier to bound the range
 *   of (pattern, tier, confidence, id)) reads every time: 5-9 ms a page on 10M rows, now well under 1 ms.
 * Either way the walk beats gathering up to FILTER_FIRST_MAX_MATCHES rows.
 */
export function readInOrder(query: ScanQuery): boolean {
  if (!onlyConfidenceTierPattern(query)) return false;
  if (query.page.sortBy === 'confidence') return true;
  return query.page.sortBy !== 'symbol' && query.filters.patternTypes.length === 1 && query.filters.tiers.length === 0;
}

/**
 * The capped count runs first (index-only, 1-2 ms): it says how selective the filters are, which picks the
 * page query's plan, and a scan with no match needs no page query at all. Count and page go in one statement
 * where the plan does not depend on the count, and where it does for the plan of many matches (an index walk run
 * only if the count says so); a scan with few matches then sends its gather as a second statement.
 *
 * `prepared` (see prepared.ts) runs the statements of scans filtered by confidence, at most one tier and at most
 * one pattern type, and nothing else: the statement's shape fixes their plan, whatever the values, so each
 * connection plans a shape once. Not a list of pattern types: how many of them the list names decides between the
 * pattern index and the confidence index (two of ten, all tiers, confidence >= 0.5: 38 ms planned without the
 * list against 17 ms with it, on 10M rows).
 */
export async function scanPatterns(db: Queryable, query: ScanQuery, countCap: number, prepared?: Queryable): Promise<ScanResult> {
  const started = performance.now();
  const reader = prepared !== undefined && onlyConfidenceTierPattern(query) ? prepared : db;
  const empty = (total: number): ScanResult => ({
    rows: [],
    times: [],
    total,
    totalCapped: false,
    leadingSymbols: [],
    dbMs: performance.now() - started,
  });
  if (query.filters.symbols !== undefined && query.filters.symbols.length === 0) return empty(0);
  const { page: pageNumber, perPage, cursor } = query.page;
  const leading = cursor === undefined && pageNumber > 1 && pageNumber <= MAX_TRACKED_PAGE ? (pageNumber - 1) * perPage : 0;
  const fetched = leading > 0 ? { ...query, page: { ...query.page, page: 1, perPage: leading + perPage } } : query;
  let counted: number;
  let pageRows: PatternRow[];
  const filterFirstIfMany = filterFirstFor(query, countCap + 1, countCap);
  if (filterFirstIfMany === filterFirstFor(query, 0, countCap)) {
    // The plan is the same whatever the count (an in-order index walk or a bounded gather, both cheap with no
    // match): count and page in one statement, one round trip.
    const both = buildCountedScanSql(fetched, countCap, { filterFirst: filterFirstIfMany, lateLookup: true });
    const result = await reader.query<PatternRow & { matched_total: number }>(both.text, both.values);
    counted = Number(result.rows[0]?.matched_total ?? 0);
    pageRows = result.rows.filter((row) => row.pattern_id !== null);
  } else {
    // The page walks the sort's index above this many matches and gathers at or below it. A broad scan (the common
    // case) walks: that walk goes in the count's statement behind a one-time filter on the count, so it runs only
    // then, in one round trip; with fewer matches the gather follows as a second statement.
    const walkAbove = walkAboveMatches(query, countCap);
    const both = buildCountedScanSql(fetched, countCap, { filterFirst: false, lateLookup: true, onlyIf: `counted.total > ${walkAbove}` });
    const result = await reader.query<PatternRow & { matched_total: number }>(both.text, both.values);
    counted = Number(result.rows[0]?.matched_total ?? 0);
    if (counted === 0) return empty(0);
    if (counted > walkAbove) {
      pageRows = result.rows.filter((row) => row.pattern_id !== null);
    } else {
      const page = buildScanSql(fetched, { filterFirst: filterFirstFor(query, counted, countCap), lateLookup: true });
      pageRows = (await reader.query<PatternRow>(page.text, page.values)).rows;
    }
  }
  if (counted === 0) return empty(0);
  const all = pageRows.map(patternView);
  const rows = all.slice(leading);
  return {
    rows,
    times: rows.map(timesOf),
    total: Math.min(counted, countCap),
    totalCapped: counted > countCap,
    leadingSymbols:
      cursor === undefined && pageNumber > MAX_TRACKED_PAGE
        ? undefined
        : [...new Set(all.slice(0, leading).map((row) => row.symbol))].sort(),
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

export async function findPattern(
  db: Queryable,
  patternId: string,
): Promise<{ pattern: PatternView; events: PatternEventView[] } | undefined> {
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
    // Not filtered on the pattern's detected_at: every UPDATED event re-stamps it, so the earlier events lie before
    // it. The symbol (part of the pattern's identity) lets compressed TimescaleDB chunks, segmented by symbol, be
    // read by segment rather than whole.
    `SELECT event_id, kind, detected_at, confidence, price, kafka_topic, kafka_partition, kafka_offset
       FROM pattern_events WHERE pattern_id = $1 AND symbol = $2 ORDER BY kafka_offset LIMIT 1000`,
    [patternId, rows[0].symbol],
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

export interface PatternStats {
  active_total: number;
  by_tier: CountRow[];
  by_pattern: CountRow[];
  detections: { hours: number; total: number; hourly: { bucket: string; count: number }[] };
}

/** Distribution of active patterns by tier and by pattern, and detections per hour over the last `hours` (from pattern_counts_hourly). */
export async function patternStats(db: Queryable, hours: number, now: number): Promise<PatternStats> {
  const since = new Date(Math.floor(now / 3_600_000) * 3_600_000 - (hours - 1) * 3_600_000).toISOString();
  // Counts per (pattern, tier) come from an index-only scan of the active pattern index; tier and pattern
  // totals are summed from them here rather than by a pass over the table's rows.
  const [pairs, hourly] = await Promise.all([
    db.query<{ tier: string; pattern: string; count: string }>(
      `SELECT pattern, tier, count(*) AS count FROM patterns WHERE status = 'active' GROUP BY pattern, tier`,
    ),
    db.query<{ bucket: Date; count: string }>(
      `SELECT bucket, sum(count)::bigint AS count FROM pattern_counts_hourly WHERE bucket >= $1::timestamptz GROUP BY bucket ORDER BY bucket`,
      [since],
    ),
  ]);
  const total = (column: 'tier' | 'pattern') => {
    const sums = new Map<string, number>();
    for (const row of pairs.rows) sums.set(row[column], (sums.get(row[column]) ?? 0) + Number(row.count));
    return [...sums].map(([key, count]) => ({ key, count }));
  };
  const byTier = { rows: total('tier').sort((a, b) => (a.key < b.key ? -1 : 1)) };
  const byPattern = { rows: total('pattern').sort((a, b) => b.count - a.count || (a.key < b.key ? -1 : 1)) };
  const tiers = byTier.rows;
  const histogram = hourly.rows.map((row) => ({ bucket: new Date(row.bucket).toISOString(), count: Number(row.count) }));
  return {
    active_total: tiers.reduce((sum, row) => sum + row.count, 0),
    by_tier: tiers,
    by_pattern: byPattern.rows,
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
  // Count and mean confidence from an index-only scan of the tier index; the latest detection per tier below
  // walks the detected-at index from its newest end.
  const aggregates = await db.query<{ tier: string; active: string; average_confidence: number | null }>(
    `SELECT tier, count(*) AS active, avg(confidence) AS average_confidence FROM patterns WHERE status = 'active' GROUP BY tier`,
  );
  const byTier = new Map(aggregates.rows.map((row) => [row.tier, row]));
  return Promise.all(
    TIERS.map(async (tier) => {
      const [top, latest] = await Promise.all([
        db.query<PatternRow>(
          `SELECT ${SCAN_COLUMNS} FROM patterns p WHERE p.status = 'active' AND p.tier = $1 ORDER BY p.confidence DESC, p.pattern_id DESC LIMIT 5`,
          [tier],
        ),
        db.query<{ detected_at: Date }>(
          `SELECT detected_at FROM patterns WHERE status = 'active' AND tier = $1 ORDER BY detected_at DESC, pattern_id DESC LIMIT 1`,
          [tier],
        ),
      ]);
      const row = byTier.get(tier);
      return {
        tier,
        active: Number(row?.active ?? 0),
        average_confidence:
          row?.average_confidence === null || row?.average_confidence === undefined ? null : Number(row.average_confidence),
        latest_detected_at: latest.rows[0] ? new Date(latest.rows[0].detected_at).toISOString() : null,
        top: top.rows.map(patternView),
      };
    }),
  );
}

/** Detections in a window by direction, by symbol (the top ones) and per time bucket (SQL and shaping in pattern-counts.ts). */
export async function patternCounts(db: Queryable, query: CountQuery): Promise<PatternCounts> {
  // A universe with none of the named symbols: nothing to count.
  if (query.symbols !== undefined && query.symbols.length === 0) return countsOf([]);
  const statement = buildCountsSql(query);
  return countsOf((await db.query<CountGroupRow>(statement.text, statement.values)).rows);
}
