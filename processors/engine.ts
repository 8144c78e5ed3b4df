import { gunzipSync, gzipSync } from 'node:zlib';
import { SessionCalendar } from '../contracts/calendar.js';
import { COMBO_TRIGGERS, PATTERN_VERSIONS, type Tier } from './catalog.js';
import { createHistory, historyAt, pushHistory, type History } from './indicators.js';
import { DEFAULT_MAX_EVENT_TIME_SKEW_MS } from '../platform/event-time.js';
import { barRejection, isAdmissibleBar, type Rejection } from './input-guard.js';
import {
  DAILY_PARAMS,
  DETECTION,
  INTRADAY_PARAMS,
  createSeries,
  levelsOf,
  SERIES_INPUT,
  updateSeriesFromInput,
  type Direction,
  type PatternSink,
  type SeriesParams,
  type SeriesState,
} from './series.js';

/**
 * Bumped whenever the serialised state changes shape or meaning; older snapshots are then ignored (full
 * replay). 4: the series keeps the last non-zero MA/MACD spreads and the Bollinger stats an equal-run count,
 * and definition changes (candle gate, Bollinger, flat RSI) make state built by 3 disagree with what this
 * version builds from the same log.
 */
export const ENGINE_VERSION = 4;

const HOUR_MS = 3_600_000;
/** How much a repeat must raise the base confidence of an active pattern to be reported (UPDATED). */
const UPDATE_MIN_GAIN = 0.05;
/**
 * Emissions of one activation: DETECTED, then UPDATED only when the base confidence (within [0, 1]) rose by
 * UPDATE_MIN_GAIN. Each one queues an expiry, so this bounds the expiry queue per active pattern.
 */
export const MAX_EMISSIONS_PER_ACTIVATION = 1 + Math.ceil(1 / UPDATE_MIN_GAIN);

const DAY_MS = 86_400_000;

export type { BarInterval } from '../platform/records.js';
import type { BarInterval, PatternEventRecord as SchemaPatternEventRecord } from '../platform/records.js';

/** The fields of an aggregate (schemas/aggregate.avsc) the engine reads. */
export interface BarInput {
  readonly symbol: string;
  readonly interval: BarInterval;
  readonly windowStartMs: number;
  readonly windowEndMs: number;
  readonly open: number;
  readonly high: number;
  readonly low: number;
  readonly close: number;
  readonly volume: number;
  /** `trades` marks bars built from trades; they are ignored for symbols that have native bars. */
  readonly source: string;
  /** Ingest's wall clock when the bar was read: vouches for a bar far ahead of the clock (see input-guard.ts). */
  readonly ingestedAtMs?: number;
}

/** Where the input record came from; copied into the events it completes. */
export interface SourceRef {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
}

/** The fields of schemas/fundamentals.avsc the overlay reads. */
export interface FundamentalsInput {
  readonly symbol: string;
  readonly asOfDate: string;
  readonly eps?: number | null;
  readonly epsEstimate?: number | null;
  readonly epsSurprisePct?: number | null;
  readonly revenueYoYGrowthPct?: number | null;
}

export interface FundamentalsLookup {
  /** The symbol's record in force on `date` (YYYY-MM-DD): the latest with `asOfDate <= date`. */
  get(symbol: string, date: string): FundamentalsInput | undefined;
}

export type PatternEventKind = 'DETECTED' | 'UPDATED' | 'EXPIRED';

/** A value of the patterns topic (schemas/pattern-event.avsc). */
/** An event of schemas/pattern-event.avsc, as the engine emits it. */
export type PatternEventRecord = SchemaPatternEventRecord;

export interface EngineOptions {
  readonly calendar?: SessionCalendar;
  readonly benchmarkSymbol?: string;
  readonly intradayParams?: SeriesParams;
  readonly dailyParams?: SeriesParams;
  /** Intraday patterns live this long, but never past the session close. */
  readonly intradayTtlMs?: number;
  readonly dailyTtlMs?: number;
  /** Sessions over which relative strength is measured. */
  readonly relativeStrengthSessions?: number;
  readonly fundamentals?: FundamentalsLookup;
  /** How far ahead of the engine's clock one bar may move it (unless its ingestion time vouches for it). */
  readonly maxEventTimeSkewMs?: number;
  /**
   * Symbols with state at most (PROCESSOR_MAX_SYMBOLS_PER_PARTITION): a bar of a new symbol beyond it is rejected
   * (`symbol-limit`, dead-lettered), so a flood of unknown symbols cannot grow the engine without bound.
   */
  readonly maxSymbols?: number;
}

/** The default of PROCESSOR_MAX_SYMBOLS_PER_PARTITION. */
export const DEFAULT_MAX_SYMBOLS_PER_PARTITION = 20_000;

export type BarOutcome = 'applied' | 'invalid' | 'duplicate' | 'outside-session' | 'ignored';

