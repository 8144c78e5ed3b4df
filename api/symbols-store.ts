import { parameterAdder } from './scan.js';
import type { Queryable } from '../store/queryable.js';

/** PostgreSQL reads of reference data and bars (owned by the projections stage). */

export interface SymbolView {
  ticker: string;
  name: string;
  market: string;
  locale: string;
  type: string | null;
  active: boolean;
  primary_exchange: string | null;
  currency_name: string | null;
  cik: string | null;
  composite_figi: string | null;
  share_class_figi: string | null;
  market_cap: number | null;
  shares_outstanding: number | null;
  sic_code: string | null;
  sic_description: string | null;
  sector: string | null;
  list_date: string | null;
  updated_at: string;
}

const SYMBOL_COLUMNS = `ticker, name, market, locale, type, active, primary_exchange, currency_name, cik, composite_figi, share_class_figi,
  market_cap, shares_outstanding, sic_code, sic_description, sector, to_char(list_date, 'YYYY-MM-DD') AS list_date, updated_at`;

type SymbolRow = Omit<SymbolView, 'updated_at' | 'market_cap' | 'shares_outstanding'> & {
  updated_at: Date;
  market_cap: number | string | null;
  shares_outstanding: number | string | null;
};

const num = (value: number | string | null): number | null => (value === null ? null : Number(value));

function symbolView(row: SymbolRow): SymbolView {
  return {
    ...row,
    market_cap: num(row.market_cap),
    shares_outstanding: num(row.shares_outstanding),
    updated_at: new Date(row.updated_at).toISOString(),
  };
}

export interface SymbolSearch {
  readonly search?: string | undefined;
  readonly market?: string | undefined;
  readonly type?: string | undefined;
  readonly active?: boolean | undefined;
  readonly limit: number;
}

/** Escapes LIKE wildcards so a search for `A_B` matches only that text. */
function likePrefix(text: string): string {
  return `${text.replace(/[\\%_]/g, (character) => `\\${character}`)}%`;
}

/** Ticker-prefix matches first, then name-prefix matches, each alphabetical. */
export async function listSymbols(db: Queryable, search: SymbolSearch): Promise<SymbolView[]> {
  const values: unknown[] = [];
  const add = parameterAdder(values);
  const conditions: string[] = [];
  let order = 'ticker';
  if (search.search !== undefined) {
    const tickerPrefix = add(likePrefix(search.search.toUpperCase()));
    const namePrefix = add(likePrefix(search.search.toLowerCase()));
    conditions.push(`(ticker LIKE ${tickerPrefix} OR lower(name) LIKE ${namePrefix})`);
    order = `CASE WHEN ticker LIKE ${tickerPrefix} THEN 0 ELSE 1 END, ticker`;
  }
  if (search.market !== undefined) conditions.push(`market = ${add(search.market)}`);
  if (search.type !== undefined) conditions.push(`type = ${add(search.type)}`);
  if (search.active !== undefined) conditions.push(`active = ${add(search.active)}`);
  const where = conditions.length > 0 ? `WHERE ${conditions.join(' AND ')}` : '';
  const { rows } = await db.query<SymbolRow>(
    `SELECT ${SYMBOL_COLUMNS} FROM symbols ${where} ORDER BY ${order} LIMIT ${add(search.limit)}`,
    values,
  );
  return rows.map(symbolView);
}

export interface BarView {
  bucket: string;
  open: number;
  high: number;
  low: number;
  close: number;
  volume: number;
  vwap: number | null;
  transactions: number | null;
}

interface BarRow {
  bucket: Date;
  open: number | string;
  high: number | string;
  low: number | string;
  close: number | string;
  volume: number | string;
  vwap: number | string | null;
  transactions: number | string | null;
}

function barView(row: BarRow): BarView {
  return {
    bucket: new Date(row.bucket).toISOString(),
    open: Number(row.open),
    high: Number(row.high),
    low: Number(row.low),
    close: Number(row.close),
    volume: Number(row.volume),
    vwap: num(row.vwap),
    transactions: num(row.transactions),
  };
}

/** The bar resolutions the API serves (its `interval` parameter); not the records' BarInterval (SECOND, MINUTE, DAY). */
export const BAR_RESOLUTIONS = ['1m', '5m', '15m', '1h', '1d'] as const;
export type BarResolution = (typeof BAR_RESOLUTIONS)[number];

/** Table or (continuous-aggregate) view of each interval; a closed map, never user text in SQL. */
const BAR_RELATIONS: Readonly<Record<BarResolution, string>> = {
  '1m': 'bars_1m',
  '5m': 'bars_5m',
  '15m': 'bars_15m',
  '1h': 'bars_1h',
  '1d': 'bars_1d',
};

export interface FundamentalsView {
  as_of_date: string;
  fiscal_period: string | null;
  fiscal_year: number | null;
  eps: number | null;
  eps_estimate: number | null;
  eps_surprise_pct: number | null;
  revenue: number | null;
  revenue_yoy_growth_pct: number | null;
  market_cap: number | null;
  price_to_earnings: number | null;
  price_to_book: number | null;
  ev_to_ebitda: number | null;
  dividend_yield: number | null;
  debt_to_equity: number | null;
  source: string;
  updated_at: string;
}

export interface SymbolDetail {
  data: SymbolView;
  fundamentals: FundamentalsView | null;
  last_bar: (BarView & { interval: string }) | null;
  active_patterns: number;
}

const BAR_COLUMNS = 'bucket, open, high, low, close, volume, vwap, transactions';

const DAY_MS = 86_400_000;

