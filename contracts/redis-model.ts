/**
 * The pure core of the Redis read model: pattern events and bars in, Redis writes out. The adapter runs the
 * writes in one MULTI together with the consumed offsets.
 */
import { aheadOfWatermark, DEFAULT_MAX_EVENT_TIME_SKEW_MS } from '../platform/event-time.js';
import { LATEST_EVENTS_PER_SYMBOL, tierKey, type RedisKeys } from './redis-keys.js';
import type { AggregateValue, PatternEventValue } from './values.js';

export type RedisWrite =
  | { readonly op: 'set'; readonly key: string; readonly value: string; readonly ttlSeconds?: number }
  | { readonly op: 'zadd'; readonly key: string; readonly score: number; readonly member: string }
  | { readonly op: 'zrem'; readonly key: string; readonly member: string }
  | { readonly op: 'ztrim'; readonly key: string; readonly keep: number }
  | { readonly op: 'hset'; readonly key: string; readonly fields: Readonly<Record<string, string>> }
  | { readonly op: 'del'; readonly key: string }
  | { readonly op: 'incr'; readonly key: string };

/** An expired pattern's state is kept this long for look-ups by id, then Redis drops it. */
export const EXPIRED_PATTERN_TTL_SECONDS = 7 * 24 * 3600;

/** The JSON of a pattern's current state (the `patterns` table's row, camel-cased). */
export interface PatternState {
  readonly patternId: string;
  readonly status: 'active' | 'expired';
  readonly lastEventId: string;
  readonly lastKind: PatternEventValue['kind'];
  readonly pattern: string;
  readonly definitionVersion: number;
  readonly tier: PatternEventValue['tier'];
  readonly direction: PatternEventValue['direction'];
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
}

export function patternState(event: PatternEventValue): PatternState {
  return {
    patternId: event.patternId,
    status: event.kind === 'EXPIRED' ? 'expired' : 'active',
    lastEventId: event.eventId,
    lastKind: event.kind,
    pattern: event.pattern,
    definitionVersion: event.definitionVersion,
    tier: event.tier,
    direction: event.direction,
    symbol: event.symbol,
    detectedAtMs: event.detectedAtMs,
    expiresAtMs: event.expiresAtMs,
    confidence: event.confidence,
    baseConfidence: event.baseConfidence,
    fundamentalAdjustment: event.fundamentalAdjustment,
    fundamentalReasons: event.fundamentalReasons,
    price: event.price,
    change: event.change,
    changePct: event.changePct,
    volume: event.volume,
    relativeStrength: event.relativeStrength,
    relativeVolume: event.relativeVolume,
    rsi: event.rsi,
    levels: event.levels,
  };
}

/** Writes for pattern events, in log order: current state, scan sets, latest events per symbol. */
export function patternWrites(keys: RedisKeys, events: readonly PatternEventValue[]): RedisWrite[] {
  const writes: RedisWrite[] = [];
  const touchedEvents = new Set<string>();
  for (const event of events) {
    const state = patternState(event);
    const scanKeys = keys.scanKeysFor(event.pattern, tierKey(event.tier));
    if (state.status === 'active') {
      writes.push({ op: 'set', key: keys.pattern(event.patternId), value: JSON.stringify(state) });
      for (const key of scanKeys) {
        const score = key.includes(':scan:confidence:') ? event.confidence : event.detectedAtMs;
        writes.push({ op: 'zadd', key, score, member: event.patternId });
      }
    } else {
      writes.push({ op: 'set', key: keys.pattern(event.patternId), value: JSON.stringify(state), ttlSeconds: EXPIRED_PATTERN_TTL_SECONDS });
      for (const key of scanKeys) writes.push({ op: 'zrem', key, member: event.patternId });
    }
    const eventsKey = keys.symbolEvents(event.symbol);
    // The member is the whole event: ZADD of the same event again is a no-op, so replays do not duplicate.
    writes.push({
      op: 'zadd',
      key: eventsKey,
      score: event.detectedAtMs,
      member: JSON.stringify({ eventId: event.eventId, kind: event.kind, ...state }),
    });
    touchedEvents.add(eventsKey);
  }
  for (const key of touchedEvents) writes.push({ op: 'ztrim', key, keep: LATEST_EVENTS_PER_SYMBOL });
  return writes;
}

// ---------------------------------------------------------------------------------------------------------------
// Symbol snapshots

/** A symbol's snapshot as stored in its hash (all numbers; absent fields are unknown). */
export interface SymbolSnapshot {
  readonly barStartMs?: number;
  readonly open?: number;
  readonly high?: number;
  readonly low?: number;
  readonly close?: number;
  readonly volume?: number;
  readonly vwap?: number;
  readonly dayVolume?: number;
  readonly dailyStartMs?: number;
  readonly dailyClose?: number;
  readonly previousDailyStartMs?: number;
  readonly previousDailyClose?: number;
  /** Latest price: the last minute close, or the last daily close when no later minute bar is known. */
  readonly price?: number;
  /** Close of the last session before the price's session. */
  readonly previousClose?: number;
  readonly change?: number;
  readonly changePct?: number;
}

