import { nextRandom } from '../protocol.js';

/** Real, liquid names first (SPY and the sector ETFs included), then synthetic tickers to fill the universe. */
const KNOWN = [
  'SPY',
  'QQQ',
  'IWM',
  'DIA',
  'XLK',
  'XLF',
  'XLE',
  'XLV',
  'XLI',
  'XLY',
  'XLP',
  'XLU',
  'XLB',
  'XLRE',
  'XLC',
  'AAPL',
  'MSFT',
  'NVDA',
  'AMZN',
  'GOOGL',
  'GOOG',
  'META',
  'TSLA',
  'BRK.B',
  'AVGO',
  'JPM',
  'LLY',
  'V',
  'UNH',
  'XOM',
  'MA',
  'JNJ',
  'PG',
  'HD',
  'COST',
  'MRK',
  'ABBV',
  'CVX',
  'CRM',
  'BAC',
  'NFLX',
  'AMD',
  'PEP',
  'KO',
  'TMO',
  'WMT',
  'ADBE',
  'LIN',
  'MCD',
  'CSCO',
  'ACN',
  'ABT',
  'ORCL',
  'DHR',
  'WFC',
  'INTC',
  'DIS',
  'TXN',
  'PM',
  'VZ',
  'CMCSA',
  'AMGN',
  'NEE',
  'INTU',
  'IBM',
  'QCOM',
  'CAT',
  'UNP',
  'GE',
  'HON',
  'LOW',
  'SPGI',
  'BA',
  'AMAT',
  'GS',
  'RTX',
  'PFE',
  'ISRG',
  'NKE',
  'SBUX',
  'BKNG',
  'T',
  'ELV',
  'MDT',
  'PLD',
  'DE',
  'BLK',
  'LMT',
  'SYK',
  'ADP',
  'GILD',
  'MDLZ',
  'TJX',
  'VRTX',
  'ADI',
  'MMC',
  'C',
  'CVS',
  'REGN',
  'AMT',
  'SCHW',
  'MO',
  'ZTS',
  'CB',
  'LRCX',
  'PGR',
  'TMUS',
  'SO',
  'MU',
  'CI',
  'BSX',
  'DUK',
  'FI',
  'EQIX',
  'ETN',
  'SNPS',
  'BDX',
  'ITW',
  'SLB',
  'AON',
  'CME',
  'CSX',
  'NOC',
  'CL',
  'KLAC',
  'MPC',
  'WM',
  'HUM',
  'APD',
  'CDNS',
  'ICE',
  'SHW',
  'MCK',
  'FDX',
  'EOG',
  'PYPL',
  'PLTR',
  'UBER',
  'ABNB',
  'SNOW',
  'SHOP',
  'COIN',
  'ROKU',
  'SQ',
  'DDOG',
  'CRWD',
  'ZS',
  'NET',
  'MDB',
  'PANW',
];

const ETFS = new Set(['SPY', 'QQQ', 'IWM', 'DIA', 'XLK', 'XLF', 'XLE', 'XLV', 'XLI', 'XLY', 'XLP', 'XLU', 'XLB', 'XLRE', 'XLC']);
const NASDAQ = new Set([
  'QQQ',
  'AAPL',
  'MSFT',
  'NVDA',
  'AMZN',
  'GOOGL',
  'GOOG',
  'META',
  'TSLA',
  'AVGO',
  'COST',
  'NFLX',
  'AMD',
  'PEP',
  'ADBE',
  'CSCO',
  'INTC',
  'TXN',
  'CMCSA',
  'AMGN',
  'INTU',
  'QCOM',
  'AMAT',
  'ISRG',
  'SBUX',
  'BKNG',
  'GILD',
  'MDLZ',
  'VRTX',
  'ADI',
  'REGN',
  'LRCX',
  'TMUS',
  'MU',
  'SNPS',
  'KLAC',
  'CDNS',
  'PYPL',
  'PLTR',
  'ABNB',
  'COIN',
  'ROKU',
  'DDOG',
  'CRWD',
  'ZS',
  'MDB',
  'PANW',
  'ADP',
  'FI',
]);

export interface SymbolProfile {
  readonly symbol: string;
  /** 1 = NYSE, 2 = NYSE Arca/AMEX (ETFs), 3 = Nasdaq. */
  readonly tape: number;
  readonly initialPrice: number;
  /** Annualised volatility of the idiosyncratic part. */
  readonly annualVolatility: number;
  /** Sensitivity to the common market factor. */
  readonly beta: number;
  /** Relative share of the event flow (Zipf by rank). */
  readonly activity: number;
}

function syntheticName(index: number, seed: number): string {
  const letters = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';
  let value = (index * 7919 + seed) % 26 ** 4;
  let name = '';
  for (let i = 0; i < 4; i += 1) {
    name += letters[value % 26];
    value = Math.floor(value / 26);
  }
  return `Z${name}`;
}

/** A deterministic universe of `size` symbols (from `seed`); always contains `benchmark`. */
export function buildUniverse(size: number, seed = 42, benchmark = 'SPY'): SymbolProfile[] {
  const names: string[] = [benchmark];
  for (const name of KNOWN) if (names.length < size && name !== benchmark) names.push(name);
  for (let index = 0; names.length < size; index += 1) {
    const name = syntheticName(index, seed);
    if (!names.includes(name)) names.push(name);
  }
  let rng = seed >>> 0;
  const draw = (): number => {
    const [value, next] = nextRandom(rng);
    rng = next;
    return value;
  };
  return names.slice(0, Math.max(1, size)).map((symbol, rank) => {
    const etf = ETFS.has(symbol);
    return {
      symbol,
      tape: etf ? 2 : NASDAQ.has(symbol) ? 3 : draw() < 0.5 ? 1 : 3,
      initialPrice: symbol === 'SPY' ? 580 : Math.round(Math.exp(Math.log(8) + draw() * Math.log(60)) * 100) / 100,
      annualVolatility: etf ? 0.08 + draw() * 0.08 : 0.2 + draw() * 0.5,
      beta: symbol === benchmark ? 1 : etf ? 0.8 + draw() * 0.3 : 0.5 + draw() * 1.2,
      activity: 1 / (rank + 5) ** 0.8,
    };
  });
}
