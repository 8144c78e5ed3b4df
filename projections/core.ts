/**
 * The pure core of the PostgreSQL projector: which topics feed which tables, how a decoded value becomes a row,
 * the COPY text encoding of rows, the SQL that folds a staged batch into the tables, and the offset plan of a
 * batch. No I/O here.
 */
import type { AggregateValue, FundamentalsValue, PatternEventValue, SymbolValue } from '../contracts/values.js';
import { eventTimeProblem } from '../platform/event-time.js';
import { topicName, type TopicKey } from '../platform/topics.js';
import type { PatternChange } from '../contracts/pattern-scopes.js';

export type CopyValue = string | number | boolean | null | readonly string[] | { readonly [key: string]: number };
export type Row = readonly CopyValue[];

/** Where a message sits in Kafka. */
export interface Position {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
}

/** A value that cannot become a row: the message is kept in projection_rejects with this reason. */
export class RejectedValueError extends Error {
  override name = 'RejectedValueError';
}

// ---------------------------------------------------------------------------------------------------------------
// COPY text format

const NEEDS_ESCAPE = /[\\\n\r\t]/;
const ESCAPES: Readonly<Record<string, string>> = { '\\': '\\\\', '\n': '\\n', '\r': '\\r', '\t': '\\t' };

function escapeCopyText(text: string): string {
  // Most fields need no escaping: test once, replace in one pass only when needed.
  return NEEDS_ESCAPE.test(text) ? text.replace(/[\\\n\r\t]/g, (character) => ESCAPES[character]!) : text;
}

function arrayLiteral(items: readonly string[]): string {
  return `{${items.map((item) => `"${item.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`).join(',')}}`;
}

/** One field of a COPY ... FROM STDIN (text format) line. */
export function copyField(value: CopyValue): string {
  if (value === null) return '\\N';
  if (typeof value === 'number')
    return Number.isNaN(value) ? 'NaN' : value === Infinity ? 'Infinity' : value === -Infinity ? '-Infinity' : String(value);
  if (typeof value === 'boolean') return value ? 't' : 'f';
  if (typeof value === 'string') return escapeCopyText(value);
  if (Array.isArray(value)) return escapeCopyText(arrayLiteral(value as readonly string[]));
  return escapeCopyText(JSON.stringify(value));
}

/** One line (with its newline) of COPY text format. */
export function copyLine(row: Row): string {
  return `${row.map(copyField).join('\t')}\n`;
}

// ---------------------------------------------------------------------------------------------------------------
// Tables

export interface TableSpec {
  /** Base table name (a rebuild appends a suffix). */
  readonly table: string;
  /** Columns with their SQL types, in row order. */
  readonly columns: readonly (readonly [name: string, type: string])[];
  /** Conflict key of the upsert. */
  readonly key: readonly string[];
  /** The time column of a time-series table (its hypertable's dimension, its continuous aggregates' buckets). */
  readonly time?: string;
}

const BAR_COLUMNS = [
  ['symbol', 'text'],
  ['bucket', 'timestamptz'],
  ['open', 'float8'],
  ['high', 'float8'],
  ['low', 'float8'],
  ['close', 'float8'],
  ['volume', 'float8'],
  ['vwap', 'float8'],
  ['transactions', 'int8'],
] as const;