const SNAPSHOT_FIELDS = [
  'barStartMs',
  'open',
  'high',
  'low',
  'close',
  'volume',
  'vwap',
  'dayVolume',
  'dailyStartMs',
  'dailyClose',
  'previousDailyStartMs',
  'previousDailyClose',
  'price',
  'previousClose',
  'change',
  'changePct',
] as const satisfies readonly (keyof SymbolSnapshot)[];

export function parseSnapshot(hash: Readonly<Record<string, string>>): SymbolSnapshot {
  const snapshot: Record<string, number> = {};
  for (const field of SNAPSHOT_FIELDS) {
    const text = hash[field];
    if (text === undefined) continue;
    const value = Number(text);
    if (Number.isFinite(value)) snapshot[field] = value;
  }
  return snapshot;
}

export function snapshotFields(snapshot: SymbolSnapshot): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const field of SNAPSHOT_FIELDS) {
    const value = snapshot[field];
    if (value !== undefined) fields[field] = String(value);
  }
  return fields;
}

const DAY_MS = 24 * 3600 * 1000;
const dayOf = (ms: number) => Math.floor(ms / DAY_MS);

/** Derives price, previous close and change from the bars in the snapshot. */
function withChange(snapshot: SymbolSnapshot): SymbolSnapshot {
  const { barStartMs, close, dailyStartMs, dailyClose, previousDailyStartMs, previousDailyClose } = snapshot;
  let price: number | undefined;
  let priceDay: number | undefined;
  if (barStartMs !== undefined && close !== undefined && (dailyStartMs === undefined || dayOf(barStartMs) >= dayOf(dailyStartMs))) {
    price = close;
    priceDay = dayOf(barStartMs);
  } else if (dailyStartMs !== undefined && dailyClose !== undefined) {
    price = dailyClose;
    priceDay = dayOf(dailyStartMs);
  }
  let previousClose: number | undefined;
  if (priceDay !== undefined) {
    if (dailyStartMs !== undefined && dailyClose !== undefined && dayOf(dailyStartMs) < priceDay) previousClose = dailyClose;
    else if (previousDailyStartMs !== undefined && previousDailyClose !== undefined && dayOf(previousDailyStartMs) < priceDay)
      previousClose = previousDailyClose;
  }
  const { price: _p, previousClose: _pc, change: _c, changePct: _cp, ...bars } = snapshot;
  if (price === undefined) return bars;
  if (previousClose === undefined) return { ...bars, price };
  const change = price - previousClose;
  return { ...bars, price, previousClose, change, changePct: previousClose === 0 ? 0 : (change / previousClose) * 100 };
}

/**
 * Folds one bar (minute or daily) into a symbol's snapshot. Older bars never overwrite newer ones, so a bar
 * stamped far ahead (a year, with ingest's clock not vouching for it; see aheadOfWatermark) is not folded:
 * it would hide every later bar of the symbol.
 */
export function foldBar(snapshot: SymbolSnapshot, bar: AggregateValue): SymbolSnapshot {
  const latest = bar.interval === 'MINUTE' ? snapshot.barStartMs : snapshot.dailyStartMs;
  if (latest !== undefined && aheadOfWatermark(bar.windowStartMs, latest, DEFAULT_MAX_EVENT_TIME_SKEW_MS, bar.ingestedAtMs) > 0)
    return snapshot;
  if (bar.interval === 'MINUTE') {
    if (snapshot.barStartMs !== undefined && bar.windowStartMs < snapshot.barStartMs) return snapshot;
    const next: SymbolSnapshot = {
      ...snapshot,
      barStartMs: bar.windowStartMs,
      open: bar.open,
      high: bar.high,
      low: bar.low,
      close: bar.close,
      volume: bar.volume,
      ...(bar.vwap === null ? { vwap: undefined } : { vwap: bar.vwap }),
      ...(bar.accumulatedVolume === null ? { dayVolume: undefined } : { dayVolume: bar.accumulatedVolume }),
    };
    return withChange(stripUndefined(next));
  }
  if (bar.interval !== 'DAY') return snapshot;
  const day = dayOf(bar.windowStartMs);
  const current = snapshot.dailyStartMs === undefined ? undefined : dayOf(snapshot.dailyStartMs);
  const previous = snapshot.previousDailyStartMs === undefined ? undefined : dayOf(snapshot.previousDailyStartMs);
  let next: SymbolSnapshot = snapshot;
  if (current === undefined || day === current) {
    next = { ...snapshot, dailyStartMs: bar.windowStartMs, dailyClose: bar.close };
  } else if (day > current) {
    next = {
      ...snapshot,
      dailyStartMs: bar.windowStartMs,
      dailyClose: bar.close,
      previousDailyStartMs: snapshot.dailyStartMs,
      previousDailyClose: snapshot.dailyClose,
    };
  } else if (previous === undefined || day >= previous) {
    // A backfilled session between the previous and the latest one.
    next = { ...snapshot, previousDailyStartMs: bar.windowStartMs, previousDailyClose: bar.close };
  }
  return withChange(next);
}

function stripUndefined(snapshot: SymbolSnapshot): SymbolSnapshot {
  return Object.fromEntries(Object.entries(snapshot).filter(([, value]) => value !== undefined)) as SymbolSnapshot;
}
