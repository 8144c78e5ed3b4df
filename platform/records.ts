/**
 * TypeScript shapes of the Avro values in schemas/ (one interface per schema), shared by every stage
 * that produces or reads them. Field names and nullability follow the .avsc files exactly.
 */
export type BarInterval = 'SECOND' | 'MINUTE' | 'DAY';
/** Pattern tiers (the pattern-event schema's enum): defined here once; the processors' catalog and the API's scan use it. */
export type Tier = 'INTRADAY' | 'DAILY' | 'COMBO';

export interface TradeRecord {
  symbol: string;
  exchange: number;
  tradeId: string;
  tape: number;
  price: number;
  size: number;
  fractionalSize: string | null;
  conditions: number[];
  sipTimestampMs: number;
  sequence: number;
  trfId: number | null;
  trfTimestampMs: number | null;
  source: string;
  ingestedAtMs: number;
}

export interface QuoteRecord {
  symbol: string;
  bidExchange: number;
  bidPrice: number;
  bidSize: number;
  askExchange: number;
  askPrice: number;
  askSize: number;
  condition: number | null;
  indicators: number[];
  sipTimestampMs: number;
  sequence: number;
  tape: number;
  source: string;
  ingestedAtMs: number;
}

export interface AggregateRecord {
  symbol: string;
  interval: BarInterval;
  windowStartMs: number;
  windowEndMs: number;
  open: number;
  high: number;
  low: number;
  close: number;
  volume: number;
  vwap: number | null;
  transactions: number | null;
  accumulatedVolume: number | null;
  officialOpen: number | null;
  dayVwap: number | null;
  averageTradeSize: number | null;
  otc: boolean;
  source: string;
  ingestedAtMs: number;
}

export interface LuldRecord {
  symbol: string;
  limitUp: number;
  limitDown: number;
  indicators: number[];
  tape: number;
  timestampMs: number;
  sequence: number;
  ingestedAtMs: number;
}

export interface FmvRecord {
  symbol: string;
  fmv: number;
  timestampNs: number;
  timestampMs: number;
  ingestedAtMs: number;
}

export interface SymbolRecord {
  ticker: string;
  name: string;
  market: string;
  locale: string;
  type: string | null;
  active: boolean;
  primaryExchange: string | null;
  currencyName: string | null;
  cik: string | null;
  compositeFigi: string | null;
  shareClassFigi: string | null;
  marketCap: number | null;
  sharesOutstanding: number | null;
  sicCode: string | null;
  sicDescription: string | null;
  sector: string | null;
  listDate: string | null;
  updatedAtMs: number;
}

export interface FundamentalsRecord {
  symbol: string;
  asOfDate: string;
  fiscalPeriod: string | null;
  fiscalYear: number | null;
  eps: number | null;
  epsEstimate: number | null;
  epsSurprisePct: number | null;
  revenue: number | null;
  revenueYoYGrowthPct: number | null;
  marketCap: number | null;
  priceToEarnings: number | null;
  priceToBook: number | null;
  evToEbitda: number | null;
  dividendYield: number | null;
  debtToEquity: number | null;
  source: string;
  updatedAtMs: number;
}

export interface DeadLetterRecord {
  stage: string;
  source: string;
  reason: string;
  details: string | null;
  rawPayload: Buffer;
  sourceTopic: string | null;
  sourcePartition: number | null;
  sourceOffset: number | null;
  receivedAtMs: number;
}

/** schemas/ingest-checkpoint.avsc */
export interface IngestCheckpointRecord {
  job: string;
  symbol: string;
  nextUrl: string | null;
  done: boolean;
  updatedAtMs: number;
}

/** The topics ingest writes market and reference data to (keys of platform TOPICS). */

/** schemas/pattern-event.avsc */
export interface PatternEventRecord {
  eventId: string;
  kind: 'DETECTED' | 'UPDATED' | 'EXPIRED';
  patternId: string;
  pattern: string;
  definitionVersion: number;
  tier: Tier;
  direction: 'BULLISH' | 'BEARISH' | 'NEUTRAL';
  symbol: string;
  detectedAtMs: number;
  expiresAtMs: number;
  confidence: number;
  baseConfidence: number;
  fundamentalAdjustment: number;
  fundamentalReasons: string[];
  price: number;
  change: number | null;
  changePct: number | null;
  volume: number;
  relativeStrength: number | null;
  relativeVolume: number | null;
  rsi: number | null;
  levels: Record<string, number>;
  sourceTopic: string;
  sourcePartition: number;
  sourceOffset: number;
}