interface SymbolState {
  symbol: string;
  hasNativeBars: boolean;
  /** Only broadcast copies seen (the benchmark outside its home partition): never emits. */
  copyOnly: boolean;
  intraday: SeriesState;
  daily: SeriesState;
  buildDay: number;
  buildOpen: number;
  buildHigh: number;
  buildLow: number;
  buildClose: number;
  buildVolume: number;
  buildOpenMs: number;
  buildCloseMs: number;
  previousSessionClose: number;
  lastPrice: number;
  lastPriceFinal: boolean;
  dailyCloses: History;
  /** Catalog slots of the active DAILY patterns, in detection order (combo confirmation picks the first best). */
  activeDaily: number[];
  /** The active pattern of each catalog slot (pattern × tier × direction), null when none. Not in the snapshot's symbol part. */
  actives: (ActivePattern | null)[];
  /**
   * Base confidence of the active pattern of each slot, −1 when none: what a repeat is compared with,
   * read without chasing pattern → record → number (most detections are absorbed repeats). Rebuilt on restore.
   */
  activeBase: Float64Array;
}

interface ActivePattern {
  symbol: string;
  slot: number;
  patternId: string;
  /** Sequence number of the latest DETECTED/UPDATED; an expiry-heap entry with another seq is stale. */
  seq: number;
  expiresAtMs: number;
  /** The latest event emitted for the pattern (its EXPIRED event repeats it). */
  last: PatternEventRecord;
  /** Hash lanes after the patternId's text: `stableId(patternId, kind, time)` from here needs only the numbers. */
  id1: number;
  id2: number;
  id3: number;
  id4: number;
}

/**
 * A deterministic 128-bit id (cyrb128: four mixed 32-bit lanes) as 32 hex digits, over a text and up
 * to two numbers (mixed in as 32-bit halves, so no number is turned into a string). Not cryptographic:
 * ids only need to be stable and collision-free in practice; sha256 cost more than the whole bar.
 */
export function stableId(text: string, first = 0, second = 0): string {
  return hashOf(text, '', first, second);
}

/** `stableId(head + tail, first, second)` without building the concatenated string. */
function hashOf(head: string, tail: string, first: number, second: number): string {
  const lanes = lanesOf(head);
  absorbText(lanes, tail);
  return finishHash(lanes[0]!, lanes[1]!, lanes[2]!, lanes[3]!, first, second);
}

/** The hash lanes after `text` alone: an event id then costs only its two numbers (see ActivePattern). */
function lanesOf(text: string): Int32Array {
  const lanes = HASH_LANES;
  lanes[0] = 1779033703;
  lanes[1] = 3144134277;
  lanes[2] = 1013904242;
  lanes[3] = 2773480762;
  absorbText(lanes, text);
  return lanes;
}

/** cyrb128 rounds over the characters of `text`. Every lane goes through ToInt32, so Int32Array storage changes nothing. */
function absorbText(lanes: Int32Array, text: string): void {
  let h1 = lanes[0]!;
  let h2 = lanes[1]!;
  let h3 = lanes[2]!;
  let h4 = lanes[3]!;
  for (let i = 0; i < text.length; i += 1) {
    const k = text.charCodeAt(i);
    h1 = h2 ^ Math.imul(h1 ^ k, 597399067);
    h2 = h3 ^ Math.imul(h2 ^ k, 2869860233);
    h3 = h4 ^ Math.imul(h3 ^ k, 951274213);
    h4 = h1 ^ Math.imul(h4 ^ k, 2716044179);
  }
  lanes[0] = h1;
  lanes[1] = h2;
  lanes[2] = h3;
  lanes[3] = h4;
}

/** The rounds over the two numbers (as 32-bit halves), the final mix, and the hex digits. */
function finishHash(h1: number, h2: number, h3: number, h4: number, first: number, second: number): string {
  for (let i = 0; i < 4; i += 1) {
    const k =
      i === 0
        ? first % 4294967296
        : i === 1
          ? Math.floor(first / 4294967296)
          : i === 2
            ? second % 4294967296
            : Math.floor(second / 4294967296);
    h1 = h2 ^ Math.imul(h1 ^ k, 597399067);
    h2 = h3 ^ Math.imul(h2 ^ k, 2869860233);
    h3 = h4 ^ Math.imul(h3 ^ k, 951274213);
    h4 = h1 ^ Math.imul(h4 ^ k, 2716044179);
  }
  h1 = Math.imul(h3 ^ (h1 >>> 18), 597399067);
  h2 = Math.imul(h4 ^ (h2 >>> 22), 2869860233);
  h3 = Math.imul(h1 ^ (h3 >>> 17), 951274213);
  h4 = Math.imul(h2 ^ (h4 >>> 19), 2716044179);
  h1 ^= h2 ^ h3 ^ h4;
  h2 ^= h1;
  h3 ^= h1;
  h4 ^= h1;
  // One native hex conversion instead of building the string from pieces.
  HASH_BYTES.writeUInt32BE(h1 >>> 0, 0);
  HASH_BYTES.writeUInt32BE(h2 >>> 0, 4);
  HASH_BYTES.writeUInt32BE(h3 >>> 0, 8);
  HASH_BYTES.writeUInt32BE(h4 >>> 0, 12);
  return HASH_BYTES.toString('hex');
}

