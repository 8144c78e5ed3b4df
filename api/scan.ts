import { fromBase64Url, toBase64Url } from '../platform/base64url.js';
import { digest } from '../platform/digest.js';
import type { Tier } from '../platform/records.js';

/**
 * The pattern scan, as pure functions: normalised filters -> SQL (text + values), keyset cursors, and the
 * canonical form that cache keys are built from. No I/O here.
 */

export const SORT_KEYS = ['confidence', 'detected_at', 'symbol', 'rs', 'volume'] as const;
export type SortKey = (typeof SORT_KEYS)[number];
export type SortOrder = 'asc' | 'desc';
export type { Tier };
export type Timeframe = 'all' | 'daily' | 'intraday' | 'combo';
export type PatternStatus = 'active' | 'expired' | 'all';

/** The directions a pattern can have (schemas/pattern-event.avsc), as the patterns table stores them. */
export const PATTERN_DIRECTIONS = ['BULLISH', 'BEARISH', 'NEUTRAL'] as const;
export type PatternDirection = (typeof PATTERN_DIRECTIONS)[number];

export const TIMEFRAME_TIERS: Readonly<Record<Timeframe, readonly Tier[]>> = {
  all: [],
  daily: ['DAILY'],
  intraday: ['INTRADAY'],
  combo: ['COMBO'],
};

/** SQL column of each sort key and the type its cursor value is cast to. Orders match the scan indexes of the patterns table. */
const SORT_COLUMNS: Readonly<Record<SortKey, { column: string; cast: string; nullable: boolean }>> = {
  confidence: { column: 'p.confidence', cast: 'float8', nullable: false },
  detected_at: { column: 'p.detected_at', cast: 'timestamptz', nullable: false },
  symbol: { column: 'p.symbol', cast: 'text', nullable: false },
  rs: { column: 'p.relative_strength', cast: 'float8', nullable: true },
  volume: { column: 'p.volume', cast: 'float8', nullable: false },
};

/**
 * ORDER BY and the keyset predicate "after this cursor". Nullable columns sort NULLS LAST when descending and
 * NULLS FIRST when ascending (one index serves both directions), so the predicate spells out the null cases.
 * Each order matches a partial index of the patterns table (projections' migration), read forwards or backwards.
 */
export function orderAndKeyset(
  sortBy: SortKey,
  sortOrder: SortOrder,
  cursor: ScanCursor | undefined,
  add: (value: unknown) => string,
): { orderBy: string; keyset: string | undefined } {
  const { column, cast, nullable } = SORT_COLUMNS[sortBy];
  const desc = sortOrder === 'desc';
  const direction = desc ? 'DESC' : 'ASC';
  const nulls = nullable ? (desc ? ' NULLS LAST' : ' NULLS FIRST') : '';
  const orderBy = `ORDER BY ${column} ${direction}${nulls}, p.pattern_id ${direction}`;
  if (!cursor) return { orderBy, keyset: undefined };
  const beyond = desc ? '<' : '>';
  if (cursor.value === null) {
    if (!nullable) throw new ScanInputError('cursor', 'cursor is not one this API issued');
    const id = add(cursor.id);
    return {
      orderBy,
      keyset: desc
        ? `(${column} IS NULL AND p.pattern_id < ${id})`
        : `((${column} IS NULL AND p.pattern_id > ${id}) OR ${column} IS NOT NULL)`,
    };
  }
  const value = add(cursor.value);
  const id = add(cursor.id);
  const after = `(${column}, p.pattern_id) ${beyond} (${value}::${cast}, ${id}::text)`;
  return { orderBy, keyset: nullable && desc ? `(${after} OR ${column} IS NULL)` : after };
}