/**
 * Where the last bar is looked for first: minute bars of the last week, else daily bars of the last 400 days, up to
 * a day ahead (clock skew). The bar tables are partitioned by time (38 and 47 partitions in the bench database), and
 * a look-up over all of them cost 3.8 ms to plan against 0.5-0.8 ms to run; with the window as parameters the planner
 * prunes to its partitions. Only a symbol with no bar in either window reads them all.
 */
export const LAST_BAR_WINDOWS = { minute: { backMs: 7 * DAY_MS }, daily: { backMs: 400 * DAY_MS }, aheadMs: DAY_MS } as const;

/**
 * Details, latest fundamentals, the last bar and the count of active patterns. The last bar is the latest minute
 * bar of the minute window, else the latest daily bar of the daily window, else the latest minute bar, else the
 * latest daily bar (LAST_BAR_WINDOWS).
 */
export async function findSymbol(db: Queryable, ticker: string, now: number): Promise<SymbolDetail | undefined> {
  const ahead = new Date(now + LAST_BAR_WINDOWS.aheadMs);
  const lastBar = (table: string, window: { backMs: number } | undefined) =>
    window
      ? db.query<BarRow>(
          `SELECT ${BAR_COLUMNS} FROM ${table} WHERE symbol = $1 AND bucket >= $2 AND bucket < $3 ORDER BY bucket DESC LIMIT 1`,
          [ticker, new Date(now - window.backMs), ahead],
        )
      : db.query<BarRow>(`SELECT ${BAR_COLUMNS} FROM ${table} WHERE symbol = $1 ORDER BY bucket DESC LIMIT 1`, [ticker]);
  const [symbol, fundamentals, recentMinute, recentDaily, active] = await Promise.all([
    db.query<SymbolRow>(`SELECT ${SYMBOL_COLUMNS} FROM symbols WHERE ticker = $1`, [ticker]),
    db.query<FundamentalsView & { updated_at: Date }>(
      `SELECT to_char(as_of_date, 'YYYY-MM-DD') AS as_of_date, fiscal_period, fiscal_year, eps, eps_estimate, eps_surprise_pct, revenue,
              revenue_yoy_growth_pct, market_cap, price_to_earnings, price_to_book, ev_to_ebitda, dividend_yield, debt_to_equity, source, updated_at
         FROM fundamentals WHERE symbol = $1`,
      [ticker],
    ),
    lastBar('bars_1m', LAST_BAR_WINDOWS.minute),
    lastBar('bars_1d', LAST_BAR_WINDOWS.daily),
    db.query<{ count: string }>(`SELECT count(*) AS count FROM patterns WHERE symbol = $1 AND status = 'active'`, [ticker]),
  ]);
  if (!symbol.rows[0]) return undefined;
  let minute = recentMinute.rows[0];
  let daily = recentDaily.rows[0];
  if (!minute && !daily)
    [minute, daily] = (await Promise.all([lastBar('bars_1m', undefined), lastBar('bars_1d', undefined)])).map((result) => result.rows[0]);
  const fundamentalsRow = fundamentals.rows[0];
  return {
    data: symbolView(symbol.rows[0]),
    fundamentals: fundamentalsRow
      ? { ...fundamentalsRow, fiscal_year: fundamentalsRow.fiscal_year, updated_at: new Date(fundamentalsRow.updated_at).toISOString() }
      : null,
    last_bar: minute ? { ...barView(minute), interval: '1m' } : daily ? { ...barView(daily), interval: '1d' } : null,
    active_patterns: Number(active.rows[0]?.count ?? 0),
  };
}

export async function symbolExists(db: Queryable, ticker: string): Promise<boolean> {
  const { rows } = await db.query<{ found: number }>('SELECT 1 AS found FROM symbols WHERE ticker = $1', [ticker]);
  return rows.length > 0;
}

/** The stored intervals (1m, whence 5m/15m/1h, and 1d) that have at least one bar of `ticker`. */
export async function intervalsWithBars(db: Queryable, ticker: string): Promise<BarResolution[]> {
  const { rows } = await db.query<{ minute: boolean; day: boolean }>(
    `SELECT EXISTS (SELECT 1 FROM ${BAR_RELATIONS['1m']}_between($1, NULL, NULL)) AS minute, EXISTS (SELECT 1 FROM ${BAR_RELATIONS['1d']}_between($1, NULL, NULL)) AS day`,
    [ticker],
  );
  const found: BarResolution[] = [];
  if (rows[0]?.minute) found.push('1m', '5m', '15m', '1h');
  if (rows[0]?.day) found.push('1d');
  return found;
}

/**
 * The latest `limit` bars in [from, to), returned oldest first. Read through `<relation>_between(symbol, from, to,
 * latest)` (projections' migrations; same on both storage paths), which puts the range on the partition key so that
 * only the partitions of [from, to) are read, also for the 5m/15m/1h bars aggregated from minute bars, and takes the
 * limit inside: on TimescaleDB the 5m/15m/1h functions plan their own query over the real-time aggregate, so that
 * TimescaleDB folds the aggregate's watermark into a constant (migration 1797000000000), and the LIMIT goes with it.
 */
export async function listBars(
  db: Queryable,
  ticker: string,
  interval: BarResolution,
  from: number | undefined,
  to: number | undefined,
  limit: number,
): Promise<BarView[]> {
  const bound = (ms: number | undefined) => (ms === undefined ? null : new Date(ms).toISOString());
  const { rows } = await db.query<BarRow>(
    `SELECT ${BAR_COLUMNS} FROM ${BAR_RELATIONS[interval]}_between($1, $2::timestamptz, $3::timestamptz, $4::int) ORDER BY bucket`,
    [ticker, bound(from), bound(to), limit],
  );
  return rows.map(barView);
}
