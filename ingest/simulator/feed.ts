import { TZDate } from '@date-fns/tz';
import { BarBuilder } from './bars.js';
import { FairValues, LuldBands } from './bands.js';
import { SyntheticMarket, intradaySizeFactor, type WireEvent } from './market.js';
import type { ClockSpan } from './session-clock.js';
import { spreadOverSpans } from './session-clock.js';
import type { SymbolProfile } from './universe.js';

/** Channels generated only while some client subscribes to them. */
export interface OptionalChannels {
  readonly luld?: boolean;
  readonly fmv?: boolean;
}

export interface FeedOptions {
  readonly seed?: number;
  /** Emit second aggregates (A) too; minute aggregates (AM) are always built. */
  readonly secondAggregates?: boolean;
  readonly tradeShare?: number;
  /** See MarketOptions. */
  readonly firstSequence?: number;
}

/** Minutes since 09:30 New York time of an instant. */
export function minuteOfSession(timeMs: number): number {
  const local = new TZDate(timeMs, 'America/New_York');
  return local.getHours() * 60 + local.getMinutes() - (9 * 60 + 30);
}

/**
 * The simulator's event source: trades and quotes from the synthetic market, with the A/AM bars built
 * from exactly those trades. Pure: time and counts come from the caller (the server's clock).
 */
export class SimulatorFeed {
  private readonly market: SyntheticMarket;
  private readonly bars: BarBuilder;
  private readonly bands = new LuldBands();
  private fairValues: FairValues | undefined;

  constructor(universe: readonly SymbolProfile[], options: FeedOptions = {}) {
    this.market = new SyntheticMarket(universe, {
      seed: options.seed,
      tradeShare: options.tradeShare,
      firstSequence: options.firstSequence,
    });
    this.bars = new BarBuilder(options.secondAggregates ?? true);
  }

  /**
   * `count` trades/quotes spread evenly over [fromMs, toMs), then the bars that closed by `toMs`; with
   * `channels.luld` a LULD band after each trade that moves it, with `channels.fmv` an FMV per symbol per second.
   */
  generate(fromMs: number, toMs: number, count: number, channels: OptionalChannels = {}): WireEvent[] {
    const events: WireEvent[] = [];
    const minute = minuteOfSession(fromMs);
    const sizeFactor = intradaySizeFactor(minute);
    const step = count > 0 ? (toMs - fromMs) / count : 0;
    // FMV starts afresh whenever it is (re)subscribed, so no stale second is reported.
    if (!channels.fmv) this.fairValues = undefined;
    else this.fairValues ??= new FairValues();
    const fairValues = this.fairValues;
    for (let index = 0; index < count; index += 1) {
      const event = this.market.next(Math.floor(fromMs + index * step), sizeFactor);
      if (fairValues) for (const fmv of fairValues.onEvent(event)) events.push(fmv);
      if (event.ev === 'T') {
        const closed = this.bars.add(event);
        for (const bar of closed) events.push(bar);
      }
      events.push(event);
      if (event.ev === 'T' && channels.luld) {
        const band = this.bands.onTrade(event, minute);
        if (band) events.push(band);
      }
    }
    for (const bar of this.bars.closeUntil(toMs)) events.push(bar);
    if (fairValues) for (const fmv of fairValues.closeUntil(toMs)) events.push(fmv);
    return events;
  }

  /**
   * `count` events over the spans of one clock advance (see SessionClock), split by span length. A span
   * ending at a session close closes every bar of that session there, so bars never straddle a jump.
   */
  generateOver(spans: readonly ClockSpan[], count: number, channels: OptionalChannels = {}): WireEvent[] {
    const counts = spreadOverSpans(spans, count);
    const events: WireEvent[] = [];
    spans.forEach((span, index) => {
      for (const event of this.generate(span.fromMs, span.toMs, counts[index]!, channels)) events.push(event);
    });
    return events;
  }
}
