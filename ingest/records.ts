/** TypeScript shapes of the Avro values ingest writes (schemas/*.avsc); field names match the schemas. */
export type BarInterval = 'SECOND' | 'MINUTE' | 'DAY';

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

/** The topics ingest writes market and reference data to (keys of platform TOPICS). */
export type IngestTopic =
  | 'trades'
  | 'quotes'
  | 'secondAggregates'
  | 'minuteAggregates'
  | 'dailyAggregates'
  | 'luld'
  | 'fmv'
  | 'symbols'
  | 'fundamentals';

export type RecordValue =
  | TradeRecord
  | QuoteRecord
  | AggregateRecord
  | LuldRecord
  | FmvRecord
  | SymbolRecord
  | FundamentalsRecord;

/** One value to produce: its topic, its key (the symbol) and its event time (for the lag metric). */
export interface OutRecord {
  readonly topic: IngestTopic;
  readonly key: string;
  readonly value: RecordValue;
  /** Event time in ms; the lag metric is produce time minus this. */
  readonly eventTimeMs: number;
}

/** A dead letter to produce: keyed by the symbol when known, else by the source. */
export interface DeadLetterOut {
  readonly key: string;
  readonly value: DeadLetterRecord;
}

export function deadLetter(
  source: string,
  reason: string,
  raw: string | Buffer,
  receivedAtMs: number,
  symbol?: string,
  details: string | null = null,
): DeadLetterOut {
  return { key: symbol ?? source, value: {
    stage: 'ingest',
    source,
    reason,
    details,
    rawPayload: typeof raw === 'string' ? Buffer.from(raw, 'utf8') : raw,
    sourceTopic: null,
    sourcePartition: null,
    sourceOffset: null,
    receivedAtMs,
  } };
}