const HASH_LANES = new Int32Array(4);
const HASH_BYTES = Buffer.alloc(16);

const PATTERN_INDEX: ReadonlyMap<string, number> = new Map([...PATTERN_VERSIONS.keys()].map((name, index) => [name, index]));
const TIER_INDEX: Record<Tier, number> = { INTRADAY: 0, DAILY: 1, COMBO: 2 };
const DIRECTION_INDEX: Record<Direction, number> = { BULLISH: 0, BEARISH: 1, NEUTRAL: 2 };
/** Slots are tier-major (tier, pattern, direction): one bar's checks touch one tier's part of a symbol's arrays. */
const TIER_SLOTS = PATTERN_INDEX.size * 3;
const SLOT_COUNT = TIER_SLOTS * 3;
/** Pattern slots per symbol (tier × pattern × direction): the most patterns one symbol can have active at once. */
export const ACTIVE_SLOTS_PER_SYMBOL = SLOT_COUNT;
/** `|tier|pattern|direction` of each slot: a pattern's key is `symbol` + this suffix (hashed into its patternId). */
const SLOT_SUFFIX: readonly string[] = (() => {
  const suffixes = new Array<string>(SLOT_COUNT).fill('');
  for (const [pattern, index] of PATTERN_INDEX) {
    for (const [tier, tierIndex] of Object.entries(TIER_INDEX)) {
      for (const [direction, directionIndex] of Object.entries(DIRECTION_INDEX))
        suffixes[tierIndex * TIER_SLOTS + index * 3 + directionIndex] = `|${tier}|${pattern}|${direction}`;
    }
  }
  return suffixes;
})();
/** Events without fundamental reasons share this (never mutated) empty list. */
const NO_REASONS = Object.freeze([]) as unknown as string[];

function slotOf(pattern: string, tier: Tier, direction: Direction): number {
  // Comparisons of interned literals instead of keyed lookups: this runs for every detection.
  return (
    (tier === 'INTRADAY' ? 0 : tier === 'DAILY' ? TIER_SLOTS : 2 * TIER_SLOTS) +
    PATTERN_INDEX.get(pattern)! * 3 +
    (direction === 'BULLISH' ? 0 : direction === 'BEARISH' ? 1 : 2)
  );
}

function nullable(value: number): number | null {
  return value === value && Number.isFinite(value) ? value : null;
}

/**
 * The pattern engine of one input partition: per-symbol indicator state, the catalog, tier expiry and
 * the fundamental overlay. Pure and deterministic: the events depend only on the sequence of bars fed
 * (and the fundamentals lookup), never on the wall clock; time is the bars' event time.
 */
export class PatternEngine implements PatternSink {
  readonly calendar: SessionCalendar;
  private readonly benchmark: string;
  private readonly intradayParams: SeriesParams;
  private readonly dailyParams: SeriesParams;
  private readonly intradayTtlMs: number;
  private readonly dailyTtlMs: number;
  private readonly rsSessions: number;
  private readonly fundamentals: FundamentalsLookup | undefined;
  private readonly maxSkewMs: number;
  readonly maxSymbols: number;

  private symbols = new Map<string, SymbolState>();
  private benchmarkState: SymbolState | undefined;
  private activePatterns = 0;
  // Expiry min-heap on (at, seq) in parallel arrays: no object per entry. Entries go stale when their
  // pattern is updated (a new entry is pushed) and are skipped when popped.
  private heapAt = new Float64Array(1024);
  private heapSeq = new Float64Array(1024);
  private heapRef: ActivePattern[] = [];
  private heapSize = 0;
  private clock = -1;
  private seq = 0;
  private pendingCloseMs = Number.NaN;

  // Context of the bar being evaluated (the engine is its own PatternSink, so no closure per bar).
  private out: PatternEventRecord[] = [];
  private ctxState: SymbolState | undefined;
  private ctxSeries: SeriesState | undefined;
  private ctxTier: Tier = 'INTRADAY';
  private ctxDetectedAt = 0;
  private ctxSessionCloseMs = 0;
  private ctxPreviousClose = Number.NaN;
  private ctxRef: SourceRef = { topic: '', partition: 0, offset: 0 };
  /**
   * The best base confidence of the bar's combo triggers per direction, −1 when none: a bar's triggers
   * confirm a daily setup once, after all of them fired, so the combo emits one event per bar with the
   * final confidence (not DETECTED at the first trigger's and UPDATED at a later one's).
   */
  private comboBullish = -1;
  private comboBearish = -1;

