/**
 * Universes as a domain contract the API and the gateway share, free of Hono and zod so the gateway need not load them:
 * the type, the built-ins, and the rules of keys and symbols. Reading a user's universes is store/accounts/universes.ts.
 */

/** A named set of symbols: read-only built-ins, or a user's own universe/watchlist. */
export interface Universe {
  readonly key: string;
  readonly name: string;
  readonly description: string;
  readonly kind: 'universe' | 'watchlist';
  readonly category: 'builtin' | 'user';
  readonly symbols: readonly string[];
  readonly criteria: Readonly<Record<string, unknown>>;
}

function builtin(key: string, name: string, description: string, symbols: readonly string[], criteria: Record<string, unknown>): Universe {
  return { key, name, description, kind: 'universe', category: 'builtin', symbols, criteria };
}

/**
 * Built-in universes, the same for every user. The market-leader list is a fixed snapshot of large US
 * caps rather than a live ranking, so a scan over it is reproducible (a live top-N belongs in a query).
 */
export const BUILTIN_UNIVERSES: readonly Universe[] = [
  builtin(
    'market_leaders',
    'Top 50 market leaders',
    'Fifty of the largest US-listed companies by market capitalisation (fixed list)',
    [
      'AAPL',
      'MSFT',
      'NVDA',
      'AMZN',
      'GOOGL',
      'GOOG',
      'META',
      'BRK.B',
      'AVGO',
      'TSLA',
      'LLY',
      'JPM',
      'V',
      'WMT',
      'UNH',
      'XOM',
      'MA',
      'ORCL',
      'COST',
      'HD',
      'PG',
      'JNJ',
      'NFLX',
      'ABBV',
      'BAC',
      'CRM',
      'KO',
      'CVX',
      'AMD',
      'MRK',
      'PEP',
      'TMO',
      'ADBE',
      'LIN',
      'CSCO',
      'ACN',
      'MCD',
      'WFC',
      'ABT',
      'IBM',
      'GE',
      'PM',
      'DHR',
      'TXN',
      'QCOM',
      'INTU',
      'CAT',
      'AMGN',
      'VZ',
      'DIS',
    ],
    { kind: 'market_cap_rank', top: 50 },
  ),
  builtin(
    'sector_etfs',
    'Sector ETFs',
    'The Select Sector SPDR funds, one per GICS sector',
    ['XLK', 'XLF', 'XLV', 'XLE', 'XLI', 'XLY', 'XLP', 'XLU', 'XLB', 'XLRE', 'XLC'],
    { kind: 'etf', family: 'select_sector_spdr' },
  ),
  builtin('index_etfs', 'Index ETFs', 'Broad-market index funds: S&P 500, Nasdaq-100, Russell 2000, Dow', ['SPY', 'QQQ', 'IWM', 'DIA'], {
    kind: 'etf',
    family: 'index',
  }),
];

const builtinByKey = new Map(BUILTIN_UNIVERSES.map((universe) => [universe.key, universe]));

export function findBuiltinUniverse(key: string): Universe | undefined {
  return builtinByKey.get(key);
}

/** Keys are URL-safe slugs; built-in keys are reserved. */
export const UNIVERSE_KEY_PATTERN = /^[a-z0-9][a-z0-9_-]{0,63}$/;
/** Tickers as Massive spells them: letters, digits, dot (BRK.B), dash; also index/crypto prefixes like I:SPX, X:BTCUSD. */
export const SYMBOL_PATTERN = /^[A-Z0-9][A-Z0-9.:-]{0,19}$/;

/** Normalised (upper-cased, de-duplicated, sorted) symbol list. */
export function normaliseSymbols(symbols: readonly string[]): string[] {
  return [...new Set(symbols.map((symbol) => symbol.trim().toUpperCase()).filter((symbol) => symbol.length > 0))].sort();
}
