import type { AggregateRecord, FmvRecord, IngestTopic, LuldRecord, QuoteRecord, RecordValue, TradeRecord } from './records.js';

/**
 * The Massive stocks WebSocket wire format and its normalisation into our Avro records. Pure.
 * Validation is hand-written rather than zod: it runs on every event at 100k events/s.
 */

export type WireItem = Record<string, unknown>;

export interface StatusItem {
  readonly ev: 'status';
  readonly status: string;
  readonly message: string;
}

export type FrameParse = { readonly ok: true; readonly items: readonly unknown[] } | { readonly ok: false; readonly reason: string };

/** A server frame is a JSON array of items; anything else is garbage. */
export function parseFrame(text: string): FrameParse {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    return { ok: false, reason: `frame is not JSON: ${(error as Error).message}` };
  }
  if (!Array.isArray(parsed)) return { ok: false, reason: 'frame is not a JSON array' };
  return { ok: true, items: parsed };
}

export function isStatusItem(item: unknown): item is StatusItem {
  // A status item with a non-string status or message is malformed (dead-lettered as such): String() on
  // arbitrary JSON objects can throw, which would escape the socket handler.
  if (typeof item !== 'object' || item === null || (item as WireItem).ev !== 'status') return false;
  const { status, message } = item as WireItem;
  return typeof status === 'string' && (message === undefined || message === null || typeof message === 'string');
}

/** Wire timestamps are ms (SIP), but FMV and flat files use ns; some feeds use µs. Normalise by magnitude. */
export function toMillis(timestamp: number): number {
  if (timestamp >= 1e17) return Math.floor(timestamp / 1e6);
  if (timestamp >= 1e14) return Math.floor(timestamp / 1e3);
  return Math.floor(timestamp);
}

/** Channel (wire `ev`) a data item belongs to; the dedup key and the subscription prefix. */
export type Channel = 'T' | 'Q' | 'A' | 'AM' | 'LULD' | 'FMV';

export type Normalised =
  | {
      readonly ok: true;
      readonly channel: Channel;
      readonly topic: IngestTopic;
      readonly symbol: string;
      /** Per-symbol sequence number when the event has one (T, Q, LULD), else the window start (A, AM) or ns time (FMV). */
      readonly sequence: number;
      readonly eventTimeMs: number;
      readonly value: RecordValue;
    }
  | { readonly ok: false; readonly reason: string; readonly symbol?: string };

class FieldError extends Error {}

function num(item: WireItem, field: string): number {
  const value = item[field];
  if (typeof value !== 'number' || !Number.isFinite(value)) throw new FieldError(`field ${field} is not a finite number`);
  return value;
}

function int(item: WireItem, field: string): number {
  const value = num(item, field);
  if (!Number.isInteger(value)) throw new FieldError(`field ${field} is not an integer`);
  return value;
}

function optionalNum(item: WireItem, field: string): number | null {
  return item[field] === undefined || item[field] === null ? null : num(item, field);
}

function optionalInt(item: WireItem, field: string): number | null {
  return item[field] === undefined || item[field] === null ? null : int(item, field);
}

function str(item: WireItem, field: string): string {
  const value = item[field];
  if (typeof value !== 'string' || value.length === 0) throw new FieldError(`field ${field} is not a non-empty string`);
  return value;
}

function intArray(item: WireItem, field: string): number[] {
  const value = item[field];
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value) || !value.every((entry) => Number.isInteger(entry)))
    throw new FieldError(`field ${field} is not an integer array`);
  return value as number[];
}

function price(item: WireItem, field: string): number {
  const value = num(item, field);
  if (value < 0) throw new FieldError(`field ${field} is negative`);
  return value;
}

function normaliseTrade(item: WireItem, symbol: string, source: string, nowMs: number): TradeRecord {
  const rawId = item.i;
  if (typeof rawId !== 'string' && typeof rawId !== 'number') throw new FieldError('field i is not a string or number');
  const fractional = item.ds;
  if (fractional !== undefined && fractional !== null && typeof fractional !== 'string') throw new FieldError('field ds is not a string');
  const size = item.s === undefined && typeof fractional === 'string' ? 0 : int(item, 's');
  if (size < 0) throw new FieldError('field s is negative');
  const trfTime = optionalNum(item, 'trft');
  return {
    symbol,
    exchange: int(item, 'x'),
    tradeId: String(rawId),
    tape: item.z === undefined ? 0 : int(item, 'z'),
    price: price(item, 'p'),
    size,
    fractionalSize: typeof fractional === 'string' ? fractional : null,
    conditions: intArray(item, 'c'),
    sipTimestampMs: toMillis(num(item, 't')),
    sequence: int(item, 'q'),
    trfId: optionalInt(item, 'trfi'),
    trfTimestampMs: trfTime === null ? null : toMillis(trfTime),
    source,
    ingestedAtMs: nowMs,
  };
}

function normaliseQuote(item: WireItem, symbol: string, source: string, nowMs: number): QuoteRecord {
  return {
    symbol,
    bidExchange: int(item, 'bx'),
    bidPrice: price(item, 'bp'),
    bidSize: int(item, 'bs'),
    askExchange: int(item, 'ax'),
    askPrice: price(item, 'ap'),
    askSize: int(item, 'as'),
    condition: optionalInt(item, 'c'),
    indicators: intArray(item, 'i'),
    sipTimestampMs: toMillis(num(item, 't')),
    sequence: int(item, 'q'),
    tape: item.z === undefined ? 0 : int(item, 'z'),
    source,
    ingestedAtMs: nowMs,
  };
}