  constructor(options: EngineOptions = {}) {
    this.calendar = options.calendar ?? new SessionCalendar();
    this.benchmark = options.benchmarkSymbol ?? 'SPY';
    this.intradayParams = options.intradayParams ?? INTRADAY_PARAMS;
    this.dailyParams = options.dailyParams ?? DAILY_PARAMS;
    this.intradayTtlMs = options.intradayTtlMs ?? 2 * HOUR_MS;
    this.dailyTtlMs = options.dailyTtlMs ?? 10 * DAY_MS;
    this.rsSessions = options.relativeStrengthSessions ?? 20;
    this.fundamentals = options.fundamentals;
    this.maxSkewMs = options.maxEventTimeSkewMs ?? DEFAULT_MAX_EVENT_TIME_SKEW_MS;
    this.maxSymbols = options.maxSymbols ?? DEFAULT_MAX_SYMBOLS_PER_PARTITION;
  }

  /** Why `onBar` would reject `bar` ('invalid', state untouched), or undefined (see input-guard.ts). */
  rejectionOf(bar: BarInput): Rejection | undefined {
    const rejection = barRejection(bar, this.clock, this.maxSkewMs);
    if (rejection !== undefined || this.hasRoomFor(bar.symbol)) return rejection;
    return { reason: 'symbol-limit', details: `${this.maxSymbols} symbols already have state in this partition` };
  }

  /** False for a new symbol when maxSymbols symbols already have state. */
  private hasRoomFor(symbol: string): boolean {
    return this.symbols.size < this.maxSymbols || this.symbols.has(symbol);
  }

  /** Number of symbols with state. */
  get symbolCount(): number {
    return this.symbols.size;
  }

  /** Number of patterns currently active (detected and not expired). */
  get activeCount(): number {
    return this.activePatterns;
  }

  /** Entries in the expiry queue: one per emission still due, so at most MAX_EMISSIONS_PER_ACTIVATION per active pattern. */
  get expiryQueueLength(): number {
    return this.heapSize;
  }

  /** The partition's event-time clock: the latest bar start folded (-1 before any). */
  get clockMs(): number {
    return this.clock;
  }

  /**
   * Folds one bar in and appends the events it causes to `out`. `broadcastCopy` marks a copy of the
   * benchmark outside its home partition: it feeds relative strength but never emits its own patterns.
   */
  onBar(bar: BarInput, ref: SourceRef, broadcastCopy: boolean, out: PatternEventRecord[]): BarOutcome {
    // The boolean check, not rejectionOf: the reasons' text is built only when the shell asks why (see isAdmissibleBar).
    if (bar.interval === 'SECOND') return isAdmissibleBar(bar, this.clock, this.maxSkewMs) ? 'ignored' : 'invalid';
    if (!isAdmissibleBar(bar, this.clock, this.maxSkewMs) || !this.hasRoomFor(bar.symbol)) return 'invalid';
    this.out = out;
    this.ctxRef = ref;
    // Checked here so that most bars (same minute as the previous one) make no call with a double argument.
    if (bar.windowStartMs > this.clock) this.advanceClock(bar.windowStartMs);
    const state = this.stateOf(bar.symbol);
    if (broadcastCopy) {
      if (bar.symbol !== this.benchmark) return 'ignored';
    } else {
      state.copyOnly = false;
    }
    if (bar.interval === 'DAY') {
      if (bar.windowStartMs <= state.daily.lastStartMs) return 'duplicate';
      this.applyDaily(state, bar.open, bar.high, bar.low, bar.close, bar.volume, bar.windowStartMs, bar.windowEndMs);
      return 'applied';
    }
    return this.applyMinute(state, bar);
  }

  private stateOf(symbol: string): SymbolState {
    let state = this.symbols.get(symbol);
    if (state === undefined) {
      state = {
        symbol,
        hasNativeBars: false,
        copyOnly: true,
        intraday: createSeries(this.intradayParams),
        daily: createSeries(this.dailyParams),
        buildDay: -1,
        buildOpen: 0,
        buildHigh: 0,
        buildLow: 0,
        buildClose: 0,
        buildVolume: 0,
        buildOpenMs: 0,
        buildCloseMs: 0,
        previousSessionClose: Number.NaN,
        lastPrice: Number.NaN,
        lastPriceFinal: false,
        dailyCloses: createHistory(this.rsSessions + 1),
        activeDaily: [],
        actives: new Array<ActivePattern | null>(SLOT_COUNT).fill(null),
        activeBase: new Float64Array(SLOT_COUNT).fill(-1),
      };
      this.symbols.set(symbol, state);
      if (symbol === this.benchmark) this.benchmarkState = state;
    }
    return state;
  }

