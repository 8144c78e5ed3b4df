import { createHash } from 'node:crypto';

/**
 * The pattern scan, as pure functions: normalised filters -> SQL (text + values), keyset cursors, and the
 * canonical form that cache keys are built from. No I/O here.
 */

export const SORT_KEYS = ['confidence', 'detected_at', 'symbol', 'rs', 'volume'] as const;
export type SortKey = (typeof SORT_KEYS)[number];
export type SortOrder = 'asc' | 'desc';
export type Tier = 'INTRADAY' | 'DAILY' | 'COMBO';
export type Timeframe = 'all' | 'daily' | 'intraday' | 'combo';
export type PatternStatus = 'active' | 'expired' | 'all';

export const TIMEFRAME_TIERS: Readonly<Record<Timeframe, readonly Tier[]>> = {
  all: [],
  daily: ['DAILY'],
  intraday: ['INTRADAY'],
  combo: ['COMBO'],
};

/** SQL expression of each sort key; nullable columns sort as -Infinity so that keyset comparisons stay total. */
const SORT_EXPRESSIONS: Readonly<Record<SortKey, { expr: string; cast: string }>> = {
  confidence: { expr: 'p.confidence', cast: 'float8' },
  detected_at: { expr: 'p.detected_at', cast: 'timestamptz' },
  symbol: { expr: 'p.symbol', cast: 'text' },
  rs: { expr: "COALESCE(p.relative_strength, '-Infinity'::float8)", cast: 'float8' },
  volume: { expr: "COALESCE(p.volume::float8, '-Infinity'::float8)", cast: 'float8' },
};

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

export function shortHash(text: string): string {
  return createHash('sha256').update(text).digest('base64url').slice(0, 22);
}

/** Identity of the rows a cursor walks: the filters and the ordering (not the page size). */
export function queryIdentity(filters: ScanFilters, sortBy: SortKey, sortOrder: SortOrder): string {
  return shortHash(canonicalJson({ filters, sortBy, sortOrder }));
}

export function encodeCursor(cursor: ScanCursor): string {
  return Buffer.from(JSON.stringify([cursor.value, cursor.id, cursor.query]), 'utf8').toString('base64url');
}

export function decodeCursor(text: string): ScanCursor {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
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
  if ((min !== undefined && min > 100) || (max !== undefined && max > 100)) throw new ScanInputError('rsi_range', 'rsi_range bounds must be in [0, 100]');
  if (min !== undefined && max !== undefined && min > max) throw new ScanInputError('rsi_range', 'rsi_range min must not exceed max');
  return { min, max };
}

/** Accepts ISO-8601 with an offset, or epoch milliseconds. */
export function parseInstant(field: string, text: string): number {
  if (/^\d{1,15}$/.test(text)) return Number(text);
  const ms = Date.parse(text);
  if (!/^\d{4}-\d{2}-\d{2}/.test(text) || Number.isNaN(ms)) throw new ScanInputError(field, `${field} must be an ISO-8601 time or epoch milliseconds`);
  return ms;
}

/** Symbols to scan: the given list, the universe's, both intersected, or undefined for all. */
export function scopeSymbols(symbols: readonly string[] | undefined, universeSymbols: readonly string[] | undefined): string[] | undefined {
  const normalise = (list: readonly string[]) => [...new Set(list.map((symbol) => symbol.trim().toUpperCase()).filter((symbol) => symbol.length > 0))].sort();
  if (symbols === undefined && universeSymbols === undefined) return undefined;
  if (symbols === undefined) return normalise(universeSymbols!);
  if (universeSymbols === undefined) return normalise(symbols);
  const inUniverse = new Set(normalise(universeSymbols));
  return normalise(symbols).filter((symbol) => inUniverse.has(symbol));
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
  const add = (value: unknown) => {
    values.push(value);
    return `$${values.length}`;
  };
  const conditions: string[] = [];
  if (filters.status !== 'all') conditions.push(`p.status = ${add(filters.status)}`);
  if (filters.confidenceMin > 0) conditions.push(`p.confidence >= ${add(filters.confidenceMin)}`);
  if (filters.tiers.length > 0) conditions.push(`p.tier = ANY(${add(filters.tiers)}::text[])`);
  if (filters.patternTypes.length > 0) conditions.push(`p.pattern = ANY(${add(filters.patternTypes)}::text[])`);
  if (filters.symbols !== undefined) conditions.push(`p.symbol = ANY(${add(filters.symbols)}::text[])`);
  if (filters.sectors.length > 0) {
    conditions.push(`p.symbol IN (SELECT s.ticker FROM symbols s WHERE lower(s.sector) = ANY(${add(filters.sectors)}::text[]))`);
  }
  if (filters.rsMin !== undefined) conditions.push(`p.relative_strength >= ${add(filters.rsMin)}`);
  if (filters.relativeVolumeMin !== undefined) conditions.push(`p.relative_volume >= ${add(filters.relativeVolumeMin)}`);
  if (filters.rsiMin !== undefined) conditions.push(`p.rsi >= ${add(filters.rsiMin)}`);
  if (filters.rsiMax !== undefined) conditions.push(`p.rsi <= ${add(filters.rsiMax)}`);
  if (filters.since !== undefined) conditions.push(`p.detected_at >= ${add(new Date(filters.since).toISOString())}::timestamptz`);
  if (filters.until !== undefined) conditions.push(`p.detected_at < ${add(new Date(filters.until).toISOString())}::timestamptz`);
  return conditions.length > 0 ? `WHERE ${conditions.join(' AND ')}` : '';
}

/** The page query: one extra row is fetched to know whether another page follows. */
export function buildScanSql(query: ScanQuery): SqlStatement {
  const values: unknown[] = [];
  let where = whereClause(query.filters, values);
  const { expr, cast } = SORT_EXPRESSIONS[query.page.sortBy];
  const direction = query.page.sortOrder === 'asc' ? 'ASC' : 'DESC';
  const cursor = query.page.cursor;
  if (cursor) {
    values.push(cursor.value === null ? '-Infinity' : cursor.value, cursor.id);
    const keyset = `(${expr}, p.pattern_id) ${query.page.sortOrder === 'asc' ? '>' : '<'} ($${values.length - 1}::${cast}, $${values.length}::text)`;
    where = where ? `${where} AND ${keyset}` : `WHERE ${keyset}`;
  }
  values.push(query.page.perPage + 1);
  let text = `SELECT ${SCAN_COLUMNS} FROM patterns p ${where} ORDER BY ${expr} ${direction}, p.pattern_id ${direction} LIMIT $${values.length}`;
  if (!cursor && query.page.page > 1) {
    values.push((query.page.page - 1) * query.page.perPage);
    text += ` OFFSET $${values.length}`;
  }
  return { text, values };
}

export function buildCountSql(filters: ScanFilters): SqlStatement {
  const values: unknown[] = [];
  const where = whereClause(filters, values);
  return { text: `SELECT count(*)::bigint AS total FROM patterns p ${where}`, values };
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

/** Seconds since detection and until expiry, relative to `now` (added per response, so cached rows stay valid). */
export function withAge(view: PatternView, now: number): PatternView & { age_seconds: number; expires_in_seconds: number } {
  return {
    ...view,
    age_seconds: Math.max(0, Math.round((now - Date.parse(view.detected_at)) / 1000)),
    expires_in_seconds: Math.round((Date.parse(view.expires_at) - now) / 1000),
  };
}
