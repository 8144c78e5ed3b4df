import { SessionCalendar } from '../../contracts/calendar.js';
import { nextRandom } from '../protocol.js';
import type { RestBar, RestIncomeStatement, RestRatios, RestTicker } from '../rest-map.js';
import { SessionClock } from './session-clock.js';
import type { SymbolProfile } from './universe.js';

/** What a Massive REST stand-in answers from: the simulator's synthetic market or a test's fixed data. */
export interface MassiveRestData {
  /** Bars of [from, to] (YYYY-MM-DD, inclusive), oldest first. */
  bars(symbol: string, timespan: 'minute' | 'day', from: string, to: string): readonly RestBar[];
  tickers(): readonly RestTicker[];
  details(symbol: string): RestTicker | undefined;
  ratios(symbol: string): RestRatios | undefined;
  incomeStatements(symbol: string): readonly RestIncomeStatement[];
}

const DAY_MS = 86_400_000;
/** The history the simulator serves at most (a larger request is clipped to its last five years). */
const MAX_HISTORY_DAYS = 5 * 366;
/** Representative SIC codes, one per sector the dashboard filters on (see sectorOfSic). */
const SIC_CODES: readonly [string, string][] = [
  ['3571', 'ELECTRONIC COMPUTERS'],
  ['7372', 'SERVICES-PREPACKAGED SOFTWARE'],
  ['3674', 'SEMICONDUCTORS & RELATED DEVICES'],
  ['2834', 'PHARMACEUTICAL PREPARATIONS'],
  ['8062', 'SERVICES-HOSPITALS'],
  ['6021', 'NATIONAL COMMERCIAL BANKS'],
  ['6311', 'LIFE INSURANCE'],
  ['1311', 'CRUDE PETROLEUM & NATURAL GAS'],
  ['4911', 'ELECTRIC SERVICES'],
  ['4813', 'TELEPHONE COMMUNICATIONS'],
  ['5331', 'RETAIL-VARIETY STORES'],
  ['3711', 'MOTOR VEHICLES & PASSENGER CAR BODIES'],
  ['4011', 'RAILROADS, LINE-HAUL OPERATING'],
  ['7389', 'SERVICES-BUSINESS SERVICES, NEC'],
];
const EXCHANGES: Record<number, string> = { 1: 'XNYS', 2: 'ARCX', 3: 'XNAS' };

/** FNV-1a of a string: a stable seed per symbol (and per symbol and day). */
function hashOf(text: string, seed: number): number {
  let hash = (0x811c9dc5 ^ seed) >>> 0;
  for (let index = 0; index < text.length; index += 1) hash = Math.imul(hash ^ text.charCodeAt(index), 0x01000193) >>> 0;
  return hash;
}

/** A deterministic stream of uniforms for one key. */
function uniforms(key: string, seed: number): () => number {
  let state = hashOf(key, seed);
  return () => {
    const [value, next] = nextRandom(state);
    state = next;
    return value;
  };
}

/** Standard normal from two uniforms (Box-Muller). */
function normal(draw: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - draw())) * Math.cos(2 * Math.PI * draw());
}

const round2 = (value: number) => Math.round(value * 100) / 100;
const dayNumberOf = (date: string): number | undefined => {
  const ms = Date.parse(`${date}T00:00:00Z`);
  return Number.isFinite(ms) ? Math.floor(ms / DAY_MS) : undefined;
};

export interface SimulatedReferenceOptions {
  readonly seed: number;
  /** The simulated clock's start: daily history ends with the last session before it, closing at each symbol's live start price. */
  readonly startTimeMs: number;
  readonly calendar?: SessionCalendar;
}

/**
 * The reference data, daily history and financials of the simulator's universe, as Massive REST would
 * answer them. Pure and deterministic (a function of the universe, seed and start): the daily history
 * ends with the last complete session before the simulated clock starts, and that session closes at the
 * price the live feed opens with, so daily and minute bars join up; market caps and ratios use that price.
 */