  private applyMinute(state: SymbolState, bar: BarInput): BarOutcome {
    if (bar.source === 'trades') {
      if (state.hasNativeBars) return 'ignored';
    } else {
      state.hasNativeBars = true;
    }
    const day = this.calendar.dayOf(bar.windowStartMs);
    if (!day.isTradingDay || bar.windowStartMs < day.openMs || bar.windowStartMs >= day.closeMs) return 'outside-session';
    if (bar.windowStartMs <= state.intraday.lastStartMs) return 'duplicate';
    const firstBarOfSession = state.buildDay !== day.dayNumber;
    if (firstBarOfSession) {
      state.buildDay = day.dayNumber;
      state.buildOpen = bar.open;
      state.buildHigh = bar.high;
      state.buildLow = bar.low;
      state.buildVolume = bar.volume;
      state.buildOpenMs = day.openMs;
      state.buildCloseMs = day.closeMs;
      if (!(this.pendingCloseMs <= day.closeMs)) this.pendingCloseMs = day.closeMs;
    } else {
      if (bar.high > state.buildHigh) state.buildHigh = bar.high;
      if (bar.low < state.buildLow) state.buildLow = bar.low;
      state.buildVolume += bar.volume;
    }
    state.buildClose = bar.close;
    state.lastPrice = bar.close;
    state.lastPriceFinal = false;
    this.ctxState = state;
    this.ctxSeries = state.intraday;
    this.ctxTier = 'INTRADAY';
    this.ctxDetectedAt = bar.windowEndMs;
    this.ctxSessionCloseMs = day.closeMs;
    this.ctxPreviousClose = state.previousSessionClose;
    const input = SERIES_INPUT;
    input[0] = bar.open;
    input[1] = bar.high;
    input[2] = bar.low;
    input[3] = bar.close;
    input[4] = bar.volume;
    input[5] = state.previousSessionClose;
    // Reset here too, so a bar that threw midway leaves no trigger behind for the next one.
    this.comboBullish = -1;
    this.comboBearish = -1;
    updateSeriesFromInput(state.intraday, this.intradayParams, day.dayNumber, firstBarOfSession, state.copyOnly ? undefined : this);
    state.intraday.lastStartMs = bar.windowStartMs;
    if (this.comboBullish >= 0 || this.comboBearish >= 0) this.confirmDailySetups(state);
    return 'applied';
  }

  private applyDaily(
    state: SymbolState,
    open: number,
    high: number,
    low: number,
    close: number,
    volume: number,
    startMs: number,
    endMs: number,
  ): void {
    const day = this.calendar.dayOf(startMs);
    state.lastPrice = close;
    state.lastPriceFinal = true;
    pushHistory(state.dailyCloses, close);
    this.ctxState = state;
    this.ctxSeries = state.daily;
    this.ctxTier = 'DAILY';
    this.ctxDetectedAt = endMs;
    this.ctxSessionCloseMs = endMs;
    this.ctxPreviousClose = state.previousSessionClose;
    const input = SERIES_INPUT;
    input[0] = open;
    input[1] = high;
    input[2] = low;
    input[3] = close;
    input[4] = volume;
    input[5] = Number.NaN;
    updateSeriesFromInput(state.daily, this.dailyParams, day.dayNumber, false, state.copyOnly ? undefined : this);
    state.daily.lastStartMs = startMs;
    state.previousSessionClose = close;
  }

  /** Event time moves forward: close finished sessions (daily bars), then expire what is due. */
  private advanceClock(time: number): void {
    if (time <= this.clock) return;
    this.clock = time;
    if (this.pendingCloseMs <= time) this.finalizeSessions(time);
    while (this.heapSize > 0 && this.heapAt[0]! <= time) {
      const seq = this.heapSeq[0]!;
      const active = this.popHeap();
      if (active.seq !== seq) continue;
      active.seq = -1;
      this.activePatterns -= 1;
      const last = active.last;
      const holder = this.symbols.get(active.symbol)!;
      holder.actives[active.slot] = null;
      holder.activeBase[active.slot] = -1;
      if (last.tier === 'DAILY') {
        const index = holder.activeDaily.indexOf(active.slot);
        if (index >= 0) holder.activeDaily.splice(index, 1);
      }
      // levels and reasons are never mutated after emission, so the EXPIRED event shares them.
      // Written out field by field, in the order of emit()'s record, so both share one object shape.
      const ref = this.ctxRef;
      this.out.push({
        eventId: finishHash(active.id1, active.id2, active.id3, active.id4, 3, 0),
        kind: 'EXPIRED',
        patternId: last.patternId,
        pattern: last.pattern,
        definitionVersion: last.definitionVersion,
        tier: last.tier,
        direction: last.direction,
        symbol: last.symbol,
        detectedAtMs: last.detectedAtMs,
        expiresAtMs: last.expiresAtMs,
        confidence: last.confidence,
        baseConfidence: last.baseConfidence,
        fundamentalAdjustment: last.fundamentalAdjustment,
        fundamentalReasons: last.fundamentalReasons,
        price: last.price,
        change: last.change,
        changePct: last.changePct,
        volume: last.volume,
        relativeStrength: last.relativeStrength,
        relativeVolume: last.relativeVolume,
        rsi: last.rsi,
        levels: last.levels,
        sourceTopic: ref.topic,
        sourcePartition: ref.partition,
        sourceOffset: ref.offset,
      });
    }
  }

