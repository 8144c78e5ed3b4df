import { SessionCalendar } from '../../contracts/calendar.js';

/** A stretch of simulated time inside one regular session, [fromMs, toMs). */
export interface ClockSpan {
  readonly fromMs: number;
  readonly toMs: number;
}

/**
 * The simulator's clock runs on regular-session time only: advancing past a session close continues
 * at the next regular open (weekends, holidays and early closes from the processors' US equity
 * calendar), so no simulated trade falls outside the session the processors accept. Pure.
 */
export class SessionClock {
  constructor(private readonly calendar: SessionCalendar = new SessionCalendar()) {}

  /** `timeMs` when it lies in a regular session, else the next regular open after it. */
  sessionInstant(timeMs: number): number {
    const day = this.calendar.dayOf(timeMs);
    if (day.isTradingDay && timeMs < day.closeMs) return Math.max(timeMs, day.openMs);
    return this.calendar.nextTradingDay(day.dayNumber).openMs;
  }

  /**
   * Advances the clock from `fromMs` by `sessionMs` of session time: the spans covered, in order, each
   * inside one session (a span may end exactly at a close). The last span's end is the new clock.
   */
  advance(fromMs: number, sessionMs: number): ClockSpan[] {
    let at = this.sessionInstant(fromMs);
    let remaining = Math.max(0, sessionMs);
    const spans: ClockSpan[] = [];
    while (true) {
      const day = this.calendar.dayOf(at);
      const room = day.closeMs - at;
      if (remaining <= room) {
        spans.push({ fromMs: at, toMs: at + remaining });
        return spans;
      }
      spans.push({ fromMs: at, toMs: day.closeMs });
      remaining -= room;
      at = this.calendar.nextTradingDay(day.dayNumber).openMs;
    }
  }
}

/** Splits `count` events over spans in proportion to their length (the remainder to the last non-empty span). */
export function spreadOverSpans(spans: readonly ClockSpan[], count: number): number[] {
  const total = spans.reduce((sum, span) => sum + (span.toMs - span.fromMs), 0);
  if (total <= 0) return spans.map((_, index) => (index === spans.length - 1 ? count : 0));
  const counts = spans.map((span) => Math.floor((count * (span.toMs - span.fromMs)) / total));
  let lastNonEmpty = spans.length - 1;
  while (lastNonEmpty > 0 && spans[lastNonEmpty]!.toMs === spans[lastNonEmpty]!.fromMs) lastNonEmpty -= 1;
  counts[lastNonEmpty]! += count - counts.reduce((sum, value) => sum + value, 0);
  return counts;
}

/**
 * Where a simulated feed continues after one that reached `reachedMs` (its clock, or the latest event time
 * in the log): two minutes later, on a minute boundary, so that its first bars are strictly newer than
 * everything folded already. The simulator moves it on to the next open when that falls outside a session.
 */
export function resumeAfter(reachedMs: number): number {
  return Math.ceil((reachedMs + 120_000) / 60_000) * 60_000;
}
