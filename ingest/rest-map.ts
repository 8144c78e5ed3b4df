import { toMillis } from './wire.js';
import type { AggregateRecord, BarInterval, FundamentalsRecord, SymbolRecord } from './records.js';

/** Pure mappings from Massive REST shapes to our records. Unknown or missing fields become null. */

export interface RestBar {
  readonly o: number;
  readonly h: number;
  readonly l: number;
  readonly c: number;
  readonly v: number;
  readonly vw?: number;
  readonly n?: number;
  readonly t: number;
  readonly otc?: boolean;
}

const INTERVAL_MS: Record<BarInterval, number> = { SECOND: 1000, MINUTE: 60_000, DAY: 86_400_000 };

export function intervalMs(interval: BarInterval): number {
  return INTERVAL_MS[interval];
}

/** A REST or flat-file bar: `t` is the window start (ms; ns accepted). Throws on an inconsistent bar. */
export function barToRecord(symbol: string, interval: BarInterval, bar: RestBar, source: string, nowMs: number): AggregateRecord {
  for (const field of ['o', 'h', 'l', 'c', 'v', 't'] as const) {
    if (typeof bar[field] !== 'number' || !Number.isFinite(bar[field])) throw new TypeError(`bar field ${field} is not a finite number`);
  }
  if (bar.h < bar.l || bar.h < Math.max(bar.o, bar.c) || bar.l > Math.min(bar.o, bar.c))
    throw new TypeError('bar is inconsistent (high/low do not bound open/close)');
  if (bar.v < 0) throw new TypeError('bar volume is negative');
  const start = toMillis(bar.t);
  return {
    symbol,
    interval,
    windowStartMs: start,
    windowEndMs: start + INTERVAL_MS[interval],
    open: bar.o,
    high: bar.h,
    low: bar.l,
    close: bar.c,
    volume: bar.v,
    vwap: typeof bar.vw === 'number' ? bar.vw : null,
    transactions: typeof bar.n === 'number' ? Math.round(bar.n) : null,
    accumulatedVolume: null,
    officialOpen: null,
    dayVwap: null,
    averageTradeSize: typeof bar.n === 'number' && bar.n > 0 ? bar.v / bar.n : null,
    otc: bar.otc === true,
    source,
    ingestedAtMs: nowMs,
  };
}

export interface RestTicker {
  readonly ticker: string;
  readonly name: string;
  readonly market: string;
  readonly locale?: string;
  readonly type?: string;
  readonly active?: boolean;
  readonly primary_exchange?: string;
  readonly currency_name?: string;
  readonly cik?: string;
  readonly composite_figi?: string;
  readonly share_class_figi?: string;
  readonly market_cap?: number;
  readonly share_class_shares_outstanding?: number;
  readonly weighted_shares_outstanding?: number;
  readonly sic_code?: string;
  readonly sic_description?: string;
  readonly list_date?: string;
}

/** SIC major groups -> a coarse sector name (the dashboard filters by sector). */
export function sectorOfSic(sic: string | undefined): string | null {
  if (!sic) return null;
  const code = Number.parseInt(sic, 10);
  if (!Number.isFinite(code)) return null;
  if (code < 1000) return 'Agriculture';
  if (code < 1500) return 'Energy & Mining';
  if (code < 1800) return 'Construction';
  if (code >= 2830 && code <= 2836) return 'Health Care';
  if (code >= 3570 && code <= 3579) return 'Technology';
  if (code >= 3670 && code <= 3679) return 'Technology';
  if (code < 4000) return 'Manufacturing';
  if (code >= 4800 && code < 4900) return 'Communication';
  if (code >= 4900 && code < 5000) return 'Utilities';
  if (code < 5000) return 'Transportation';
  if (code < 5200) return 'Wholesale';
  if (code < 6000) return 'Retail';
  if (code < 6800) return 'Financials';
  if (code >= 7370 && code <= 7379) return 'Technology';
  if (code >= 8000 && code < 8100) return 'Health Care';
  if (code < 9000) return 'Services';
  return 'Public Administration';
}