  /** Builds the daily bar of every symbol whose session closed; the benchmark first, for relative strength. */
  private finalizeSessions(time: number): void {
    let next = Number.NaN;
    const benchmark = this.benchmarkState;
    if (benchmark && benchmark.buildDay >= 0 && benchmark.buildCloseMs <= time) this.finalizeSymbol(benchmark);
    for (const state of this.symbols.values()) {
      if (state.buildDay < 0) continue;
      if (state.buildCloseMs <= time) this.finalizeSymbol(state);
      else if (!(next <= state.buildCloseMs)) next = state.buildCloseMs;
    }
    this.pendingCloseMs = next;
  }

  private finalizeSymbol(state: SymbolState): void {
    state.buildDay = -1;
    if (state.buildOpenMs <= state.daily.lastStartMs) return;
    this.applyDaily(
      state,
      state.buildOpen,
      state.buildHigh,
      state.buildLow,
      state.buildClose,
      state.buildVolume,
      state.buildOpenMs,
      state.buildCloseMs,
    );
  }

  /** Return over the relative-strength window, ending at the symbol's last price. */
  private windowReturn(state: SymbolState): number {
    const base = historyAt(state.dailyCloses, state.lastPriceFinal ? this.rsSessions : this.rsSessions - 1);
    return base > 0 ? state.lastPrice / base : Number.NaN;
  }

  private relativeStrength(state: SymbolState): number {
    const benchmark = this.benchmarkState;
    if (benchmark === undefined) return Number.NaN;
    const own = this.windowReturn(state);
    const reference = this.windowReturn(benchmark);
    return reference > 0 ? own / reference : Number.NaN;
  }

  /** PatternSink: a pattern completed on the bar in context. */
  fire(pattern: string, direction: Direction, k1?: string, k2?: string, k3?: string, k4?: string, k5?: string): void {
    const baseConfidence = DETECTION[0]!;
    const state = this.ctxState!;
    const tier = this.ctxTier;
    // Fast path: a repeat of an active pattern that does not raise its confidence is absorbed.
    const slot = slotOf(pattern, tier, direction);
    const active = state.activeBase[slot]!;
    if (active >= 0 && baseConfidence < active + UPDATE_MIN_GAIN) {
      if (tier === 'INTRADAY' && direction !== 'NEUTRAL' && state.activeDaily.length > 0 && COMBO_TRIGGERS.has(pattern))
        this.noteComboTrigger(direction, baseConfidence);
      return;
    }
    const emitted = this.emit(state, slot, tier, pattern, direction, baseConfidence, levelsOf(k1, k2, k3, k4, k5));
    if (tier === 'DAILY') {
      if (emitted && !state.activeDaily.includes(slot)) state.activeDaily.push(slot);
    } else if (tier === 'INTRADAY' && direction !== 'NEUTRAL' && state.activeDaily.length > 0 && COMBO_TRIGGERS.has(pattern)) {
      this.noteComboTrigger(direction, baseConfidence);
    }
  }

  private noteComboTrigger(direction: Direction, triggerConfidence: number): void {
    if (direction === 'BULLISH') {
      if (triggerConfidence > this.comboBullish) this.comboBullish = triggerConfidence;
    } else if (triggerConfidence > this.comboBearish) {
      this.comboBearish = triggerConfidence;
    }
  }

  /** After the bar's last detection: confirms the daily setups its triggers noted (bullish first), once each. */
  private confirmDailySetups(state: SymbolState): void {
    const bullish = this.comboBullish;
    const bearish = this.comboBearish;
    this.comboBullish = -1;
    this.comboBearish = -1;
    if (bullish >= 0) this.confirmDailySetup(state, 'BULLISH', bullish);
    if (bearish >= 0) this.confirmDailySetup(state, 'BEARISH', bearish);
  }

  private confirmDailySetup(state: SymbolState, direction: Direction, triggerConfidence: number): void {
    let best: ActivePattern | undefined;
    for (const slot of state.activeDaily) {
      const active = state.actives[slot];
      if (active && active.last.direction === direction && (best === undefined || active.last.baseConfidence > best.last.baseConfidence))
        best = active;
    }
    if (best === undefined) return;
    const daily = best.last;
    const levels: Record<string, number> = { trigger: state.lastPrice, dailyDetectedAtMs: daily.detectedAtMs };
    for (const [name, value] of Object.entries(daily.levels)) levels[`daily_${name}`] = value;
    const name = direction === 'BULLISH' ? 'combo_bullish_confirmation' : 'combo_bearish_confirmation';
    this.emit(
      state,
      slotOf(name, 'COMBO', direction),
      'COMBO',
      name,
      direction,
      Math.min(1, Math.max(daily.baseConfidence, triggerConfidence) + 0.1),
      levels,
    );
  }

