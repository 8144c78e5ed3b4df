import { nextRandom } from '../protocol.js';
import type { SymbolProfile } from './universe.js';

/** Wire-format events exactly as Massive sends them (field names and types of brief §1). */
export interface WireTrade {
  ev: 'T';
  sym: string;
  x: number;
  i: string;
  z: number;
  p: number;
  s: number;
  c?: number[];
  t: number;
  q: number;
}

export interface WireQuote {
  ev: 'Q';
  sym: string;
  bx: number;
  bp: number;
  bs: number;
  ax: number;
  ap: number;
  as: number;
  c: number;
  t: number;
  q: number;
  z: number;
}

export interface WireAggregate {
  ev: 'A' | 'AM';
  sym: string;
  v: number;
  av: number;
  op: number;
  vw: number;
  o: number;
  c: number;
  h: number;
  l: number;
  a: number;
  z: number;
  s: number;
  e: number;
}

/** Limit up/limit down band; the ticker is in `T` (not `sym`). */
export interface WireLuld {
  ev: 'LULD';
  T: string;
  h: number;
  l: number;
  i: number[];
  z: number;
  t: number;
  q: number;
}

/** Fair market value; `t` is in nanoseconds. */
export interface WireFmv {
  ev: 'FMV';
  sym: string;
  fmv: number;
  t: number;
}

export type WireEvent = WireTrade | WireQuote | WireAggregate | WireLuld | WireFmv;

const SECONDS_PER_YEAR = 252 * 6.5 * 3600;
const EXCHANGES = [1, 2, 3, 4, 7, 8, 10, 11, 12, 15, 17, 19, 21];
/** Massive condition 37: odd lot trade. */
const ODD_LOT = 37;
const GARCH_ALPHA = 0.06;
const GARCH_BETA = 0.92;
const MARKET_ANNUAL_VOLATILITY = 0.15;

interface SymbolState {
  readonly profile: SymbolProfile;
  /** Log price without the market factor. */
  idiosyncraticLog: number;
  /** GARCH(1,1) variance per second, of the idiosyncratic part. */
  variance: number;
  readonly baseVariance: number;
  lastTimeMs: number;
  sequence: number;
  tradeId: number;
  bid: number;
  ask: number;
  last: number;
}

export interface MarketOptions {
  readonly seed?: number;
  /** Share of events that are trades (the rest are quotes). */
  readonly tradeShare?: number;
  /** Each symbol's first event gets this sequence number plus one (default 0: numbers start at 1). */
  readonly firstSequence?: number;
}

const roundPrice = (price: number): number => (price >= 1 ? Math.round(price * 100) / 100 : Math.round(price * 10_000) / 10_000);

/**
 * A synthetic market: one common factor plus per-symbol GARCH(1,1) random walks (volatility
 * clustering), NBBO quotes with spreads, trades inside the quote, U-shaped intraday size profile,
 * per-symbol sequence numbers. Deterministic for a seed; no clock (time comes from the caller).
 */
export class SyntheticMarket {
  private readonly symbols: SymbolState[];
  private readonly cumulativeActivity: Float64Array;
  private rng: number;
  private marketLog = 0;
  private marketTimeMs: number | undefined;
  private readonly tradeShare: number;

  constructor(universe: readonly SymbolProfile[], options: MarketOptions = {}) {
    if (universe.length === 0) throw new RangeError('the universe is empty');
    this.rng = (options.seed ?? 7) >>> 0;
    this.tradeShare = options.tradeShare ?? 0.35;
    this.symbols = universe.map((profile) => {
      const baseVariance = profile.annualVolatility ** 2 / SECONDS_PER_YEAR;
      return {
        profile,
        idiosyncraticLog: Math.log(profile.initialPrice),
        variance: baseVariance,
        baseVariance,
        lastTimeMs: 0,
        sequence: options.firstSequence ?? 0,
        tradeId: 0,
        bid: profile.initialPrice,
        ask: profile.initialPrice,
        last: profile.initialPrice,
      };
    });
    this.cumulativeActivity = new Float64Array(universe.length);
    let total = 0;
    universe.forEach((profile, index) => {
      total += profile.activity;
      this.cumulativeActivity[index] = total;
    });
    for (let index = 0; index < this.cumulativeActivity.length; index += 1) this.cumulativeActivity[index]! /= total;
  }

  get universe(): readonly SymbolProfile[] {
    return this.symbols.map((state) => state.profile);
  }

  private random(): number {
    const [value, next] = nextRandom(this.rng);
    this.rng = next;
    return value;
  }

