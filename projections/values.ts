/**
 * The decoded Avro values the projections read (schemas/*.avsc). Timestamps are epoch milliseconds; optional
 * fields decode to null.
 */
export interface PatternEventValue {
  readonly eventId: string;
  readonly kind: 'DETECTED' | 'UPDATED' | 'EXPIRED';
  readonly patternId: string;
  readonly pattern: string;
  readonly definitionVersion: number;
  readonly tier: 'INTRADAY' | 'DAILY' | 'COMBO';
  readonly direction: 'BULLISH' | 'BEARISH' | 'NEUTRAL';
  readonly symbol: string;
  readonly detectedAtMs: number;
  readonly expiresAtMs: number;
  readonly confidence: number;
  readonly baseConfidence: number;
  readonly fundamentalAdjustment: number;
  readonly fundamentalReasons: readonly string[];
  readonly price: number;
  readonly change: number | null;
  readonly changePct: number | null;
  readonly volume: number;
  readonly relativeStrength: number | null;
  readonly relativeVolume: number | null;
  readonly rsi: number | null;
  readonly levels: Readonly<Record<string, number>>;
  readonly sourceTopic: string;
  readonly sourcePartition: number;
  readonly sourceOffset: number;
}

export interface AggregateValue {
  readonly symbol: string;
  readonly interval: 'SECOND' | 'MINUTE' | 'DAY';
  readonly windowStartMs: number;
  readonly windowEndMs: number;
  readonly open: number;
  readonly high: number;
  readonly low: number;
  readonly close: number;
  readonly volume: number;
  readonly vwap: number | null;
  readonly transactions: number | null;
  readonly accumulatedVolume: number | null;
  readonly officialOpen: number | null;
  readonly dayVwap: number | null;
  readonly averageTradeSize: number | null;
  readonly otc: boolean;
  readonly source: string;
  readonly ingestedAtMs: number;
}

export interface SymbolValue {
  readonly ticker: string;
  readonly name: string;
  readonly market: string;
  readonly locale: string;
  readonly type: string | null;
  readonly active: boolean;
  readonly primaryExchange: string | null;
  readonly currencyName: string | null;
  readonly cik: string | null;
  readonly compositeFigi: string | null;
  readonly shareClassFigi: string | null;
  readonly marketCap: number | null;
  readonly sharesOutstanding: number | null;
  readonly sicCode: string | null;
  readonly sicDescription: string | null;
  readonly sector: string | null;
  readonly listDate: string | null;
  readonly updatedAtMs: number;
}

export interface FundamentalsValue {
  readonly symbol: string;
  readonly asOfDate: string;
  readonly fiscalPeriod: string | null;
  readonly fiscalYear: number | null;
  readonly eps: number | null;
  readonly epsEstimate: number | null;
  readonly epsSurprisePct: number | null;
  readonly revenue: number | null;
  readonly revenueYoYGrowthPct: number | null;
  readonly marketCap: number | null;
  readonly priceToEarnings: number | null;
  readonly priceToBook: number | null;
  readonly evToEbitda: number | null;
  readonly dividendYield: number | null;
  readonly debtToEquity: number | null;
  readonly source: string;
  readonly updatedAtMs: number;
}
