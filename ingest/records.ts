import type {
  BarInterval,
  TradeRecord,
  QuoteRecord,
  AggregateRecord,
  LuldRecord,
  FmvRecord,
  SymbolRecord,
  FundamentalsRecord,
  DeadLetterRecord,
} from '../platform/records.js';

export type {
  BarInterval,
  TradeRecord,
  QuoteRecord,
  AggregateRecord,
  LuldRecord,
  FmvRecord,
  SymbolRecord,
  FundamentalsRecord,
  DeadLetterRecord,
};

export type IngestTopic =
  'trades' | 'quotes' | 'secondAggregates' | 'minuteAggregates' | 'dailyAggregates' | 'luld' | 'fmv' | 'symbols' | 'fundamentals';

export type RecordValue = TradeRecord | QuoteRecord | AggregateRecord | LuldRecord | FmvRecord | SymbolRecord | FundamentalsRecord;

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
  return {
    key: symbol ?? source,
    value: {
      stage: 'ingest',
      source,
      reason,
      details,
      rawPayload: typeof raw === 'string' ? Buffer.from(raw, 'utf8') : raw,
      sourceTopic: null,
      sourcePartition: null,
      sourceOffset: null,
      receivedAtMs,
    },
  };
}