  /** Emits DETECTED or UPDATED for the pattern in `slot`; false when it is absorbed as a repeat. */
  private emit(
    state: SymbolState,
    slot: number,
    tier: Tier,
    pattern: string,
    direction: Direction,
    baseConfidence: number,
    levels: Record<string, number>,
  ): boolean {
    const detectedAtMs = this.ctxDetectedAt;
    const expiresAtMs =
      tier === 'DAILY'
        ? detectedAtMs + this.dailyTtlMs
        : tier === 'COMBO'
          ? this.ctxSessionCloseMs
          : Math.min(detectedAtMs + this.intradayTtlMs, this.ctxSessionCloseMs);
    const version = PATTERN_VERSIONS.get(pattern) ?? 1;
    const existing = state.actives[slot]!;
    // A repeat of an active pattern is absorbed unless it materially raises the confidence (then UPDATED).
    if (existing !== null && baseConfidence < existing.last.baseConfidence + UPDATE_MIN_GAIN) return false;
    const patternId = existing ? existing.patternId : hashOf(state.symbol, SLOT_SUFFIX[slot]!, version, detectedAtMs);
    let id1: number, id2: number, id3: number, id4: number;
    if (existing) {
      id1 = existing.id1;
      id2 = existing.id2;
      id3 = existing.id3;
      id4 = existing.id4;
    } else {
      const lanes = lanesOf(patternId);
      id1 = lanes[0]!;
      id2 = lanes[1]!;
      id3 = lanes[2]!;
      id4 = lanes[3]!;
    }
    const kind: PatternEventKind = existing ? 'UPDATED' : 'DETECTED';

    let adjustment = 0;
    let reasons = NO_REASONS;
    if (this.fundamentals !== undefined && direction === 'BULLISH') {
      const date = this.calendar.dayOf(detectedAtMs - 1).date;
      const facts = this.fundamentals.get(state.symbol, date);
      if (facts !== undefined && facts.asOfDate <= date) {
        const surprise =
          facts.epsSurprisePct ??
          (facts.eps != null && facts.epsEstimate != null && facts.epsEstimate !== 0
            ? ((facts.eps - facts.epsEstimate) / Math.abs(facts.epsEstimate)) * 100
            : null);
        if (surprise != null && surprise > 0) {
          adjustment += 0.05;
          reasons = [];
          reasons.push(`eps_surprise:+${surprise.toFixed(2)}%`);
        }
        if (facts.revenueYoYGrowthPct != null && facts.revenueYoYGrowthPct > 10) {
          adjustment += 0.03;
          if (reasons === NO_REASONS) reasons = [];
          reasons.push(`revenue_yoy:+${facts.revenueYoYGrowthPct.toFixed(2)}%`);
        }
      }
    }
    const base = Math.min(1, Math.max(0, baseConfidence));
    const confidence = Math.min(1, base + adjustment);
    const series = this.ctxSeries!;
    const price = state.lastPrice;
    const previous = this.ctxPreviousClose;
    const change = previous > 0 ? price - previous : Number.NaN;
    const record: PatternEventRecord = {
      eventId: finishHash(id1, id2, id3, id4, kind === 'DETECTED' ? 1 : 2, detectedAtMs),
      kind,
      patternId,
      pattern,
      definitionVersion: version,
      tier,
      direction,
      symbol: state.symbol,
      detectedAtMs,
      expiresAtMs,
      confidence,
      baseConfidence: base,
      fundamentalAdjustment: confidence - base,
      fundamentalReasons: reasons,
      price,
      change: nullable(change),
      changePct: nullable(previous > 0 ? (change / previous) * 100 : Number.NaN),
      volume: series.v0,
      relativeStrength: nullable(this.relativeStrength(state)),
      relativeVolume: nullable(series.relativeVolume),
      rsi: nullable(series.rsiNow),
      levels,
      sourceTopic: this.ctxRef.topic,
      sourcePartition: this.ctxRef.partition,
      sourceOffset: this.ctxRef.offset,
    };
    this.seq += 1;
    let active = existing;
    if (active) {
      active.seq = this.seq;
      active.expiresAtMs = expiresAtMs;
      active.last = record;
    } else {
      active = { symbol: state.symbol, slot, patternId, seq: this.seq, expiresAtMs, last: record, id1, id2, id3, id4 };
      state.actives[slot] = active;
      this.activePatterns += 1;
    }
    state.activeBase[slot] = base;
    this.pushHeap(expiresAtMs, this.seq, active);
    this.out.push(record);
    return true;
  }

