import { parameterAdder, parseInstant, ScanInputError, TIMEFRAME_TIERS, type SqlStatement, type Tier, type Timeframe } from './scan.js';

/**
 * Counts of pattern detections over a time window, as pure functions: parameters -> normalised query -> SQL, and
 * the grouped rows -> the response's counts. No I/O here (the read is patternCounts in patterns-store.ts).
 */

/** Widths of the time buckets, in ms. Buckets are aligned to multiples of the width from 2000-01-01T00:00Z. */
export const COUNT_BUCKETS = { '5m': 300_000, '15m': 900_000, '1h': 3_600_000, '1d': 86_400_000 } as const;
export type CountBucket = keyof typeof COUNT_BUCKETS;
export const COUNT_BUCKET_NAMES = Object.keys(COUNT_BUCKETS) as [CountBucket, ...CountBucket[]];

/** At most this many buckets per window: a histogram a dashboard can draw, and a bounded answer. */
export const MAX_COUNT_BUCKETS = 2_000;

/** The window's length when neither `since` nor `hours` is given (the same default as /api/patterns/stats). */
export const DEFAULT_COUNT_HOURS = 24;

const HOUR_MS = 3_600_000;

/** The validated query parameters of /api/patterns/counts (see schemas.ts). */
export interface CountParameters {
  readonly pattern_types?: readonly string[] | undefined;
  readonly symbols?: readonly string[] | undefined;
  readonly timeframe: Timeframe;
  readonly since?: string | undefined;
  readonly until?: string | undefined;
  readonly hours?: number | undefined;
  readonly bucket: CountBucket;
  readonly top: number;
}

/** A counts query, normalised: equal questions written differently give equal values (cache keys). */
export interface CountQuery {
  readonly patternTypes: readonly string[];
  /** undefined: every symbol; otherwise exactly these (already intersected with the universe). */
  readonly symbols: readonly string[] | undefined;
  readonly tiers: readonly Tier[];
  /** Epoch ms, inclusive. */
  readonly since: number;
  /** Epoch ms, exclusive. */
  readonly until: number;
  readonly bucket: CountBucket;
  readonly top: number;
}

/**
 * Parameters (+ the symbols to count, already scoped by the universe) -> the query. Without `until` the window ends
 * at the end of the market clock's hour, so the newest detection is inside it and hourly buckets are whole; without
 * `since` it starts `hours` (24) before its end: `hours=24` is the window of /api/patterns/stats?hours=24.
 */
export function normaliseCountQuery(parameters: CountParameters, symbols: readonly string[] | undefined, marketNow: number): CountQuery {
  if (parameters.since !== undefined && parameters.hours !== undefined) {
    throw new ScanInputError('hours', 'give since or hours, not both');
  }
  const until =
    parameters.until === undefined ? Math.floor(marketNow / HOUR_MS) * HOUR_MS + HOUR_MS : parseInstant('until', parameters.until);
  const since =
    parameters.since === undefined ? until - (parameters.hours ?? DEFAULT_COUNT_HOURS) * HOUR_MS : parseInstant('since', parameters.since);
  if (since >= until) throw new ScanInputError('until', 'until must be later than since');
  const width = COUNT_BUCKETS[parameters.bucket];
  const buckets = Math.ceil(until / width) - Math.floor(since / width);
  if (buckets > MAX_COUNT_BUCKETS) {
    // The bucket is named as the field, and the parameters that set the window in the text: either can be changed.
    const window = [parameters.since === undefined ? 'hours' : 'since', ...(parameters.until === undefined ? [] : ['until'])].join(' and ');
    throw new ScanInputError(
      'bucket',
      `the window set by ${window} spans ${buckets} buckets of ${parameters.bucket}; at most ${MAX_COUNT_BUCKETS}: use a wider bucket or a shorter window`,
    );
  }
  return {
    patternTypes: [...new Set(parameters.pattern_types?.map((name) => name.toLowerCase()))].sort(),
    symbols,
    tiers: TIMEFRAME_TIERS[parameters.timeframe],
    since,
    until,
    bucket: parameters.bucket,
    top: parameters.top,
  };
}

/**
 * GROUPING(direction, symbol, bucket, pattern, tier) of each grouping set: a bit is set for each column the set does
 * not group by (direction 16, symbol 8, bucket 4, pattern 2, tier 1).
 */
export const BY_DIRECTION = 0b01111;
export const BY_SYMBOL = 0b10111;
export const BY_BUCKET = 0b11011;
export const BY_BUCKET_DIRECTION = 0b01011;
export const BY_BUCKET_PATTERN = 0b11001;
export const BY_BUCKET_TIER = 0b11010;

/** One grouped row: the set it belongs to (BY_*), its key columns (null where the set does not group by them), its count and how many groups its set has. */
export interface CountGroupRow {
  grouping: number;
  direction: string | null;
  symbol: string | null;
  bucket: Date | string | null;
  pattern?: string | null;
  tier?: string | null;
  count: number | string;
  groups: number | string;
}

/**
 * Detections (DETECTED events of pattern_events, as pattern_counts_hourly counts them) in the window, grouped by
 * direction, by symbol (the `top` largest), by bucket, and by bucket with direction, pattern and tier, in one
 * statement: the window's rows are read once. The range is on the log's partition key (monthly partitions, or the
 * hypertable's chunks on TimescaleDB), so only the window's partitions or chunks are read; a symbol filter reads
 * the (symbol, detected_at) index. pattern_counts_hourly (the continuous aggregate on TimescaleDB) has pattern and
 * tier but no direction or symbol, and only hours, so these counts cannot come from it.
 */
