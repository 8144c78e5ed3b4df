import { describe, expect, it } from 'vitest';
import { SessionCalendar } from '../../contracts/calendar.js';
import { SimulatorFeed } from './feed.js';
import type { WireAggregate, WireEvent, WireTrade } from './market.js';
import { SessionClock, spreadOverSpans } from './session-clock.js';
import { buildUniverse } from './universe.js';

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
/** New York is UTC-5 in late November 2026 (EST). */
const est = (date: string, clock: string) => Date.parse(`${date}T${clock}:00-05:00`);

describe('session clock', () => {
  const clock = new SessionClock(new SessionCalendar());

  it('runs straight through the session', () => {
    const from = est('2026-11-24', '10:00');
    expect(clock.advance(from, 90 * SECOND)).toEqual([{ fromMs: from, toMs: from + 90 * SECOND }]);
  });

  it('jumps from a Friday close to the Monday open', () => {
    // Friday 2026-11-20 15:59:30 + 90 s of session: 30 s to the close, 60 s from Monday's open.
    const spans = clock.advance(est('2026-11-20', '15:59') + 30 * SECOND, 90 * SECOND);
    expect(spans).toEqual([
      { fromMs: est('2026-11-20', '15:59') + 30 * SECOND, toMs: est('2026-11-20', '16:00') },
      { fromMs: est('2026-11-23', '09:30'), toMs: est('2026-11-23', '09:31') },
    ]);
  });

  it('skips a holiday, and closes early on an early-close day', () => {
    // Wednesday 2026-11-25 close -> Thursday is Thanksgiving -> Friday opens 09:30 and closes at 13:00.
    const spans = clock.advance(est('2026-11-25', '15:00'), 2 * HOUR + 3.5 * HOUR + 10 * MINUTE);
    expect(spans).toEqual([
      { fromMs: est('2026-11-25', '15:00'), toMs: est('2026-11-25', '16:00') },
      { fromMs: est('2026-11-27', '09:30'), toMs: est('2026-11-27', '13:00') },
      { fromMs: est('2026-11-30', '09:30'), toMs: est('2026-11-30', '10:40') },
    ]);
  });

  it('starts at the next open when set outside a session, and continues after a span ending at a close', () => {
    expect(clock.sessionInstant(est('2026-11-24', '03:00'))).toBe(est('2026-11-24', '09:30'));
    expect(clock.sessionInstant(est('2026-11-24', '16:00'))).toBe(est('2026-11-25', '09:30'));
    expect(clock.sessionInstant(est('2026-11-28', '12:00'))).toBe(est('2026-11-30', '09:30'));
    expect(clock.sessionInstant(est('2026-11-24', '12:00'))).toBe(est('2026-11-24', '12:00'));
    const close = est('2026-11-24', '16:00');
    expect(clock.advance(close - MINUTE, MINUTE)).toEqual([{ fromMs: close - MINUTE, toMs: close }]);
    expect(clock.advance(close, SECOND)).toEqual([{ fromMs: est('2026-11-25', '09:30'), toMs: est('2026-11-25', '09:30') + SECOND }]);
  });

  it('spreads events over spans by length, every event placed', () => {
    expect(
      spreadOverSpans(
        [
          { fromMs: 0, toMs: 300 },
          { fromMs: 1000, toMs: 1100 },
        ],
        41,
      ),
    ).toEqual([30, 11]);
    expect(
      spreadOverSpans(
        [
          { fromMs: 0, toMs: 100 },
          { fromMs: 500, toMs: 500 },
        ],
        7,
      ),
    ).toEqual([7, 0]);
    expect(spreadOverSpans([{ fromMs: 5, toMs: 5 }], 3)).toEqual([3]);
  });

  it('the feed emits nothing outside the session, bars match trades across the jump, sequences keep rising', () => {
    const feed = new SimulatorFeed(buildUniverse(20, 2), { seed: 9 });
    const events: WireEvent[] = [];
    // 20 s ticks from Friday 15:50 for 40 minutes of session time: 10 on Friday, 30 on Monday.
    let at = est('2026-11-20', '15:50');
    for (let tick = 0; tick < 120; tick += 1) {
      const spans = clock.advance(at, 20 * SECOND);
      events.push(...feed.generateOver(spans, 80));
      at = spans.at(-1)!.toMs;
    }
    expect(at).toBe(est('2026-11-23', '10:00'));
    const calendar = new SessionCalendar();
    const trades = events.filter((event): event is WireTrade => event.ev === 'T');
    const bars = events.filter((event): event is WireAggregate => event.ev === 'A' || event.ev === 'AM');
    for (const event of events) {
      const time = 'e' in event ? event.s : event.t;
      expect(calendar.inSession(time), new Date(time).toISOString()).toBe(true);
    }
    expect(trades.some((trade) => trade.t < est('2026-11-20', '16:00'))).toBe(true);
    expect(trades.some((trade) => trade.t >= est('2026-11-23', '09:30'))).toBe(true);
    // Friday's last minute bars are emitted before any Monday event, and each equals its trades.
    const firstMonday = events.findIndex((event) => ('e' in event ? event.s : event.t) >= est('2026-11-23', '09:30'));
    const fridayLast = bars.filter((bar) => bar.ev === 'AM' && bar.s === est('2026-11-20', '15:59'));
    expect(fridayLast.length).toBeGreaterThan(0);
    for (const bar of fridayLast) expect(events.indexOf(bar)).toBeLessThan(firstMonday);
    for (const bar of bars) {
      const group = trades.filter((trade) => trade.sym === bar.sym && trade.t >= bar.s && trade.t < bar.e);
      expect(bar.v).toBe(group.reduce((sum, trade) => sum + trade.s, 0));
      // Monday's day figures start afresh.
      const day = trades.filter(
        (trade) => trade.sym === bar.sym && trade.t < bar.e && new Date(trade.t).getUTCDate() === new Date(bar.s).getUTCDate(),
      );
      expect(bar.av).toBe(day.reduce((sum, trade) => sum + trade.s, 0));
    }
    const lastSequence = new Map<string, number>();
    for (const event of events) {
      if (event.ev !== 'T' && event.ev !== 'Q') continue;
      expect(event.q).toBeGreaterThan(lastSequence.get(event.sym) ?? 0);
      lastSequence.set(event.sym, event.q);
    }
  });

  it('is deterministic for a seed', () => {
    const run = () => {
      const feed = new SimulatorFeed(buildUniverse(10, 3), { seed: 4 });
      let at = est('2026-11-25', '15:59');
      const out: WireEvent[] = [];
      for (let tick = 0; tick < 10; tick += 1) {
        const spans = clock.advance(at, 15 * SECOND);
        out.push(...feed.generateOver(spans, 50));
        at = spans.at(-1)!.toMs;
      }
      return out;
    };
    expect(run()).toEqual(run());
  });
});
