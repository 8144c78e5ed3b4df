import { describe, expect, it } from 'vitest';
import { SessionCalendar } from '../contracts/calendar.js';
import { PatternEngine, type BarInput, type PatternEventRecord } from './engine.js';

// Item 14 of issue 18: one record must not be able to move a partition's event-time clock.
const calendar = new SessionCalendar();
const MINUTE = 60_000;
const DAY = 86_400_000;
const SESSIONS = ['2026-11-23', '2026-11-24'];

function stream(symbols: readonly string[]): BarInput[] {
  let seed = 5;
  const random = () => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed / 2147483648;
  };
  const prices = new Map(symbols.map((symbol) => [symbol, 100]));
  const bars: BarInput[] = [];
  for (const date of SESSIONS) {
    const openMs = calendar.dayOf(Date.parse(`${date}T17:00:00Z`)).openMs;
    for (let minute = 0; minute < 390; minute += 1) {
      for (const symbol of symbols) {
        const open = prices.get(symbol)!;
        const close = open * (1 + (random() - 0.5) * 0.01);
        prices.set(symbol, close);
        const start = openMs + minute * MINUTE;
        bars.push({
          symbol,
          interval: 'MINUTE',
          windowStartMs: start,
          windowEndMs: start + MINUTE,
          open,
          close,
          high: Math.max(open, close) * (1 + random() * 0.002),
          low: Math.min(open, close) * (1 - random() * 0.002),
          volume: random() < 0.03 ? 6000 : 900 + Math.floor(random() * 200),
          source: 'massive',
          ingestedAtMs: start + MINUTE + 1_000,
        });
      }
    }
  }
  return bars;
}

function run(bars: readonly BarInput[]): { events: PatternEventRecord[]; outcomes: string[] } {
  const engine = new PatternEngine();
  const events: PatternEventRecord[] = [];
  const outcomes = bars.map((bar, offset) => engine.onBar(bar, { topic: 'in', partition: 0, offset }, false, events));
  return { events, outcomes };
}

/** The events of `symbol`, without the source offsets (which shift when records are inserted). */
function eventsOf(events: readonly PatternEventRecord[], symbol: string): string[] {
  return events.filter((event) => event.symbol === symbol).map(({ sourceOffset: _offset, ...event }) => JSON.stringify(event));
}

describe('event time cannot be moved by one record', () => {
  const clean = stream(['AAA', 'BBB']);
  const at = clean.length / 4;
  const reference = run(clean);

  it("a bar stamped a year ahead (another symbol) is rejected and changes none of the partition's detections or expiries", () => {
    const poisoned = clean[at + 1]!;
    const yearAhead: BarInput = {
      ...poisoned,
      symbol: 'BBB',
      windowStartMs: poisoned.windowStartMs + 365 * DAY,
      windowEndMs: poisoned.windowEndMs + 365 * DAY,
    };
    const { events, outcomes } = run([...clean.slice(0, at), yearAhead, ...clean.slice(at)]);
    expect(outcomes[at]).toBe('invalid');
    const aaa = eventsOf(reference.events, 'AAA');
    expect(aaa.filter((event) => event.includes('"EXPIRED"')).length).toBeGreaterThan(5);
    expect(eventsOf(events, 'AAA')).toEqual(aaa);
    expect(eventsOf(events, 'BBB')).toEqual(eventsOf(reference.events, 'BBB'));
  });

  it("a bar stamped in microseconds is rejected, and the symbol's later bars are still applied (not duplicates)", () => {
    const poisoned = clean[at]!;
    const micro: BarInput = { ...poisoned, windowStartMs: poisoned.windowStartMs * 1000, windowEndMs: poisoned.windowEndMs * 1000 };
    const { events, outcomes } = run([...clean.slice(0, at), micro, ...clean.slice(at)]);
    expect(outcomes[at]).toBe('invalid');
    expect(outcomes.slice(at + 1)).toEqual(reference.outcomes.slice(at));
    expect(outcomes.slice(at + 1).filter((outcome) => outcome === 'duplicate')).toEqual([]);
    expect(eventsOf(events, 'AAA')).toEqual(eventsOf(reference.events, 'AAA'));
    expect(eventsOf(events, 'BBB')).toEqual(eventsOf(reference.events, 'BBB'));
  });

  it('the first bar of a partition with an absurd time is rejected; a stream resuming after a long pause is not', () => {
    const engine = new PatternEngine();
    const first = clean[0]!;
    const events: PatternEventRecord[] = [];
    const ref = { topic: 'in', partition: 0, offset: 0 };
    expect(engine.onBar({ ...first, windowStartMs: 9e15, windowEndMs: 9e15 + MINUTE }, ref, false, events)).toBe('invalid');
    expect(engine.rejectionOf({ ...first, windowStartMs: 9e15, windowEndMs: 9e15 + MINUTE })?.reason).toBe('implausible-time');
    expect(engine.onBar({ ...first, windowStartMs: -MINUTE, windowEndMs: 0 }, ref, false, events)).toBe('invalid');
    expect(engine.onBar(first, ref, false, events)).toBe('applied');
    // Three weeks later, read by ingest then: accepted (vouched by its ingestion time); without it, refused.
    const later = calendar.dayOf(first.windowStartMs + 21 * DAY).openMs;
    const resumed: BarInput = { ...first, windowStartMs: later, windowEndMs: later + MINUTE, ingestedAtMs: later + MINUTE + 500 };
    expect(engine.rejectionOf({ ...resumed, ingestedAtMs: first.windowStartMs })?.reason).toBe('ahead-of-watermark');
    expect(engine.onBar(resumed, ref, false, events)).toBe('applied');
  });

  it('the skew is an engine option', () => {
    const engine = new PatternEngine({ maxEventTimeSkewMs: 5 * MINUTE });
    const [first] = clean;
    engine.onBar(first!, { topic: 'in', partition: 0, offset: 0 }, false, []);
    const tenMinutes = {
      ...first!,
      windowStartMs: first!.windowStartMs + 10 * MINUTE,
      windowEndMs: first!.windowEndMs + 10 * MINUTE,
      ingestedAtMs: first!.ingestedAtMs,
    };
    expect(engine.rejectionOf(tenMinutes)?.reason).toBe('ahead-of-watermark');
  });
});