  private gaussian(): number {
    // Box-Muller; one draw is enough here.
    const u = Math.max(this.random(), 1e-12);
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * this.random());
  }

  private pickSymbol(): SymbolState {
    const target = this.random();
    let low = 0;
    let high = this.cumulativeActivity.length - 1;
    while (low < high) {
      const mid = (low + high) >> 1;
      if (this.cumulativeActivity[mid]! < target) low = mid + 1;
      else high = mid;
    }
    return this.symbols[low]!;
  }

  private advanceMarket(timeMs: number): void {
    if (this.marketTimeMs === undefined) {
      this.marketTimeMs = timeMs;
      return;
    }
    const dtSeconds = (timeMs - this.marketTimeMs) / 1000;
    if (dtSeconds <= 0) return;
    const variance = MARKET_ANNUAL_VOLATILITY ** 2 / SECONDS_PER_YEAR;
    this.marketLog += Math.sqrt(variance * dtSeconds) * this.gaussian() - 0.5 * variance * dtSeconds;
    this.marketTimeMs = timeMs;
  }

  private move(state: SymbolState, timeMs: number): void {
    const dtSeconds = state.lastTimeMs === 0 ? 1 : Math.max(0.001, (timeMs - state.lastTimeMs) / 1000);
    state.lastTimeMs = timeMs;
    const shock = this.gaussian();
    const ret = Math.sqrt(state.variance * dtSeconds) * shock;
    state.idiosyncraticLog += ret;
    // GARCH(1,1) in per-second units: big moves raise the next variance, which decays back to base.
    state.variance =
      state.baseVariance * (1 - GARCH_ALPHA - GARCH_BETA) + GARCH_ALPHA * state.variance * shock * shock + GARCH_BETA * state.variance;
    const mid = Math.exp(state.idiosyncraticLog + state.profile.beta * this.marketLog);
    const tick = mid >= 1 ? 0.01 : 0.0001;
    const halfSpread = Math.max(tick, mid * (0.0001 + 0.0004 * this.random())) / 2;
    state.bid = roundPrice(Math.max(tick, mid - halfSpread));
    state.ask = Math.max(roundPrice(mid + halfSpread), roundPrice(state.bid + tick));
  }

  /** One trade or quote of a symbol chosen by activity, at `timeMs`; `sizeFactor` is the intraday profile. */
  next(timeMs: number, sizeFactor = 1): WireTrade | WireQuote {
    this.advanceMarket(timeMs);
    const state = this.pickSymbol();
    this.move(state, timeMs);
    state.sequence += 1;
    const profile = state.profile;
    if (this.random() < this.tradeShare) {
      const where = this.random();
      const price = where < 0.4 ? state.bid : where < 0.8 ? state.ask : roundPrice((state.bid + state.ask) / 2);
      const oddLot = this.random() < 0.3;
      const size = oddLot
        ? 1 + Math.floor(this.random() * 99)
        : Math.max(1, Math.round(Math.exp(this.gaussian() * 0.8) * sizeFactor)) * 100;
      state.last = price;
      state.tradeId += 1;
      const trade: WireTrade = {
        ev: 'T',
        sym: profile.symbol,
        x: EXCHANGES[Math.floor(this.random() * EXCHANGES.length)]!,
        i: String(state.tradeId),
        z: profile.tape,
        p: price,
        s: size,
        t: timeMs,
        q: state.sequence,
      };
      if (oddLot) trade.c = [ODD_LOT];
      return trade;
    }
    return {
      ev: 'Q',
      sym: profile.symbol,
      bx: EXCHANGES[Math.floor(this.random() * EXCHANGES.length)]!,
      bp: state.bid,
      bs: (1 + Math.floor(this.random() * 20)) * 100,
      ax: EXCHANGES[Math.floor(this.random() * EXCHANGES.length)]!,
      ap: state.ask,
      as: (1 + Math.floor(this.random() * 20)) * 100,
      c: 0,
      t: timeMs,
      q: state.sequence,
      z: profile.tape,
    };
  }
}

/**
 * U-shaped intraday volume profile (heavy open and close) by minute of the New York session;
 * 0.2 outside 09:30–16:00.
 */
export function intradaySizeFactor(minuteOfSession: number): number {
  if (minuteOfSession < 0 || minuteOfSession >= 390) return 0.2;
  return 1 + 2 * Math.exp(-minuteOfSession / 25) + 1.5 * Math.exp(-(390 - minuteOfSession) / 25);
}