export function buildCountsSql(query: CountQuery): SqlStatement {
  const values: unknown[] = [];
  const add = parameterAdder(values);
  const conditions = [
    `e.kind = 'DETECTED'`,
    `e.detected_at >= ${add(new Date(query.since).toISOString())}::timestamptz`,
    `e.detected_at < ${add(new Date(query.until).toISOString())}::timestamptz`,
  ];
  if (query.patternTypes.length > 0) conditions.push(`e.pattern = ANY(${add(query.patternTypes)}::text[])`);
  if (query.tiers.length > 0) conditions.push(`e.tier = ANY(${add(query.tiers)}::text[])`);
  if (query.symbols !== undefined) conditions.push(`e.symbol = ANY(${add(query.symbols)}::text[])`);
  const bucket = `date_bin(${add(`${COUNT_BUCKETS[query.bucket] / 1000} seconds`)}::interval, e.detected_at, timestamptz '2000-01-01T00:00:00Z')`;
  const grouping = `GROUPING(e.direction, e.symbol, ${bucket}, e.pattern, e.tier)`;
  const text =
    `SELECT grouping, direction, symbol, bucket, pattern, tier, count, groups FROM (` +
    `SELECT ${grouping} AS grouping, e.direction, e.symbol, ${bucket} AS bucket, e.pattern, e.tier, count(*)::bigint AS count, ` +
    `count(*) OVER (PARTITION BY ${grouping}) AS groups, ` +
    `row_number() OVER (PARTITION BY ${grouping} ORDER BY count(*) DESC, e.symbol) AS rank ` +
    `FROM pattern_events e WHERE ${conditions.join(' AND ')} ` +
    `GROUP BY GROUPING SETS ((e.direction), (e.symbol), (${bucket}), (${bucket}, e.direction), (${bucket}, e.pattern), (${bucket}, e.tier))` +
    `) grouped WHERE grouping <> ${BY_SYMBOL} OR rank <= ${add(query.top)}`;
  return { text, values };
}

/** A key (a tier, pattern, direction or symbol) and how many patterns or detections it has. */
export interface CountRow {
  key: string;
  count: number;
}

export interface PatternCounts {
  total: number;
  by_direction: CountRow[];
  by_symbol: CountRow[];
  /** How many symbols had a detection in the window (by_symbol holds the `top` of them). */
  symbols_total: number;
  buckets: { bucket: string; count: number }[];
  /** Per bucket (time order), the detections of each direction, pattern type or tier in it (by key); absent keys have none. */
  buckets_by_direction: BucketCountRow[];
  buckets_by_pattern: BucketCountRow[];
  buckets_by_tier: BucketCountRow[];
}

/** The detections of one key (a direction, pattern type or tier) in one time bucket. */
export interface BucketCountRow {
  bucket: string;
  key: string;
  count: number;
}

const largestFirst = (a: CountRow, b: CountRow) => b.count - a.count || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0);

/** The grouped rows as counts: directions and symbols largest first (ties by key), buckets in time order (then by key). */
export function countsOf(rows: readonly CountGroupRow[]): PatternCounts {
  const byDirection: CountRow[] = [];
  const bySymbol: CountRow[] = [];
  type Timed = { bucket: string; key: string; count: number; ms: number };
  const buckets: Timed[] = [];
  const split = { direction: [] as Timed[], pattern: [] as Timed[], tier: [] as Timed[] };
  let symbolsTotal = 0;
  const timed = (row: CountGroupRow, key: string | null | undefined): Timed => {
    const at = row.bucket instanceof Date ? row.bucket : new Date(String(row.bucket));
    return { bucket: at.toISOString(), key: String(key ?? ''), count: Number(row.count), ms: at.getTime() };
  };
  for (const row of rows) {
    const count = Number(row.count);
    switch (Number(row.grouping)) {
      case BY_DIRECTION:
        byDirection.push({ key: String(row.direction), count });
        break;
      case BY_SYMBOL:
        bySymbol.push({ key: String(row.symbol), count });
        symbolsTotal = Number(row.groups);
        break;
      case BY_BUCKET:
        buckets.push(timed(row, ''));
        break;
      case BY_BUCKET_DIRECTION:
        split.direction.push(timed(row, row.direction));
        break;
      case BY_BUCKET_PATTERN:
        split.pattern.push(timed(row, row.pattern));
        break;
      case BY_BUCKET_TIER:
        split.tier.push(timed(row, row.tier));
        break;
    }
  }
  const inTimeOrder = (list: Timed[]) =>
    list
      .sort((a, b) => a.ms - b.ms || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
      .map(({ bucket, key, count }) => ({ bucket, key, count }));
  return {
    total: byDirection.reduce((sum, row) => sum + row.count, 0),
    by_direction: byDirection.sort(largestFirst),
    by_symbol: bySymbol.sort(largestFirst),
    symbols_total: symbolsTotal,
    buckets: inTimeOrder(buckets).map(({ bucket, count }) => ({ bucket, count })),
    buckets_by_direction: inTimeOrder(split.direction),
    buckets_by_pattern: inTimeOrder(split.pattern),
    buckets_by_tier: inTimeOrder(split.tier),
  };
}