  private pushHeap(at: number, seq: number, active: ActivePattern): void {
    if (this.heapSize === this.heapAt.length) {
      const grownAt = new Float64Array(this.heapSize * 2);
      grownAt.set(this.heapAt);
      this.heapAt = grownAt;
      const grownSeq = new Float64Array(this.heapSize * 2);
      grownSeq.set(this.heapSeq);
      this.heapSeq = grownSeq;
    }
    const heapAt = this.heapAt;
    const heapSeq = this.heapSeq;
    const heapRef = this.heapRef;
    let index = this.heapSize;
    this.heapSize += 1;
    while (index > 0) {
      const parent = (index - 1) >> 1;
      const parentAt = heapAt[parent]!;
      if (!(at < parentAt || (at === parentAt && seq < heapSeq[parent]!))) break;
      heapAt[index] = parentAt;
      heapSeq[index] = heapSeq[parent]!;
      heapRef[index] = heapRef[parent]!;
      index = parent;
    }
    heapAt[index] = at;
    heapSeq[index] = seq;
    heapRef[index] = active;
  }

  /** Removes the heap's top and returns its pattern (the caller read the top's seq first). */
  private popHeap(): ActivePattern {
    const heapAt = this.heapAt;
    const heapSeq = this.heapSeq;
    const heapRef = this.heapRef;
    const top = heapRef[0]!;
    const size = this.heapSize - 1;
    this.heapSize = size;
    if (size > 0) {
      // Sift the last entry down from the root.
      const at = heapAt[size]!;
      const seq = heapSeq[size]!;
      const ref = heapRef[size]!;
      let index = 0;
      for (;;) {
        const left = index * 2 + 1;
        if (left >= size) break;
        const right = left + 1;
        let child = left;
        if (right < size && (heapAt[right]! < heapAt[left]! || (heapAt[right] === heapAt[left] && heapSeq[right]! < heapSeq[left]!)))
          child = right;
        const childAt = heapAt[child]!;
        if (!(childAt < at || (childAt === at && heapSeq[child]! < seq))) break;
        heapAt[index] = childAt;
        heapSeq[index] = heapSeq[child]!;
        heapRef[index] = heapRef[child]!;
        index = child;
      }
      heapAt[index] = at;
      heapSeq[index] = seq;
      heapRef[index] = ref;
    }
    heapRef.length = size;
    return top;
  }

  /** The whole state, versioned and compressed (the `state` of a processor snapshot). */
  snapshot(): Buffer {
    // Indicator states may hold NaN ("not ready"): JSON writes it as null and restore() reads null back as NaN.
    const states: Omit<SymbolState, 'actives' | 'activeBase'>[] = [];
    const activeList: ActivePattern[] = [];
    for (const state of this.symbols.values()) {
      const { actives, activeBase: _activeBase, ...rest } = state;
      states.push(rest);
      for (const active of actives) if (active !== null) activeList.push(active);
    }
    // Ordered by seq so that the snapshot does not depend on slot order (any order would restore the same heap).
    activeList.sort((a, b) => a.seq - b.seq);
    const symbols = JSON.stringify(states);
    const actives = JSON.stringify(activeList);
    const header = JSON.stringify({ version: ENGINE_VERSION, clock: this.clock, seq: this.seq, pendingCloseMs: this.pendingCloseMs });
    return gzipSync(Buffer.from(`${header}\n${symbols}\n${actives}`, 'utf8'));
  }

  /** An engine from a snapshot; throws SnapshotVersionError when it was written by another engine version. */
  static restore(snapshot: Buffer, options: EngineOptions = {}): PatternEngine {
    const [headerText, symbolsText, activesText] = gunzipSync(snapshot).toString('utf8').split('\n');
    const header = JSON.parse(headerText!) as { version: number; clock: number; seq: number; pendingCloseMs: number | null };
    if (header.version !== ENGINE_VERSION) throw new SnapshotVersionError(header.version);
    const engine = new PatternEngine(options);
    engine.clock = header.clock;
    engine.seq = header.seq;
    engine.pendingCloseMs = header.pendingCloseMs ?? Number.NaN;
    const symbols = JSON.parse(symbolsText!, (_key, value: unknown) => (value === null ? Number.NaN : value)) as Omit<
      SymbolState,
      'actives' | 'activeBase'
    >[];
    for (const saved of symbols) {
      const state: SymbolState = {
        ...saved,
        actives: new Array<ActivePattern | null>(SLOT_COUNT).fill(null),
        activeBase: new Float64Array(SLOT_COUNT).fill(-1),
      };
      engine.symbols.set(state.symbol, state);
      if (state.symbol === engine.benchmark) engine.benchmarkState = state;
    }
    const actives = JSON.parse(activesText!) as ActivePattern[];
    for (const active of actives) {
      const state = engine.symbols.get(active.symbol)!;
      state.actives[active.slot] = active;
      state.activeBase[active.slot] = active.last.baseConfidence;
      engine.activePatterns += 1;
      engine.pushHeap(active.expiresAtMs, active.seq, active);
    }
    return engine;
  }
}

export class SnapshotVersionError extends Error {
  override name = 'SnapshotVersionError';
  constructor(readonly found: number) {
    super(`snapshot written by engine version ${found}, this is version ${ENGINE_VERSION}`);
  }
}