function normaliseAggregate(item: WireItem, symbol: string, interval: 'SECOND' | 'MINUTE', source: string, nowMs: number): AggregateRecord {
  const open = price(item, 'o');
  const high = price(item, 'h');
  const low = price(item, 'l');
  const close = price(item, 'c');
  if (high < low || high < Math.max(open, close) || low > Math.min(open, close))
    throw new FieldError('bar is inconsistent (high/low do not bound open/close)');
  const start = toMillis(num(item, 's'));
  const end = toMillis(num(item, 'e'));
  if (end <= start) throw new FieldError('bar window end is not after its start');
  const volume = num(item, 'v');
  if (volume < 0) throw new FieldError('field v is negative');
  return {
    symbol,
    interval,
    windowStartMs: start,
    windowEndMs: end,
    open,
    high,
    low,
    close,
    volume,
    vwap: optionalNum(item, 'vw'),
    transactions: optionalInt(item, 'n'),
    accumulatedVolume: optionalNum(item, 'av'),
    officialOpen: optionalNum(item, 'op'),
    dayVwap: optionalNum(item, 'a'),
    averageTradeSize: optionalNum(item, 'z'),
    otc: item.otc === true,
    source,
    ingestedAtMs: nowMs,
  };
}

function normaliseLuld(item: WireItem, symbol: string, nowMs: number): LuldRecord {
  return {
    symbol,
    limitUp: price(item, 'h'),
    limitDown: price(item, 'l'),
    indicators: intArray(item, 'i'),
    tape: item.z === undefined ? 0 : int(item, 'z'),
    timestampMs: toMillis(num(item, 't')),
    sequence: int(item, 'q'),
    ingestedAtMs: nowMs,
  };
}

function normaliseFmv(item: WireItem, symbol: string, nowMs: number): FmvRecord {
  const timestamp = num(item, 't');
  // FMV's wire time is ns; keep the exact ns (a double holds it to ~256 ns) and the ms.
  const timestampNs = timestamp >= 1e17 ? Math.round(timestamp) : Math.round(timestamp * 1e6);
  return { symbol, fmv: price(item, 'fmv'), timestampNs, timestampMs: toMillis(timestamp), ingestedAtMs: nowMs };
}

/** Normalises one data item (not a status item) of a frame; never throws. */
export function normaliseItem(raw: unknown, source: string, nowMs: number): Normalised {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return { ok: false, reason: 'item is not an object' };
  const item = raw as WireItem;
  const ev = item.ev;
  if (typeof ev !== 'string') return { ok: false, reason: 'item has no ev field' };
  const symbolField = ev === 'LULD' ? 'T' : 'sym';
  const symbolValue = item[symbolField];
  const symbol = typeof symbolValue === 'string' && symbolValue.length > 0 ? symbolValue : undefined;
  try {
    switch (ev) {
      case 'T': {
        const value = normaliseTrade(item, str(item, 'sym'), source, nowMs);
        return {
          ok: true,
          channel: 'T',
          topic: 'trades',
          symbol: value.symbol,
          sequence: value.sequence,
          eventTimeMs: value.sipTimestampMs,
          value,
        };
      }
      case 'Q': {
        const value = normaliseQuote(item, str(item, 'sym'), source, nowMs);
        return {
          ok: true,
          channel: 'Q',
          topic: 'quotes',
          symbol: value.symbol,
          sequence: value.sequence,
          eventTimeMs: value.sipTimestampMs,
          value,
        };
      }
      case 'A':
      case 'AM': {
        const interval = ev === 'A' ? 'SECOND' : 'MINUTE';
        const value = normaliseAggregate(item, str(item, 'sym'), interval, source, nowMs);
        return {
          ok: true,
          channel: ev,
          topic: ev === 'A' ? 'secondAggregates' : 'minuteAggregates',
          symbol: value.symbol,
          sequence: value.windowStartMs,
          eventTimeMs: value.windowEndMs,
          value,
        };
      }
      case 'LULD': {
        const value = normaliseLuld(item, str(item, 'T'), nowMs);
        return {
          ok: true,
          channel: 'LULD',
          topic: 'luld',
          symbol: value.symbol,
          sequence: value.sequence,
          eventTimeMs: value.timestampMs,
          value,
        };
      }
      case 'FMV': {
        const value = normaliseFmv(item, str(item, 'sym'), nowMs);
        return {
          ok: true,
          channel: 'FMV',
          topic: 'fmv',
          symbol: value.symbol,
          sequence: value.timestampNs,
          eventTimeMs: value.timestampMs,
          value,
        };
      }
      default:
        return { ok: false, reason: `unknown event type ${JSON.stringify(ev).slice(0, 40)}`, ...(symbol ? { symbol } : {}) };
    }
  } catch (error) {
    if (error instanceof FieldError) return { ok: false, reason: `malformed ${ev} event: ${error.message}`, ...(symbol ? { symbol } : {}) };
    throw error;
  }
}