export const TABLES = {
  symbols: {
    table: 'symbols',
    columns: [
      ['ticker', 'text'],
      ['name', 'text'],
      ['market', 'text'],
      ['locale', 'text'],
      ['type', 'text'],
      ['active', 'bool'],
      ['primary_exchange', 'text'],
      ['currency_name', 'text'],
      ['cik', 'text'],
      ['composite_figi', 'text'],
      ['share_class_figi', 'text'],
      ['market_cap', 'float8'],
      ['shares_outstanding', 'float8'],
      ['sic_code', 'text'],
      ['sic_description', 'text'],
      ['sector', 'text'],
      ['list_date', 'date'],
      ['updated_at', 'timestamptz'],
    ],
    key: ['ticker'],
  },
  fundamentals: {
    table: 'fundamentals',
    columns: [
      ['symbol', 'text'],
      ['as_of_date', 'date'],
      ['fiscal_period', 'text'],
      ['fiscal_year', 'int4'],
      ['eps', 'float8'],
      ['eps_estimate', 'float8'],
      ['eps_surprise_pct', 'float8'],
      ['revenue', 'float8'],
      ['revenue_yoy_growth_pct', 'float8'],
      ['market_cap', 'float8'],
      ['price_to_earnings', 'float8'],
      ['price_to_book', 'float8'],
      ['ev_to_ebitda', 'float8'],
      ['dividend_yield', 'float8'],
      ['debt_to_equity', 'float8'],
      ['source', 'text'],
      ['updated_at', 'timestamptz'],
    ],
    key: ['symbol'],
  },
  bars_1m: { table: 'bars_1m', columns: BAR_COLUMNS, key: ['symbol', 'bucket'], time: 'bucket' },
  bars_1d: { table: 'bars_1d', columns: BAR_COLUMNS, key: ['symbol', 'bucket'], time: 'bucket' },
  pattern_events: {
    table: 'pattern_events',
    columns: [
      ['event_id', 'text'],
      ['kind', 'text'],
      ['pattern_id', 'text'],
      ['pattern', 'text'],
      ['definition_version', 'int4'],
      ['tier', 'text'],
      ['direction', 'text'],
      ['symbol', 'text'],
      ['detected_at', 'timestamptz'],
      ['expires_at', 'timestamptz'],
      ['confidence', 'float8'],
      ['base_confidence', 'float8'],
      ['fundamental_adjustment', 'float8'],
      ['fundamental_reasons', 'text[]'],
      ['price', 'float8'],
      ['change', 'float8'],
      ['change_pct', 'float8'],
      ['volume', 'float8'],
      ['relative_strength', 'float8'],
      ['relative_volume', 'float8'],
      ['rsi', 'float8'],
      ['levels', 'jsonb'],
      ['kafka_topic', 'text'],
      ['kafka_partition', 'int4'],
      ['kafka_offset', 'int8'],
    ],
    key: ['event_id', 'detected_at'],
    time: 'detected_at',
  },
} as const satisfies Record<string, TableSpec>;

export type TableName = keyof typeof TABLES;

/** The projections of the database: each has its own consumer group, offsets and rebuild. */
export const DB_PROJECTIONS = {
  patterns: { topics: ['patterns'], tables: ['pattern_events', 'patterns'], views: ['pattern_counts_hourly'] },
  bars: { topics: ['minuteAggregates', 'dailyAggregates'], tables: ['bars_1m', 'bars_1d'], views: ['bars_5m', 'bars_15m', 'bars_1h'] },
  reference: { topics: ['symbols', 'fundamentals'], tables: ['symbols', 'fundamentals'], views: [] },
} as const satisfies Record<string, { topics: readonly TopicKey[]; tables: readonly string[]; views: readonly string[] }>;

export type DbProjectionName = keyof typeof DB_PROJECTIONS;
export const DB_PROJECTION_NAMES = Object.keys(DB_PROJECTIONS) as DbProjectionName[];

export function isDbProjectionName(name: string): name is DbProjectionName {
  return Object.hasOwn(DB_PROJECTIONS, name);
}

/** PostgreSQL NOTIFY channel on which a rebuild's swap announces that a projection's stored offsets moved. */
export const OFFSETS_CHANNEL = 'tickflow_projection_offsets';

/** Deployed topic name -> catalog key, for the topics of a projection. */
export function topicMap(keys: readonly TopicKey[], prefix: string): Map<string, TopicKey> {
  return new Map(keys.map((key) => [topicName(key, prefix), key]));
}