/** A ticker from /v3/reference/tickers, enriched by /v3/reference/tickers/{ticker} when given. */
export function tickerToRecord(ticker: RestTicker, details: RestTicker | undefined, nowMs: number): SymbolRecord {
  const merged: RestTicker = { ...ticker, ...details };
  if (typeof merged.ticker !== 'string' || merged.ticker.length === 0) throw new TypeError('ticker has no symbol');
  return {
    ticker: merged.ticker,
    name: merged.name ?? merged.ticker,
    market: merged.market ?? 'stocks',
    locale: merged.locale ?? 'us',
    type: merged.type ?? null,
    active: merged.active ?? true,
    primaryExchange: merged.primary_exchange ?? null,
    currencyName: merged.currency_name ?? null,
    cik: merged.cik ?? null,
    compositeFigi: merged.composite_figi ?? null,
    shareClassFigi: merged.share_class_figi ?? null,
    marketCap: merged.market_cap ?? null,
    sharesOutstanding: merged.weighted_shares_outstanding ?? merged.share_class_shares_outstanding ?? null,
    sicCode: merged.sic_code ?? null,
    sicDescription: merged.sic_description ?? null,
    sector: sectorOfSic(merged.sic_code),
    listDate: merged.list_date ?? null,
    updatedAtMs: nowMs,
  };
}

export interface RestRatios {
  readonly ticker: string;
  readonly date: string;
  readonly price?: number;
  readonly market_cap?: number;
  readonly earnings_per_share?: number;
  readonly price_to_earnings?: number;
  readonly price_to_book?: number;
  readonly ev_to_ebitda?: number;
  readonly dividend_yield?: number;
  readonly debt_to_equity?: number;
}

export interface RestIncomeStatement {
  readonly fiscal_year?: number;
  readonly fiscal_quarter?: number;
  readonly period_end?: string;
  readonly timeframe?: string;
  readonly revenue?: number;
  readonly diluted_earnings_per_share?: number;
  readonly basic_earnings_per_share?: number;
}

/**
 * Latest ratios + quarterly income statements -> one fundamentals record. Revenue growth compares the
 * latest quarter with the same quarter a year earlier. The financials endpoints carry no EPS estimate,
 * so estimate and surprise stay null (an earnings-calendar source would fill them).
 */
export function fundamentalsToRecord(
  symbol: string,
  ratios: RestRatios | undefined,
  statements: readonly RestIncomeStatement[],
  nowMs: number,
): FundamentalsRecord {
  const sorted = [...statements].sort((a, b) => (b.period_end ?? '').localeCompare(a.period_end ?? ''));
  const latest = sorted[0];
  const yearAgo = latest
    ? sorted.find(
        (statement) => statement.fiscal_quarter === latest.fiscal_quarter && statement.fiscal_year === (latest.fiscal_year ?? 0) - 1,
      )
    : undefined;
  const growth =
    latest?.revenue !== undefined && yearAgo?.revenue !== undefined && yearAgo.revenue !== 0
      ? ((latest.revenue - yearAgo.revenue) / Math.abs(yearAgo.revenue)) * 100
      : null;
  const asOfDate = ratios?.date ?? latest?.period_end;
  if (!asOfDate) throw new TypeError(`no ratios and no income statement for ${symbol}`);
  return {
    symbol,
    asOfDate,
    fiscalPeriod: latest?.fiscal_quarter !== undefined ? `Q${latest.fiscal_quarter}` : (latest?.timeframe ?? null),
    fiscalYear: latest?.fiscal_year ?? null,
    eps: latest?.diluted_earnings_per_share ?? latest?.basic_earnings_per_share ?? ratios?.earnings_per_share ?? null,
    epsEstimate: null,
    epsSurprisePct: null,
    revenue: latest?.revenue ?? null,
    revenueYoYGrowthPct: growth,
    marketCap: ratios?.market_cap ?? null,
    priceToEarnings: ratios?.price_to_earnings ?? null,
    priceToBook: ratios?.price_to_book ?? null,
    evToEbitda: ratios?.ev_to_ebitda ?? null,
    dividendYield: ratios?.dividend_yield ?? null,
    debtToEquity: ratios?.debt_to_equity ?? null,
    source: 'rest',
    updatedAtMs: nowMs,
  };
}