/** Filters of a scan, normalised: lists sorted and de-duplicated, symbols upper-case, absent bounds undefined. */
export interface ScanFilters {
  readonly patternTypes: readonly string[];
  /** undefined: every symbol; otherwise exactly these (already intersected with the universe). */
  readonly symbols: readonly string[] | undefined;
  readonly sectors: readonly string[];
  readonly tiers: readonly Tier[];
  readonly status: PatternStatus;
  readonly confidenceMin: number;
  readonly rsMin: number | undefined;
  /** Upper bounds (inclusive), absent when not asked for (like definitionVersions: other scans' canonical form is unchanged). */
  readonly rsMax?: number | undefined;
  readonly relativeVolumeMax?: number | undefined;
  /** Only patterns of these directions (sorted, unique); undefined or absent: any direction. */
  readonly directions?: readonly PatternDirection[] | undefined;
  /** Only patterns computed by these definition versions (sorted, unique); undefined or absent: any version. */
  readonly definitionVersions?: readonly number[] | undefined;
  readonly relativeVolumeMin: number | undefined;
  readonly rsiMin: number | undefined;
  readonly rsiMax: number | undefined;
  /** Epoch ms, inclusive. */
  readonly since: number | undefined;
  /** Epoch ms, exclusive. */
  readonly until: number | undefined;
}

export interface ScanPage {
  readonly sortBy: SortKey;
  readonly sortOrder: SortOrder;
  readonly perPage: number;
  /** 1-based; ignored when a cursor is given. */
  readonly page: number;
  readonly cursor: ScanCursor | undefined;
}

export interface ScanQuery {
  readonly filters: ScanFilters;
  readonly page: ScanPage;
}

/** Position after the last row of a page: its sort value and pattern id, bound to the query that produced it. */
export interface ScanCursor {
  readonly value: number | string | null;
  readonly id: string;
  /** Hash of filters + sort: a cursor is only valid for the query that issued it. */
  readonly query: string;
}

export class ScanInputError extends Error {
  override name = 'ScanInputError';
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
  }
}

