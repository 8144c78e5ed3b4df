import type { WireFmv, WireLuld, WireQuote, WireTrade } from './market.js';

const DAY_MS = 86_400_000;
/** A new band is published once the last price is this far from the band's reference price. */
const REFERENCE_MOVE = 0.01;

const round = (price: number): number => (price >= 1 ? Math.round(price * 100) / 100 : Math.round(price * 10_000) / 10_000);

/**
 * The LULD price band percentage (Regulation NMS plan, simplified): 5 % above $3, 20 % from $0.75 to
 * $3, below that the lesser of $0.15 or 75 % (returned as a fraction of the price); doubled in the
 * first 15 minutes (09:30-09:45) and the last 25 minutes (15:35-16:00) of the session.
 */
export function bandFraction(referencePrice: number, minuteOfSession: number): number {
  const base = referencePrice > 3 ? 0.05 : referencePrice >= 0.75 ? 0.2 : Math.min(0.15 / referencePrice, 0.75);
  const doubled = (minuteOfSession >= 0 && minuteOfSession < 15) || (minuteOfSession >= 365 && minuteOfSession < 390);
  return doubled ? base * 2 : base;
}

interface BandState {
  day: number;
  reference: number;
  fraction: number;
  sequence: number;
}

/**
 * Massive `LULD` messages from the trades the simulator prints: a symbol's first trade of the day
 * publishes its band around that price; a new band follows when the price has moved 1 % from the
 * reference or when the band widens or narrows (open and close windows). Pure, deterministic.
 */
export class LuldBands {
  private readonly states = new Map<string, BandState>();

  /** The band message this trade triggers, if any (sent right after the trade). */
  onTrade(trade: WireTrade, minuteOfSession: number): WireLuld | undefined {
    const day = Math.floor(trade.t / DAY_MS);
    let state = this.states.get(trade.sym);
    const fresh = state === undefined || state.day !== day;
    if (state === undefined || fresh) {
      state = { day, reference: trade.p, fraction: bandFraction(trade.p, minuteOfSession), sequence: state?.sequence ?? 0 };
      this.states.set(trade.sym, state);
    } else {
      const fraction = bandFraction(state.reference, minuteOfSession);
      const moved = Math.abs(trade.p - state.reference) >= REFERENCE_MOVE * state.reference;
      if (!moved && fraction === state.fraction) return undefined;
      if (moved) state.reference = trade.p;
      state.fraction = bandFraction(state.reference, minuteOfSession);
    }
    state.sequence += 1;
    return {
      ev: 'LULD',
      T: trade.sym,
      h: round(state.reference * (1 + state.fraction)),
      l: round(Math.max(0.0001, state.reference * (1 - state.fraction))),
      i: [],
      z: trade.z,
      t: trade.t,
      q: state.sequence,
    };
  }
}

/**
 * Massive `FMV` messages: once per second, for every symbol quoted or traded in that second, the
 * fair value (NBBO mid of its last quote, else its last trade price) as of the second's end, with the
 * timestamp in nanoseconds as Massive sends it. Pure, deterministic.
 */
export class FairValues {
  private readonly values = new Map<string, number>();
  private readonly touched = new Set<string>();
  private second: number | undefined;

  /** Records the event; returns the FMV messages of seconds it closed (emit them before it). */
  onEvent(event: WireTrade | WireQuote): WireFmv[] {
    const closed = this.closeUntil(event.t);
    if (event.ev === 'Q') this.values.set(event.sym, round((event.bp + event.ap) / 2));
    else if (!this.values.has(event.sym)) this.values.set(event.sym, event.p);
    this.touched.add(event.sym);
    this.second ??= event.t - (event.t % 1000);
    return closed;
  }

  /** The FMV messages of every second that ended at or before `timeMs`. */
  closeUntil(timeMs: number): WireFmv[] {
    if (this.second === undefined || this.second + 1000 > timeMs) return [];
    const endNs = (this.second + 1000) * 1_000_000;
    const messages: WireFmv[] = [];
    for (const symbol of this.touched) messages.push({ ev: 'FMV', sym: symbol, fmv: this.values.get(symbol)!, t: endNs });
    this.touched.clear();
    this.second = undefined;
    return messages;
  }
}