/** Which staging table a topic's messages go to. */
export function tableForTopic(topic: TopicKey): TableName {
  switch (topic) {
    case 'patterns':
      return 'pattern_events';
    case 'minuteAggregates':
      return 'bars_1m';
    case 'dailyAggregates':
      return 'bars_1d';
    case 'symbols':
      return 'symbols';
    case 'fundamentals':
      return 'fundamentals';
    default:
      throw new RangeError(`no table is projected from topic ${topic}`);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Values -> rows

function iso(ms: number, field: string): string {
  // Outside 1970..2200 is a unit mistake; past year 9999 PostgreSQL would also refuse the ISO text and stop the COPY.
  const problem = eventTimeProblem(ms);
  if (problem !== undefined) throw new RejectedValueError(`${field} is not a valid time: ${problem}`);
  return new Date(ms).toISOString();
}

function isoDate(text: string | null, field: string): string | null {
  if (text === null) return null;
  // Round-trips, so 2026-02-30 (which Date.parse reads as 2 March, and PostgreSQL refuses) and year 0000 are refused.
  const parsed = /^\d{4}-\d{2}-\d{2}$/.test(text) ? new Date(`${text}T00:00:00Z`) : undefined;
  if (parsed === undefined || Number.isNaN(parsed.getTime()) || parsed.toISOString().slice(0, 10) !== text || text < '0001-01-01') {
    throw new RejectedValueError(`${field} is not a YYYY-MM-DD date: ${text}`);
  }
  return text;
}

function requireText(text: string, field: string): string {
  if (text.length === 0) throw new RejectedValueError(`${field} is empty`);
  return text;
}

function requireFinite(value: number, field: string): number {
  if (!Number.isFinite(value)) throw new RejectedValueError(`${field} is not a finite number: ${value}`);
  return value;
}

/** PostgreSQL text cannot hold NUL: one such character would fail the whole COPY (and the batch, forever). */
function assertNoNul(row: Row): Row {
  for (const value of row) {
    const texts =
      typeof value === 'string'
        ? [value]
        : Array.isArray(value)
          ? (value as readonly string[])
          : value !== null && typeof value === 'object'
            ? Object.keys(value)
            : [];
    for (const text of texts)
      if (text.includes('\u0000')) throw new RejectedValueError(`a text field holds a NUL character: ${JSON.stringify(text)}`);
  }
  return row;
}

export function patternEventRow(event: PatternEventValue, position: Position): Row {
  return [
    requireText(event.eventId, 'eventId'),
    event.kind,
    requireText(event.patternId, 'patternId'),
    event.pattern,
    event.definitionVersion,
    event.tier,
    event.direction,
    requireText(event.symbol, 'symbol'),
    iso(event.detectedAtMs, 'detectedAtMs'),
    iso(event.expiresAtMs, 'expiresAtMs'),
    requireFinite(event.confidence, 'confidence'),
    event.baseConfidence,
    event.fundamentalAdjustment,
    [...event.fundamentalReasons],
    event.price,
    event.change,
    event.changePct,
    event.volume,
    event.relativeStrength,
    event.relativeVolume,
    event.rsi,
    { ...event.levels },
    position.topic,
    position.partition,
    position.offset,
  ];
}

export function barRow(bar: AggregateValue, expected: 'MINUTE' | 'DAY'): Row {
  if (bar.interval !== expected) throw new RejectedValueError(`a ${bar.interval} bar on the ${expected} topic`);
  if (!(bar.low <= bar.high)) throw new RejectedValueError(`bar low ${bar.low} above high ${bar.high}`);
  for (const field of ['open', 'high', 'low', 'close', 'volume'] as const) requireFinite(bar[field], field);
  if (bar.volume < 0) throw new RejectedValueError(`bar volume ${bar.volume} is negative`);
  return [
    requireText(bar.symbol, 'symbol'),
    iso(bar.windowStartMs, 'windowStartMs'),
    bar.open,
    bar.high,
    bar.low,
    bar.close,
    bar.volume,
    bar.vwap,
    bar.transactions,
  ];
}

export function symbolRow(symbol: SymbolValue): Row {
  return [
    requireText(symbol.ticker, 'ticker'),
    symbol.name,
    symbol.market,
    symbol.locale,
    symbol.type,
    symbol.active,
    symbol.primaryExchange,
    symbol.currencyName,
    symbol.cik,
    symbol.compositeFigi,
    symbol.shareClassFigi,
    symbol.marketCap,
    symbol.sharesOutstanding,
    symbol.sicCode,
    symbol.sicDescription,
    symbol.sector,
    isoDate(symbol.listDate, 'listDate'),
    iso(symbol.updatedAtMs, 'updatedAtMs'),
  ];
}

export function fundamentalsRow(value: FundamentalsValue): Row {
  return [
    requireText(value.symbol, 'symbol'),
    isoDate(value.asOfDate, 'asOfDate'),
    value.fiscalPeriod,
    value.fiscalYear,
    value.eps,
    value.epsEstimate,
    value.epsSurprisePct,
    value.revenue,
    value.revenueYoYGrowthPct,
    value.marketCap,
    value.priceToEarnings,
    value.priceToBook,
    value.evToEbitda,
    value.dividendYield,
    value.debtToEquity,
    value.source,
    iso(value.updatedAtMs, 'updatedAtMs'),
  ];
}

/** The row a decoded value of a topic becomes (throws RejectedValueError for values no table can hold). */
export function rowFor(topic: TopicKey, value: unknown, position: Position): Row {
  switch (topic) {
    case 'patterns':
      return assertNoNul(patternEventRow(value as PatternEventValue, position));
    case 'minuteAggregates':
      return assertNoNul(barRow(value as AggregateValue, 'MINUTE'));
    case 'dailyAggregates':
      return assertNoNul(barRow(value as AggregateValue, 'DAY'));
    case 'symbols':
      return assertNoNul(symbolRow(value as SymbolValue));
    case 'fundamentals':
      return assertNoNul(fundamentalsRow(value as FundamentalsValue));
    default:
      throw new RangeError(`no table is projected from topic ${topic}`);
  }
}

const patternEventColumn = (name: string): number => TABLES.pattern_events.columns.findIndex(([column]) => column === name);
const PATTERN_CHANGE_COLUMNS = {
  tier: patternEventColumn('tier'),
  confidence: patternEventColumn('confidence'),
  relativeStrength: patternEventColumn('relative_strength'),
  volume: patternEventColumn('volume'),
  detectedAt: patternEventColumn('detected_at'),
};

/** The state a `pattern_events` row gives its pattern in `patterns` (what the cache's pattern scopes are computed from). */
export function patternChangeOf(row: Row): PatternChange {
  const number = (index: number): number | null => (typeof row[index] === 'number' ? (row[index] as number) : null);
  return {
    tier: String(row[PATTERN_CHANGE_COLUMNS.tier]),
    confidence: number(PATTERN_CHANGE_COLUMNS.confidence) ?? 0,
    relativeStrength: number(PATTERN_CHANGE_COLUMNS.relativeStrength),
    volume: number(PATTERN_CHANGE_COLUMNS.volume),
    detectedAt: Date.parse(String(row[PATTERN_CHANGE_COLUMNS.detectedAt])),
  };
}

/** Compacted reference topics: a null value (tombstone) deletes the key. */
export function acceptsTombstones(topic: TopicKey): boolean {
  return topic === 'symbols' || topic === 'fundamentals';
}

// ---------------------------------------------------------------------------------------------------------------
// SQL

function ident(name: string): string {
  if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new RangeError(`not a plain SQL identifier: ${name}`);
  return `"${name}"`;
}

export function stagingName(table: TableName): string {
  return `tf_stage_${table}`;
}

/** A per-connection temp table; emptied at each commit, so a pooled connection reuses it. */
export function stagingDdl(table: TableName): string {
  const spec: TableSpec = TABLES[table];
  const columns = spec.columns.map(([name, type]) => `${ident(name)} ${type}`).join(', ');
  return `CREATE TEMP TABLE IF NOT EXISTS ${ident(stagingName(table))} (${columns}, _offset bigint NOT NULL, _deleted boolean NOT NULL DEFAULT false) ON COMMIT DELETE ROWS`;
}

export function copySql(table: TableName): string {
  const spec: TableSpec = TABLES[table];
  return `COPY ${ident(stagingName(table))} (${spec.columns.map(([name]) => ident(name)).join(', ')}, _offset, _deleted) FROM STDIN`;
}

/** A staged row: the table row, its offset (later offsets win within a batch) and whether it is a tombstone. */
export function stagedLine(row: Row, offset: number, deleted = false): string {
  return copyLine([...row, offset, deleted]);
}

/** A tombstone row: only the key is set. */
/** The earliest and latest time of a batch's rows (both inclusive), in epoch ms. */
export interface RowTimeSpan {
  readonly earliestMs: number;
  readonly latestMs: number;
}

/** The span of the rows' time column, or undefined for a table without one (or rows without a time). */
export function rowTimeSpan(table: TableName, rows: readonly Row[]): RowTimeSpan | undefined {
  const spec: TableSpec = TABLES[table];
  if (spec.time === undefined) return undefined;
  const column = spec.columns.findIndex(([name]) => name === spec.time);
  let earliestMs = Infinity;
  let latestMs = -Infinity;
  for (const row of rows) {
    const value = row[column];
    if (typeof value !== 'string') continue;
    const ms = Date.parse(value);
    if (ms < earliestMs) earliestMs = ms;
    if (ms > latestMs) latestMs = ms;
  }
  return earliestMs <= latestMs ? { earliestMs, latestMs } : undefined;
}

export function tombstoneRow(table: TableName, key: string): Row {
  const spec: TableSpec = TABLES[table];
  return spec.columns.map((_, index) => (index === 0 ? key : null));
}

/**
 * Statements that fold the staging table of `table` into its target(s) (suffix: rebuild tables). Within a batch
 * the latest message per key wins; the patterns' current state only moves forward in log order.
 */
export function applySql(table: TableName, suffix = ''): string[] {
  const spec: TableSpec = TABLES[table];
  const stage = ident(stagingName(table));
  const target = ident(`${spec.table}${suffix}`);
  const columns = spec.columns.map(([name]) => ident(name));
  const keys = spec.key.map(ident);
  const nonKey = columns.filter((column) => !keys.includes(column));
  if (table === 'pattern_events') {
    const current = ident(`patterns${suffix}`);
    const descriptive = columns.filter(
      (column) => !['"event_id"', '"kind"', '"kafka_topic"', '"kafka_partition"', '"kafka_offset"'].includes(column),
    );
    const currentColumns = [
      ...descriptive,
      '"status"',
      '"last_event_id"',
      '"last_kind"',
      '"kafka_topic"',
      '"kafka_partition"',
      '"kafka_offset"',
      '"updated_at"',
    ];
    return [
      `INSERT INTO ${target} (${columns.join(', ')}) SELECT ${columns.join(', ')} FROM ${stage} ON CONFLICT DO NOTHING`,
      `INSERT INTO ${current} (${currentColumns.join(', ')})
       SELECT DISTINCT ON ("pattern_id") ${descriptive.join(', ')},
              CASE WHEN "kind" = 'EXPIRED' THEN 'expired' ELSE 'active' END, "event_id", "kind", "kafka_topic", "kafka_partition", "kafka_offset", now()
       FROM ${stage} ORDER BY "pattern_id", _offset DESC
       ON CONFLICT ("pattern_id") DO UPDATE SET ${currentColumns
         .filter((column) => column !== '"pattern_id"')
         .map((column) => `${column} = EXCLUDED.${column}`)
         .join(', ')}
       WHERE ${current}."kafka_topic" <> EXCLUDED."kafka_topic" OR ${current}."kafka_partition" <> EXCLUDED."kafka_partition" OR ${current}."kafka_offset" < EXCLUDED."kafka_offset"`,
    ];
  }
  const latest = `SELECT DISTINCT ON (${keys.join(', ')}) * FROM ${stage} ORDER BY ${keys.join(', ')}, _offset DESC`;
  const statements: string[] = [];
  if (table === 'symbols' || table === 'fundamentals') {
    statements.push(
      `DELETE FROM ${target} t USING (${latest}) l WHERE l._deleted AND ${keys.map((key) => `t.${key} = l.${key}`).join(' AND ')}`,
    );
  }
  statements.push(
    `INSERT INTO ${target} (${columns.join(', ')}) SELECT ${columns.join(', ')} FROM (${latest}) l WHERE NOT l._deleted
     ON CONFLICT (${keys.join(', ')}) DO UPDATE SET ${nonKey.map((column) => `${column} = EXCLUDED.${column}`).join(', ')}`,
  );
  return statements;
}

// ---------------------------------------------------------------------------------------------------------------
// Redis commands in flight

/** Commands of the Redis read model's MULTI besides the messages' own: MULTI, EXEC, the patterns' and the projection's versions, the offset. */
export const REDIS_COMMANDS_PER_MULTI = 5;

/**
 * The most Redis commands one message can add to the read model's MULTI. A pattern event sets its state, adds to
 * or removes from each of its `scanSets` scan sets, adds itself to its symbol's events, and may be the first of
 * its symbol (one trim of the events, one version bump): `scanSets + 4`. A bar deletes and rewrites its symbol's
 * snapshot and bumps the symbol's version (3); its symbol's snapshot is read before the MULTI, one command each.
 */
export function redisCommandsPerMessage(topicKey: TopicKey, scanSets: number): number {
  return topicKey === 'patterns' ? scanSets + 4 : 3;
}

/**
 * Messages per MULTI so that one MULTI (and the snapshot reads before it) holds at most `maxCommands` commands:
 * a batch beyond it is written in several MULTIs, each awaited before the next is sent (the consumer waits).
 */
export function messagesPerMulti(commandsPerMessage: number, maxCommands: number): number {
  const messages = Math.floor((maxCommands - REDIS_COMMANDS_PER_MULTI) / commandsPerMessage);
  if (!Number.isInteger(messages) || messages < 1)
    throw new RangeError(
      `${maxCommands} Redis commands in flight cannot hold one message (${commandsPerMessage} commands + ${REDIS_COMMANDS_PER_MULTI})`,
    );
  return messages;
}

// ---------------------------------------------------------------------------------------------------------------
// Offsets

/**
 * What to do with a batch of one partition, given the next offset stored in the database (in the same
 * transaction, row locked) and the next offset this process believes it is at.
 * - stored moved under us (a rebuild swap, or another instance): apply nothing, seek to the stored offset;
 * - nothing stored where this process saw progress: the server lost it (commits are asynchronous, rows and
 *   offsets are lost together in a crash): apply nothing, read the partition again from its start;
 * - otherwise apply the messages at or after the stored offset (earlier ones are already in the tables) and
 *   store the offset after the last message. Compaction and retention gaps are normal and accepted.
 */
export type BatchPlan =
  { readonly action: 'apply'; readonly from: number; readonly nextOffset: number } | { readonly action: 'seek'; readonly offset: number };

export function planBatch(input: {
  readonly stored: number | undefined;
  readonly believed: number | undefined;
  readonly firstOffset: number;
  readonly lastOffset: number;
}): BatchPlan {
  const { stored, believed, lastOffset } = input;
  if (stored === undefined && believed !== undefined && believed > 0) return { action: 'seek', offset: 0 };
  if (stored !== undefined && believed !== undefined && stored !== believed) return { action: 'seek', offset: stored };
  const from = stored === undefined ? input.firstOffset : Math.max(stored, input.firstOffset);
  return { action: 'apply', from, nextOffset: Math.max(lastOffset + 1, stored ?? 0) };
}