/** Canonical JSON: object keys sorted, undefined dropped; equal queries give equal strings. */
export function canonicalJson(value: unknown): string {
  if (value === undefined) return 'null';
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map((item) => canonicalJson(item)).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, item]) => item !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([key, item]) => `${JSON.stringify(key)}:${canonicalJson(item)}`).join(',')}}`;
}

/** Identity of the rows a cursor walks: the filters and the ordering (not the page size). */
export function queryIdentity(filters: ScanFilters, sortBy: SortKey, sortOrder: SortOrder): string {
  return digest(canonicalJson({ filters, sortBy, sortOrder }));
}

export function encodeCursor(cursor: ScanCursor): string {
  return toBase64Url(JSON.stringify([cursor.value, cursor.id, cursor.query]));
}

export function decodeCursor(text: string): ScanCursor {
  let parsed: unknown;
  try {
    parsed = JSON.parse(fromBase64Url(text));
  } catch {
    throw new ScanInputError('cursor', 'cursor is not one this API issued');
  }
  if (
    !Array.isArray(parsed) ||
    parsed.length !== 3 ||
    !(parsed[0] === null || typeof parsed[0] === 'number' || typeof parsed[0] === 'string') ||
    typeof parsed[1] !== 'string' ||
    typeof parsed[2] !== 'string'
  ) {
    throw new ScanInputError('cursor', 'cursor is not one this API issued');
  }
  return { value: parsed[0] as number | string | null, id: parsed[1], query: parsed[2] };
}

/** Parses "min,max" (either side may be empty) into bounds within [0, 100]. */
export function parseRsiRange(text: string): { min: number | undefined; max: number | undefined } {
  const match = /^\s*(\d+(?:\.\d+)?)?\s*,\s*(\d+(?:\.\d+)?)?\s*$/.exec(text);
  if (!match) throw new ScanInputError('rsi_range', 'rsi_range must be "min,max" with numbers in [0, 100]');
  const min = match[1] === undefined ? undefined : Number(match[1]);
  const max = match[2] === undefined ? undefined : Number(match[2]);
  if ((min !== undefined && min > 100) || (max !== undefined && max > 100))
    throw new ScanInputError('rsi_range', 'rsi_range bounds must be in [0, 100]');
  if (min !== undefined && max !== undefined && min > max) throw new ScanInputError('rsi_range', 'rsi_range min must not exceed max');
  return { min, max };
}

/** The earliest instant a time parameter may name (the Unix epoch) and the latest (the end of year 9999, UTC). */
export const MIN_INSTANT_MS = 0;
export const MAX_INSTANT_MS = Date.UTC(9999, 11, 31, 23, 59, 59, 999);

/** YYYY-MM-DD, optionally THH:MM[:SS[.fraction]], optionally Z or ±HH[:]MM. */
const ISO_INSTANT = /^(\d{4})-(\d{2})-(\d{2})(?:[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(Z|z|[+-]\d{2}:?\d{2})?)?$/;

/**
 * A time parameter as epoch ms, or undefined when it is not one: epoch milliseconds (digits only), or an ISO-8601
 * date or date-time whose every field exists (no 30 February, no hour 24) with an optional offset (UTC without
 * one). Both must fall within [MIN_INSTANT_MS, MAX_INSTANT_MS], which PostgreSQL's timestamptz and Date both hold.
 */
export function instantMs(text: string): number | undefined {
  let ms: number;
  if (/^\d{1,16}$/.test(text)) {
    ms = Number(text);
  } else {
    const match = ISO_INSTANT.exec(text);
    if (!match) return undefined;
    const [year, month, day, hour, minute, second] = match.slice(1, 7).map((part) => (part === undefined ? 0 : Number(part))) as [
      number,
      number,
      number,
      number,
      number,
      number,
    ];
    const daysInMonth = [31, isLeapYear(year) ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1] ?? 0;
    if (day < 1 || day > daysInMonth || hour > 23 || minute > 59 || second > 59) return undefined;
    let offsetMs = 0;
    const offset = match[8];
    if (offset !== undefined && offset.toUpperCase() !== 'Z') {
      const hours = Number(offset.slice(1, 3));
      const minutes = Number(offset.slice(-2));
      if (hours > 23 || minutes > 59) return undefined;
      offsetMs = (offset.startsWith('-') ? -1 : 1) * (hours * 60 + minutes) * 60_000;
    }
    const date = new Date(0);
    // setUTCFullYear, not Date.UTC: Date.UTC reads years 0-99 as 1900-1999.
    date.setUTCFullYear(year, month - 1, day);
    date.setUTCHours(hour, minute, second, match[7] === undefined ? 0 : Math.floor(Number(`0.${match[7]}`) * 1000));
    ms = date.getTime() - offsetMs;
  }
  return ms >= MIN_INSTANT_MS && ms <= MAX_INSTANT_MS ? ms : undefined;
}

const isLeapYear = (year: number) => (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;

/** What a time parameter must be (the message of its 400). */
export const INSTANT_FORMAT =
  'must be an ISO-8601 date or date-time (UTC unless it has an offset) or epoch milliseconds, from 1970 to 9999';

/** Accepts ISO-8601 (UTC unless it has an offset) or epoch milliseconds; see instantMs. */
export function parseInstant(field: string, text: string): number {
  const ms = instantMs(text);
  if (ms === undefined) throw new ScanInputError(field, `${field} ${INSTANT_FORMAT}`);
  return ms;
}

/** Longest pattern id a cursor may carry (the path parameter's bound). */
const MAX_CURSOR_ID_LENGTH = 200;

/**
 * Cursors are not signed: anyone can write one, and the query hash can be recomputed. So every field is checked
 * against the sort it claims to continue before it reaches SQL: a number for a numeric sort, an instant for
 * detected_at, a string for symbol, and a bounded id without NUL.
 */
export function checkCursor(cursor: ScanCursor, sortBy: SortKey): ScanCursor {
  const refuse = () => new ScanInputError('cursor', 'cursor is not one this API issued');
  const { value, id } = cursor;
  if (id.length === 0 || id.length > MAX_CURSOR_ID_LENGTH || id.includes('\u0000')) throw refuse();
  switch (SORT_COLUMNS[sortBy].cast) {
    case 'float8':
      if (!(value === null || (typeof value === 'number' && Number.isFinite(value)))) throw refuse();
      break;
    case 'timestamptz': {
      const ms = typeof value === 'string' ? instantMs(value) : undefined;
      if (ms === undefined) throw refuse();
      // Spelled as the API issues it (UTC), so PostgreSQL does not read an offset-less time in its own zone.
      return { ...cursor, value: new Date(ms).toISOString() };
    }
    default:
      if (typeof value !== 'string' || value.length > MAX_CURSOR_ID_LENGTH || value.includes('\u0000')) throw refuse();
  }
  return cursor;
}

/** Symbols to scan: the given list, the universe's, both intersected, or undefined for all. */
export function scopeSymbols(symbols: readonly string[] | undefined, universeSymbols: readonly string[] | undefined): string[] | undefined {
  const normalise = (list: readonly string[]) =>
    [...new Set(list.map((symbol) => symbol.trim().toUpperCase()).filter((symbol) => symbol.length > 0))].sort();
  if (symbols === undefined && universeSymbols === undefined) return undefined;
  if (symbols === undefined) return normalise(universeSymbols!);
  if (universeSymbols === undefined) return normalise(symbols);
  const inUniverse = new Set(normalise(universeSymbols));
  return normalise(symbols).filter((symbol) => inUniverse.has(symbol));
}

/** Appends a query parameter to `values` and returns its placeholder (`$1`, `$2`, …). */
export function parameterAdder(values: unknown[]): (value: unknown) => string {
  return (value) => {
    values.push(value);
    return `$${values.length}`;
  };
}

export interface SqlStatement {
  readonly text: string;
  readonly values: unknown[];
}

export const SCAN_COLUMNS = [
  'p.pattern_id',
  'p.pattern',
  'p.definition_version',
  'p.tier',
  'p.direction',
  'p.symbol',
  'p.detected_at',
  'p.expires_at',
  'p.status',
  'p.confidence',
  'p.base_confidence',
  'p.fundamental_adjustment',
  'p.fundamental_reasons',
  'p.price',
  'p.change',
  'p.change_pct',
  'p.volume',
  'p.relative_strength',
  'p.relative_volume',
  'p.rsi',
  'p.levels',
].join(', ');

function whereClause(filters: ScanFilters, values: unknown[]): string {
  const add = parameterAdder(values);
  const conditions: string[] = [];
  // A literal (from a closed enum) so the planner can match the partial scan indexes.
  if (filters.status !== 'all') conditions.push(`p.status = '${filters.status === 'active' ? 'active' : 'expired'}'`);
  if (filters.confidenceMin > 0) conditions.push(`p.confidence >= ${add(filters.confidenceMin)}`);
  // One tier or pattern is compared with `=` rather than `= ANY`: only an equality lets the planner read an index
  // on (pattern or tier, confidence, id) in the page's order (ANY, even of one value, is not an ordering prefix).
  if (filters.tiers.length === 1) conditions.push(`p.tier = ${add(filters.tiers[0])}::text`);
  else if (filters.tiers.length > 0) conditions.push(`p.tier = ANY(${add(filters.tiers)}::text[])`);
  if (filters.patternTypes.length === 1) conditions.push(`p.pattern = ${add(filters.patternTypes[0])}::text`);
  else if (filters.patternTypes.length > 0) conditions.push(`p.pattern = ANY(${add(filters.patternTypes)}::text[])`);
  if (filters.symbols !== undefined) conditions.push(`p.symbol = ANY(${add(filters.symbols)}::text[])`);
  if (filters.sectors.length > 0) {
    conditions.push(`p.symbol IN (SELECT s.ticker FROM symbols s WHERE lower(s.sector) = ANY(${add(filters.sectors)}::text[]))`);
  }
  if (filters.definitionVersions !== undefined) conditions.push(`p.definition_version = ANY(${add(filters.definitionVersions)}::int[])`);
  // No scan index holds the direction: it filters the rows the other conditions find (the page's rows are few).
  if (filters.directions !== undefined) conditions.push(`p.direction = ANY(${add(filters.directions)}::text[])`);
  if (filters.rsMin !== undefined) conditions.push(`p.relative_strength >= ${add(filters.rsMin)}`);
  if (filters.rsMax !== undefined) conditions.push(`p.relative_strength <= ${add(filters.rsMax)}`);
  if (filters.relativeVolumeMin !== undefined) conditions.push(`p.relative_volume >= ${add(filters.relativeVolumeMin)}`);
  if (filters.relativeVolumeMax !== undefined) conditions.push(`p.relative_volume <= ${add(filters.relativeVolumeMax)}`);
  if (filters.rsiMin !== undefined) conditions.push(`p.rsi >= ${add(filters.rsiMin)}`);
  if (filters.rsiMax !== undefined) conditions.push(`p.rsi <= ${add(filters.rsiMax)}`);
  if (filters.since !== undefined) conditions.push(`p.detected_at >= ${add(new Date(filters.since).toISOString())}::timestamptz`);
  if (filters.until !== undefined) conditions.push(`p.detected_at < ${add(new Date(filters.until).toISOString())}::timestamptz`);
  return conditions.join(' AND ');
}

/**
 * The page query: one extra row is fetched to know whether another page follows.
 * `lateLookup` (what the API uses): the ids of the page are found first, from the covering scan indexes alone
 * (migration 1796000000000: they include every filtered column, so this is an index-only scan), and only those
 * rows are then read from the table; walking an ordering index past non-matching rows otherwise reads one heap
 * page per row examined.
 * `filterFirst` (chosen when the capped count shows few matches) reads the matching ids and sort values through
 * the filter indexes before sorting them. Otherwise PostgreSQL may walk an ordering index past every
 * active row looking for rare matches (a LIMIT + ORDER BY plan whose estimate of the matches was wrong).
 */
export function buildScanSql(
  query: ScanQuery,
  options: { filterFirst?: boolean; lateLookup?: boolean; onlyIf?: string } = {},
): SqlStatement {
  const values: unknown[] = [];
  const add = parameterAdder(values);
  const where = whereClause(query.filters, values);
  const cursor = query.page.cursor;
  const { orderBy, keyset } = orderAndKeyset(query.page.sortBy, query.page.sortOrder, cursor, add);
  const whereText = (parts: (string | undefined)[]) => {
    const present = parts.filter((part): part is string => part !== undefined && part !== '');
    return present.length > 0 ? ` WHERE ${present.join(' AND ')}` : '';
  };
  // Without late lookup every column is carried through the scan; with it, only the id and the sort value.
  const carried = options.lateLookup ? `p.pattern_id, ${SORT_COLUMNS[query.page.sortBy].column}` : SCAN_COLUMNS;
  const selected = options.lateLookup ? 'p.pattern_id' : options.filterFirst ? 'p.*' : SCAN_COLUMNS;
  // OFFSET 0 keeps the matching subquery from being flattened into the ordered outer query, so it is planned for
  // all its rows (the filter indexes) and the outer query top-N sorts them as they stream; unlike a MATERIALIZED
  // CTE no row is copied into a tuplestore first (measured on 10M rows, 20,000 matches: 7.9 -> 5.6 ms).
  let text = options.filterFirst
    ? `SELECT ${selected} FROM (SELECT ${carried} FROM patterns p${whereText([where, keyset, options.onlyIf])} OFFSET 0) p ${orderBy} LIMIT ${add(query.page.perPage + 1)}`
    : `SELECT ${selected} FROM patterns p${whereText([where, keyset, options.onlyIf])} ${orderBy} LIMIT ${add(query.page.perPage + 1)}`;
  if (!cursor && query.page.page > 1) text += ` OFFSET ${add((query.page.page - 1) * query.page.perPage)}`;
  // The rows are read in the same statement (one snapshot), so they sort as their ids did.
  if (options.lateLookup) text = `SELECT ${SCAN_COLUMNS} FROM (${text}) page JOIN patterns p ON p.pattern_id = page.pattern_id ${orderBy}`;
  return { text, values };
}

/**
 * Counting every match of a broad filter over millions of rows costs as much as the scan itself; the count
 * stops at `cap` (the response then says `total_capped`).
 */
export function buildCountSql(filters: ScanFilters, cap: number): SqlStatement {
  const values: unknown[] = [];
  const add = parameterAdder(values);
  const where = whereClause(filters, values);
  if (!countableFromBuckets(filters)) {
    return {
      text: `SELECT count(*)::int AS total FROM (SELECT 1 FROM patterns p ${where ? `WHERE ${where}` : ''} LIMIT ${add(cap + 1)}) matched`,
      values,
    };
  }
  // The buckets above the confidence bound hold only matches; if they already hold more than `cap` the count is
  // capped, otherwise the bound's own bucket is counted from the index (at most about 1% of active patterns).
  // The range's upper bound has a little slack for float rounding at the bucket's edge (0.29 * 100 is 28.99…):
  // the bucket function decides, as it does in the triggers.
  const bucket = `tf_pattern_count_bucket(${add(filters.confidenceMin)}::float8)`;
  const scope = [`c.bucket > ${bucket}`];
  if (filters.tiers.length > 0) scope.push(`c.tier = ANY(${add(filters.tiers)}::text[])`);
  if (filters.patternTypes.length > 0) scope.push(`c.pattern = ANY(${add(filters.patternTypes)}::text[])`);
  const capValue = add(cap);
  const own = `SELECT count(*) FROM (SELECT 1 FROM patterns p WHERE ${where} AND p.confidence <= (${bucket} + 1) / 100.0 + 1e-9 AND tf_pattern_count_bucket(p.confidence) = ${bucket} LIMIT ${add(cap + 1)}) own`;
  return {
    text: `SELECT (CASE WHEN above.n > ${capValue} THEN above.n ELSE above.n + (${own}) END)::int AS total FROM (SELECT coalesce(sum(c.n), 0) AS n FROM pattern_active_counts c WHERE ${scope.join(' AND ')}) above`,
    values,
  };
}

/**
 * Whether a scan's count can come from `pattern_active_counts` (kept by triggers on `patterns`, migration
 * 1796700000000): active patterns filtered by tier, pattern type and confidence, and nothing else.
 */
export function countableFromBuckets(filters: ScanFilters): boolean {
  return (
    filters.status === 'active' &&
    filters.symbols === undefined &&
    filters.sectors.length === 0 &&
    filters.definitionVersions === undefined &&
    filters.directions === undefined &&
    filters.rsMin === undefined &&
    filters.rsMax === undefined &&
    filters.relativeVolumeMin === undefined &&
    filters.relativeVolumeMax === undefined &&
    filters.rsiMin === undefined &&
    filters.rsiMax === undefined &&
    filters.since === undefined &&
    filters.until === undefined
  );
}

/**
 * The capped count and the page in one statement: one round trip instead of two, for a page whose plan does not
 * depend on the count (api/patterns-store.ts). Every row carries `matched_total`; with no match the one row has
 * a null `pattern_id`.
 */
export function buildCountedScanSql(
  query: ScanQuery,
  cap: number,
  options: { filterFirst?: boolean; lateLookup?: boolean; onlyIf?: string } = {},
): SqlStatement {
  // `counted.total > 0` (or the caller's condition on the count) in the matching query is a one-time filter there:
  // when it fails the page query reads no index at all (an in-order walk would otherwise read its whole index
  // range looking for a match).
  const page = buildScanSql(query, { ...options, onlyIf: options.onlyIf ?? 'counted.total > 0' });
  const count = buildCountSql(query.filters, cap);
  const shift = page.values.length;
  const countText = count.text.replace(/\$(\d+)/g, (_, n: string) => `$${Number(n) + shift}`);
  const { orderBy } = orderAndKeyset(query.page.sortBy, query.page.sortOrder, undefined, () => '');
  return {
    text: `SELECT counted.total AS matched_total, p.* FROM (${countText}) counted LEFT JOIN LATERAL (${page.text}) p ON true ${orderBy}`,
    values: [...page.values, ...count.values],
  };
}

/** A row of the patterns table as pg returns it (numeric columns may arrive as strings). */
export interface PatternRow {
  pattern_id: string;
  pattern: string;
  definition_version: number;
  tier: Tier;
  direction: string;
  symbol: string;
  detected_at: Date | string;
  expires_at: Date | string;
  status: string;
  confidence: number | string;
  base_confidence: number | string | null;
  fundamental_adjustment: number | string | null;
  fundamental_reasons: string[] | null;
  price: number | string | null;
  change: number | string | null;
  change_pct: number | string | null;
  volume: number | string | null;
  relative_strength: number | string | null;
  relative_volume: number | string | null;
  rsi: number | string | null;
  levels: Record<string, number> | null;
}

/** A pattern as the API returns it (before the per-request age fields are added). */
export interface PatternView {
  id: string;
  symbol: string;
  pattern: string;
  definition_version: number;
  tier: Tier;
  direction: string;
  status: string;
  confidence: number;
  base_confidence: number | null;
  fundamental_adjustment: number | null;
  fundamental_reasons: string[];
  price: number | null;
  change: number | null;
  change_pct: number | null;
  volume: number | null;
  relative_strength: number | null;
  relative_volume: number | null;
  rsi: number | null;
  levels: Record<string, number>;
  detected_at: string;
  expires_at: string;
}

const toNumber = (value: number | string | null): number | null => (value === null ? null : Number(value));
const toIso = (value: Date | string): string => (value instanceof Date ? value : new Date(value)).toISOString();

export function patternView(row: PatternRow): PatternView {
  return {
    id: row.pattern_id,
    symbol: row.symbol,
    pattern: row.pattern,
    definition_version: Number(row.definition_version),
    tier: row.tier,
    direction: row.direction,
    status: row.status,
    confidence: Number(row.confidence),
    base_confidence: toNumber(row.base_confidence),
    fundamental_adjustment: toNumber(row.fundamental_adjustment),
    fundamental_reasons: row.fundamental_reasons ?? [],
    price: toNumber(row.price),
    change: toNumber(row.change),
    change_pct: toNumber(row.change_pct),
    volume: toNumber(row.volume),
    relative_strength: toNumber(row.relative_strength),
    relative_volume: toNumber(row.relative_volume),
    rsi: toNumber(row.rsi),
    levels: row.levels ?? {},
    detected_at: toIso(row.detected_at),
    expires_at: toIso(row.expires_at),
  };
}

/** The cursor value of a row for a sort key (what the keyset comparison in SQL compares against). */
export function sortValueOf(view: PatternView, sortBy: SortKey): number | string | null {
  switch (sortBy) {
    case 'confidence':
      return view.confidence;
    case 'detected_at':
      return view.detected_at;
    case 'symbol':
      return view.symbol;
    case 'rs':
      return view.relative_strength;
    case 'volume':
      return view.volume;
  }
}

/** Splits the LIMIT n+1 result into the page and the cursor of the next page. */
export function pageOf(rows: readonly PatternView[], query: ScanQuery): { items: PatternView[]; nextCursor: string | undefined } {
  const items = rows.slice(0, query.page.perPage);
  if (rows.length <= query.page.perPage || items.length === 0) return { items, nextCursor: undefined };
  const last = items[items.length - 1]!;
  const identity = queryIdentity(query.filters, query.page.sortBy, query.page.sortOrder);
  return { items, nextCursor: encodeCursor({ value: sortValueOf(last, query.page.sortBy), id: last.id, query: identity }) };
}

/** Detection and expiry as epoch ms, kept beside cached rows so that serving a hit parses no dates. */
export type PatternTimes = readonly [detectedMs: number, expiresMs: number];

export function timesOf(view: PatternView): PatternTimes {
  return [Date.parse(view.detected_at), Date.parse(view.expires_at)];
}

/**
 * Seconds since detection and until expiry, relative to `now`: the market clock (market-clock.ts), the event
 * time that also decides `status`. An active pattern is never shown as expired: its expiry may be due by this
 * clock while the partition that will expire it is behind, and then it expires in 0 s.
 */
export function agesOf(times: PatternTimes, now: number, active = false): { age_seconds: number; expires_in_seconds: number } {
  const expiresIn = Math.round((times[1] - now) / 1000);
  return { age_seconds: Math.max(0, Math.round((now - times[0]) / 1000)), expires_in_seconds: active ? Math.max(0, expiresIn) : expiresIn };
}

/** The view with its ages (added per response, so cached rows stay valid); `now` is the market clock. */
export function withAge(
  view: PatternView,
  now: number,
  times: PatternTimes = timesOf(view),
): PatternView & { age_seconds: number; expires_in_seconds: number } {
  return { ...view, ...agesOf(times, now, view.status === 'active') };
}

/** The validated query parameters of /api/patterns/scan (see schemas.ts). */
export interface ScanParameters {
  readonly pattern_types?: readonly string[] | undefined;
  readonly symbols?: readonly string[] | undefined;
  readonly sectors?: readonly string[] | undefined;
  readonly timeframe: Timeframe;
  readonly status: PatternStatus;
  readonly confidence_min: number;
  readonly rs_min?: number | undefined;
  readonly rs_max?: number | undefined;
  readonly direction?: readonly string[] | undefined;
  readonly definition_version?: readonly number[] | undefined;
  readonly vol_min?: number | undefined;
  readonly vol_max?: number | undefined;
  readonly rsi_range?: string | undefined;
  readonly since?: string | undefined;
  readonly until?: string | undefined;
  readonly sort_by: SortKey;
  readonly sort_order: SortOrder;
  readonly page: number;
  readonly per_page: number;
  readonly cursor?: string | undefined;
}

/** A lower and an upper bound of one value: the upper one (named `field`) must not be below the lower one. */
function checkBounds(field: string, lowerField: string, lower: number | undefined, upper: number | undefined): void {
  if (lower !== undefined && upper !== undefined && lower > upper)
    throw new ScanInputError(field, `${field} must not be below ${lowerField}`);
}

/**
 * Directions as given (any case; validated against PATTERN_DIRECTIONS by the schema) -> the stored spelling, each once
 * in PATTERN_DIRECTIONS order; every direction named is no filter at all, so it normalises to undefined (the
 * unfiltered scan's key).
 */
export function normaliseDirections(directions: readonly string[]): PatternDirection[] | undefined {
  const wanted = new Set(directions.map((direction) => direction.toUpperCase()));
  const known = PATTERN_DIRECTIONS.filter((direction) => wanted.has(direction));
  if (known.length < wanted.size) throw new ScanInputError('direction', `direction must be one of ${PATTERN_DIRECTIONS.join(', ')}`);
  return known.length === PATTERN_DIRECTIONS.length ? undefined : known;
}

const sortedUnique = (items: readonly string[] | undefined): string[] => [...new Set(items ?? [])].sort();

/**
 * Validated parameters (+ the universe's symbols, if one was named) -> the normalised query. Equal scans
 * written differently (order of list items, case, defaults spelled out) normalise to the same value.
 */
export function normaliseScanQuery(parameters: ScanParameters, universeSymbols: readonly string[] | undefined): ScanQuery {
  const rsi = parameters.rsi_range === undefined ? { min: undefined, max: undefined } : parseRsiRange(parameters.rsi_range);
  const since = parameters.since === undefined ? undefined : parseInstant('since', parameters.since);
  const until = parameters.until === undefined ? undefined : parseInstant('until', parameters.until);
  if (since !== undefined && until !== undefined && since >= until) throw new ScanInputError('until', 'until must be later than since');
  checkBounds('rs_max', 'rs_min', parameters.rs_min, parameters.rs_max);
  checkBounds('vol_max', 'vol_min', parameters.vol_min, parameters.vol_max);
  const filters: ScanFilters = {
    patternTypes: sortedUnique(parameters.pattern_types?.map((name) => name.toLowerCase())),
    symbols: scopeSymbols(parameters.symbols, universeSymbols),
    sectors: sortedUnique(parameters.sectors?.map((sector) => sector.toLowerCase())),
    tiers: TIMEFRAME_TIERS[parameters.timeframe],
    status: parameters.status,
    confidenceMin: parameters.confidence_min,
    rsMin: parameters.rs_min,
    ...(parameters.rs_max === undefined ? {} : { rsMax: parameters.rs_max }),
    ...(parameters.direction === undefined ? {} : { directions: normaliseDirections(parameters.direction) }),
    // Absent rather than empty when not asked for, so the canonical form (cache keys, cursors) of other scans is unchanged.
    definitionVersions:
      parameters.definition_version === undefined || parameters.definition_version.length === 0
        ? undefined
        : [...new Set(parameters.definition_version)].sort((a, b) => a - b),
    relativeVolumeMin: parameters.vol_min,
    ...(parameters.vol_max === undefined ? {} : { relativeVolumeMax: parameters.vol_max }),
    rsiMin: rsi.min,
    rsiMax: rsi.max,
    since,
    until,
  };
  let cursor: ScanCursor | undefined;
  if (parameters.cursor !== undefined) {
    cursor = checkCursor(decodeCursor(parameters.cursor), parameters.sort_by);
    if (cursor.query !== queryIdentity(filters, parameters.sort_by, parameters.sort_order)) {
      throw new ScanInputError('cursor', 'cursor belongs to a different query (filters or sort changed)');
    }
  }
  return {
    filters,
    page: {
      sortBy: parameters.sort_by,
      sortOrder: parameters.sort_order,
      perPage: parameters.per_page,
      page: cursor ? 1 : parameters.page,
      cursor,
    },
  };
}