export function simulatedReference(universe: readonly SymbolProfile[], options: SimulatedReferenceOptions): MassiveRestData {
  const calendar = options.calendar ?? new SessionCalendar();
  const profiles = new Map(universe.map((profile) => [profile.symbol, profile]));
  const startDay = calendar.dayOf(new SessionClock(calendar).sessionInstant(options.startTimeMs));
  let lastDay = calendar.day(startDay.dayNumber - 1);
  while (!lastDay.isTradingDay) lastDay = calendar.day(lastDay.dayNumber - 1);
  const asOf = lastDay.date;

  const profileOf = (symbol: string) => {
    const profile = profiles.get(symbol);
    if (!profile) return undefined;
    const draw = uniforms(`profile:${symbol}`, options.seed);
    const etf = profile.tape === 2;
    // Larger caps for the most active names (the universe is ordered by activity).
    const marketCap = Math.round(Math.exp(Math.log(2e9) + (0.4 + 0.6 * draw()) * Math.log(1000) * Math.min(1, profile.activity * 4)));
    const [sicCode, sicDescription] = SIC_CODES[hashOf(symbol, options.seed) % SIC_CODES.length]!;
    return {
      profile,
      etf,
      marketCap,
      shares: Math.round(marketCap / profile.initialPrice),
      sicCode,
      sicDescription,
      priceToEarnings: 8 + draw() * 40,
      priceToBook: 1 + draw() * 11,
      evToEbitda: 5 + draw() * 25,
      dividendYield: draw() < 0.4 ? 0 : draw() * 0.04,
      debtToEquity: draw() * 2.5,
      revenueGrowth: -0.1 + draw() * 0.4,
    };
  };

  const ticker = (symbol: string): RestTicker | undefined => {
    const entry = profileOf(symbol);
    if (!entry) return undefined;
    return {
      ticker: symbol,
      name: entry.etf ? `${symbol} Simulated ETF` : `${symbol} Simulated Inc.`,
      market: 'stocks',
      locale: 'us',
      type: entry.etf ? 'ETF' : 'CS',
      active: true,
      primary_exchange: EXCHANGES[entry.profile.tape],
      currency_name: 'usd',
      list_date: '2000-01-03',
      ...(entry.etf
        ? {}
        : {
            market_cap: entry.marketCap,
            weighted_shares_outstanding: entry.shares,
            share_class_shares_outstanding: entry.shares,
            sic_code: entry.sicCode,
            sic_description: entry.sicDescription,
          }),
    };
  };

  const dailyBars = (symbol: string, from: string, to: string): RestBar[] => {
    const profile = profiles.get(symbol);
    const fromDay = dayNumberOf(from);
    const toDay = dayNumberOf(to);
    if (!profile || fromDay === undefined || toDay === undefined) return [];
    const first = Math.max(fromDay, lastDay.dayNumber - MAX_HISTORY_DAYS);
    const last = Math.min(toDay, lastDay.dayNumber);
    if (first > last) return [];
    const dailyVolatility = (profile.annualVolatility * Math.max(0.5, profile.beta)) / Math.sqrt(252);
    const baseVolume = Math.round(2e7 * profile.activity);
    const bars: RestBar[] = [];
    // Walks back from the last session (closing at the live start price), so the history ends where the feed begins.
    let close = profile.initialPrice;
    for (let dayNumber = lastDay.dayNumber; dayNumber >= first; dayNumber -= 1) {
      const day = calendar.day(dayNumber);
      if (!day.isTradingDay) continue;
      const draw = uniforms(`day:${symbol}:${dayNumber}`, options.seed);
      const dayReturn = dailyVolatility * normal(draw);
      const open = close / Math.exp(dayReturn * (0.6 + 0.4 * draw()));
      if (dayNumber <= last) {
        const high = Math.max(open, close) * (1 + dailyVolatility * 0.5 * draw());
        const low = Math.min(open, close) * (1 - dailyVolatility * 0.5 * draw());
        const volume = Math.max(100, Math.round(baseVolume * (0.5 + draw())));
        bars.push({
          o: round2(open),
          h: Math.max(round2(high), round2(open), round2(close)),
          l: Math.min(round2(low), round2(open), round2(close)),
          c: round2(close),
          v: volume,
          vw: round2((high + low + close) / 3),
          n: Math.max(1, Math.round(volume / 120)),
          t: day.startMs,
        });
      }
      close = Math.max(0.01, close / Math.exp(dayReturn));
    }
    return bars.reverse();
  };

  return {
    bars: (symbol, timespan, from, to) => (timespan === 'day' ? dailyBars(symbol, from, to) : []),
    tickers: () => universe.map((profile) => ticker(profile.symbol)!),
    details: ticker,
    ratios: (symbol) => {
      const entry = profileOf(symbol);
      if (!entry || entry.etf) return undefined;
      const price = entry.profile.initialPrice;
      return {
        ticker: symbol,
        date: asOf,
        price,
        market_cap: entry.marketCap,
        earnings_per_share: round2(price / entry.priceToEarnings),
        price_to_earnings: round2(entry.priceToEarnings),
        price_to_book: round2(entry.priceToBook),
        ev_to_ebitda: round2(entry.evToEbitda),
        dividend_yield: Math.round(entry.dividendYield * 10_000) / 10_000,
        debt_to_equity: round2(entry.debtToEquity),
      };
    },
    incomeStatements: (symbol) => {
      const entry = profileOf(symbol);
      if (!entry || entry.etf) return [];
      // Eight quarters back from the last complete quarter before the start, newest first (as requested: period_end.desc).
      const [year, month] = asOf.split('-').map(Number) as [number, number];
      let quarter = Math.floor((month - 1) / 3); // the current quarter (1-based) minus one: the last complete one
      let fiscalYear = year;
      if (quarter === 0) {
        quarter = 4;
        fiscalYear -= 1;
      }
      const annualRevenue = entry.marketCap / (1 + entry.priceToEarnings / 10);
      const annualEps = entry.profile.initialPrice / entry.priceToEarnings;
      const statements: RestIncomeStatement[] = [];
      for (let back = 0; back < 8; back += 1) {
        const yearsBack = back / 4;
        const scale = (1 + entry.revenueGrowth) ** -yearsBack;
        const endMonth = quarter * 3;
        const periodEnd = new Date(Date.UTC(fiscalYear, endMonth, 0)).toISOString().slice(0, 10);
        const eps = round2((annualEps / 4) * scale);
        statements.push({
          fiscal_year: fiscalYear,
          fiscal_quarter: quarter,
          period_end: periodEnd,
          timeframe: 'quarterly',
          revenue: Math.round((annualRevenue / 4) * scale),
          diluted_earnings_per_share: eps,
          basic_earnings_per_share: eps,
        });
        quarter -= 1;
        if (quarter === 0) {
          quarter = 4;
          fiscalYear -= 1;
        }
      }
      return statements;
    },
  };
}
