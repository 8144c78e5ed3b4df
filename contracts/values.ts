/**
 * The decoded Avro values the projections read (schemas/*.avsc). Timestamps are epoch milliseconds; optional
 * fields decode to null.
 */
import type { AggregateRecord, FundamentalsRecord, PatternEventRecord, SymbolRecord } from '../platform/records.js';

export type PatternEventValue = Readonly<PatternEventRecord>;

export type AggregateValue = Readonly<AggregateRecord>;

export type SymbolValue = Readonly<SymbolRecord>;

export type FundamentalsValue = Readonly<FundamentalsRecord>;
