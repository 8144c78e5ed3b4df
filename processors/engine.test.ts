import { describe, expect, it } from 'vitest';
import { SessionCalendar, defaultCalendarConfig, parseClock, parseEarlyCloses } from '../contracts/calendar.js';
import {
  ACTIVE_SLOTS_PER_SYMBOL,
  MAX_EMISSIONS_PER_ACTIVATION,
  PatternEngine,
  SnapshotVersionError,
  type BarInput,
  type FundamentalsInput,
  type PatternEventRecord,
  type SourceRef,
} from './engine.js';
import { PATTERN_CATALOG } from './catalog.js';
import { FundamentalsHistory } from './fundamentals.js';
import { digest } from '../platform/digest.js';

const calendar = new SessionCalendar();
const MINUTE = 60_000;

function openOf(date: string): number {
  return calendar.dayOf(Date.parse(`${date}T17:00:00Z`)).openMs;
}

function minuteBar(symbol: string, date: string, minute: number, close: number, volume = 1000, options: Partial<BarInput> = {}): BarInput {
  const start = openOf(date) + minute * MINUTE;
  const open = options.open ?? close;
  return {
    symbol,
    interval: 'MINUTE',
    windowStartMs: start,
    windowEndMs: start + MINUTE,
    open,
    high: Math.max(open, close) + 0.05,
    low: Math.min(open, close) - 0.05,
    close,
    volume,
    source: 'massive',
    ...options,
  };
}

function dayBar(symbol: string, date: string, close: number, volume = 1_000_000, open = close): BarInput {
  const start = calendar.dayOf(Date.parse(`${date}T17:00:00Z`)).startMs;
  return {
    symbol,
    interval: 'DAY',
    windowStartMs: start,
    windowEndMs: start + 86_400_000,
    open,
    high: Math.max(open, close) * 1.002,
    low: Math.min(open, close) * 0.998,
    close,
    volume,
    source: 'rest',
  };
}

class Runner {
  readonly events: PatternEventRecord[] = [];
  private offset = 0;
  constructor(readonly engine: PatternEngine = new PatternEngine()) {}
  feed(bar: BarInput, copy = false): string {
    const ref: SourceRef = { topic: 'in', partition: 0, offset: this.offset++ };
    return this.engine.onBar(bar, ref, copy, this.events);
  }
  of(pattern: string): PatternEventRecord[] {
    return this.events.filter((event) => event.pattern === pattern);
  }
}

/** Alternating quiet minute bars (no pattern but oscillator crosses). */
function quietSession(runner: Runner, symbol: string, date: string, from: number, to: number, base = 100, copy = false) {
  for (let minute = from; minute < to; minute += 1) {
    runner.feed(
      minuteBar(symbol, date, minute, minute % 2 === 0 ? base + 0.3 : base, 1000, { open: minute % 2 === 0 ? base : base + 0.3 }),
      copy,
    );
  }
}

/** A deterministic multi-symbol stream over several sessions. */
function randomStream(sessions: readonly string[], symbols: readonly string[], seed = 7): BarInput[] {
  let state = seed;
  const random = () => {
    state = (state * 1103515245 + 12345) % 2147483648;
    return state / 2147483648;
  };
  const prices = new Map(symbols.map((symbol) => [symbol, 100]));
  const bars: BarInput[] = [];
  for (const date of sessions) {
    for (let minute = 0; minute < 390; minute += 1) {
      for (const symbol of symbols) {
        const open = prices.get(symbol)!;
        const close = Math.max(1, open * (1 + (random() - 0.5) * 0.01));
        prices.set(symbol, close);
        const volume = random() < 0.03 ? 5000 + random() * 5000 : 800 + random() * 400;
        bars.push(
          minuteBar(symbol, date, minute, close, volume, {
            open,
            high: Math.max(open, close) * (1 + random() * 0.002),
            low: Math.min(open, close) * (1 - random() * 0.002),
          }),
        );
      }
    }
  }
  return bars;
}

describe('session calendar (America/New_York)', () => {
  it('opens at 09:30 local across DST changes', () => {
    expect(new Date(openOf('2026-03-06')).toISOString()).toBe('2026-03-06T14:30:00.000Z');
    expect(new Date(openOf('2026-03-09')).toISOString()).toBe('2026-03-09T13:30:00.000Z');
    const switchDay = calendar.day(calendar.dayOf(Date.parse('2026-03-08T17:00:00Z')).dayNumber);
    expect(switchDay.endMs - switchDay.startMs).toBe(23 * 3_600_000);
    expect(switchDay.isTradingDay).toBe(false);
  });

  it('knows holidays and early closes from configuration', () => {
    const thanksgiving = calendar.dayOf(Date.parse('2026-11-26T17:00:00Z'));
    expect(thanksgiving.isTradingDay).toBe(false);
    const friday = calendar.dayOf(Date.parse('2026-11-27T17:00:00Z'));
    expect(new Date(friday.closeMs).toISOString()).toBe('2026-11-27T18:00:00.000Z');
    expect(calendar.nextTradingDay(calendar.dayOf(Date.parse('2026-11-25T17:00:00Z')).dayNumber).date).toBe('2026-11-27');
    expect(calendar.inSession(Date.parse('2026-11-24T14:30:00Z'))).toBe(true);
    expect(calendar.inSession(Date.parse('2026-11-24T21:00:00Z'))).toBe(false);
    const custom = new SessionCalendar({
      ...defaultCalendarConfig(),
      holidays: ['2026-11-24'],
      earlyCloses: parseEarlyCloses(['2026-11-25@12:00']),
    });
    expect(custom.dayOf(Date.parse('2026-11-24T17:00:00Z')).isTradingDay).toBe(false);
    expect(new Date(custom.dayOf(Date.parse('2026-11-25T16:00:00Z')).closeMs).toISOString()).toBe('2026-11-25T17:00:00.000Z');
  });

  it('rejects malformed configuration', () => {
    expect(() => parseClock('9h30')).toThrow(/HH:MM/);
    expect(() => parseClock('24:00')).toThrow(/range/);
    expect(() => parseEarlyCloses(['2026-11-27'])).toThrow(/early close/);
  });
});

describe('pattern engine', () => {
  it('documents every pattern it can emit', () => {
    const runner = new Runner();
    for (const bar of randomStream(['2026-11-23', '2026-11-24', '2026-11-25'], ['AAA', 'BBB', 'SPY'])) runner.feed(bar);
    const catalog = new Set(PATTERN_CATALOG.map((entry) => entry.name));
    for (const event of runner.events) expect(catalog.has(event.pattern)).toBe(true);
    expect(new Set(runner.events.map((event) => event.pattern)).size).toBeGreaterThan(10);
  });

  it('the same input gives byte-identical output, and snapshot + replay reproduces the tail', () => {
    const bars = randomStream(['2026-11-23', '2026-11-24', '2026-11-25'], ['AAA', 'BBB', 'SPY']);
    const first = new Runner();
    const second = new Runner();
    for (const bar of bars) first.feed(bar);
    for (const bar of bars) second.feed(bar);
    expect(first.events.length).toBeGreaterThan(100);
    expect(JSON.stringify(second.events)).toBe(JSON.stringify(first.events));

    const half = Math.floor(bars.length / 2);
    const before = new Runner();
    for (const bar of bars.slice(0, half)) before.feed(bar);
    const emittedBefore = before.events.length;
    const snapshot = before.engine.snapshot();
    const restored = new Runner(PatternEngine.restore(snapshot));
    // Offsets continue where the snapshot left off.
    for (let i = 0; i < half; i += 1) (restored as unknown as { offset: number }).offset += 1;
    for (const bar of bars.slice(half)) restored.feed(bar);
    expect(JSON.stringify(restored.events)).toBe(JSON.stringify(first.events.slice(emittedBefore)));
    expect(restored.engine.symbolCount).toBe(3);
  });

  it('emits at most one event per pattern per bar, over a random multi-session stream', () => {
    const runner = new Runner();
    for (const bar of randomStream(
      ['2026-11-23', '2026-11-24', '2026-11-25', '2026-11-26', '2026-11-27', '2026-11-30'],
      ['AAA', 'BBB', 'SPY'],
      3,
    ))
      runner.feed(bar);
    const combos = runner.events.filter((event) => event.tier === 'COMBO');
    expect(combos.length).toBeGreaterThan(0);
    const seen = new Map<string, number>();
    for (const event of runner.events) {
      const key = `${event.sourceOffset}|${event.patternId}`;
      seen.set(key, (seen.get(key) ?? 0) + 1);
    }
    expect([...seen].filter(([, count]) => count > 1)).toEqual([]);
  });

  it('rejects a snapshot of another engine version', async () => {
    const { gzipSync } = await import('node:zlib');
    const bogus = gzipSync(Buffer.from(`${JSON.stringify({ version: 999, clock: 0, seq: 0, pendingCloseMs: null })}\n[]\n[]`));
    expect(() => PatternEngine.restore(bogus)).toThrow(SnapshotVersionError);
  });

  it('detects, updates while active, and expires by event time (intraday TTL)', () => {
    const runner = new Runner();
    quietSession(runner, 'AAA', '2026-11-24', 0, 30);
    runner.feed(minuteBar('AAA', '2026-11-24', 30, 100.3, 5000, { open: 100 }));
    runner.feed(minuteBar('AAA', '2026-11-24', 31, 100.6, 9000, { open: 100.3 }));
    const spikes = runner.of('volume_spike');
    expect(spikes.map((event) => event.kind)).toEqual(['DETECTED', 'UPDATED']);
    expect(spikes[1]!.patternId).toBe(spikes[0]!.patternId);
    expect(spikes[1]!.eventId).not.toBe(spikes[0]!.eventId);
    expect(spikes[0]!.expiresAtMs - spikes[0]!.detectedAtMs).toBe(2 * 3_600_000);
    expect(spikes[0]).toMatchObject({
      tier: 'INTRADAY',
      direction: 'BULLISH',
      symbol: 'AAA',
      price: 100.3,
      volume: 5000,
      sourceTopic: 'in',
      sourceOffset: 30,
    });
    expect(spikes[0]!.relativeVolume).toBeCloseTo(5, 9);
    expect(spikes[0]!.rsi).not.toBeNull();
    // Another symbol's bars move event time; nothing expires before the deadline.
    quietSession(runner, 'BBB', '2026-11-24', 32, 32 + 120);
    expect(runner.of('volume_spike').filter((event) => event.kind === 'EXPIRED')).toHaveLength(0);
    quietSession(runner, 'BBB', '2026-11-24', 152, 155);
    const expired = runner.of('volume_spike').filter((event) => event.kind === 'EXPIRED');
    expect(expired).toHaveLength(1);
    expect(expired[0]!.patternId).toBe(spikes[0]!.patternId);
    expect(runner.engine.activeCount).toBeGreaterThanOrEqual(0);
  });

  it('builds daily bars at the session close, feeds the gap pattern and never carries intraday patterns overnight', () => {
    const runner = new Runner();
    quietSession(runner, 'AAA', '2026-11-24', 0, 390);
    expect(runner.events.some((event) => event.tier === 'DAILY')).toBe(false);
    // Next session opens 2% higher: the first bar finalises yesterday and reports the gap against its close.
    runner.feed(minuteBar('AAA', '2026-11-25', 0, 102.1, 1000, { open: 102 }));
    const gap = runner.of('gap_up');
    expect(gap).toHaveLength(1);
    expect(gap[0]!.levels.previousClose).toBe(100);
    expect(gap[0]!.change).toBeCloseTo(2.1, 9);
    expect(gap[0]!.changePct).toBeCloseTo(2.1, 9);
    const intradayLeft = runner.events.filter(
      (event) => event.tier === 'INTRADAY' && event.kind !== 'EXPIRED' && event.detectedAtMs < openOf('2026-11-25'),
    );
    const expiredIds = new Set(runner.events.filter((event) => event.kind === 'EXPIRED').map((event) => event.patternId));
    for (const event of intradayLeft) expect(event.expiresAtMs).toBeLessThanOrEqual(calendar.dayOf(openOf('2026-11-24')).closeMs);
    for (const event of intradayLeft) expect(expiredIds.has(event.patternId)).toBe(true);
  });

  it('skips bars outside the session, on holidays, duplicates, and invalid bars', () => {
    const runner = new Runner();
    expect(runner.feed(minuteBar('AAA', '2026-11-24', -10, 100))).toBe('outside-session');
    expect(runner.feed(minuteBar('AAA', '2026-11-26', 10, 100))).toBe('outside-session');
    expect(runner.feed(minuteBar('AAA', '2026-11-27', 5, 100))).toBe('applied');
    expect(runner.feed(minuteBar('AAA', '2026-11-27', 5, 100))).toBe('duplicate');
    expect(runner.feed(minuteBar('AAA', '2026-11-27', 6, 100, 1000, { high: 99 }))).toBe('invalid');
    expect(runner.feed(minuteBar('AAA', '2026-11-27', 6, Number.NaN))).toBe('invalid');
    // Prices must be positive (PATTERNS.md): a zero or negative low is impossible.
    expect(runner.feed(minuteBar('AAA', '2026-11-27', 6, 0.02, 1000, { open: 0.02, low: 0 }))).toBe('invalid');
    expect(runner.feed(minuteBar('AAA', '2026-11-27', 6, 0.02, 1000, { open: 0.02, low: -0.01 }))).toBe('invalid');
    expect(runner.feed(minuteBar('AAA', '2026-11-27', 6, 0.02, 0, { open: 0.02, low: 0.01 }))).toBe('applied');
    expect(runner.feed({ ...minuteBar('AAA', '2026-11-27', 7, 100), interval: 'SECOND' })).toBe('ignored');
    // 13:00 early close: 13:00 is outside.
    expect(runner.feed(minuteBar('AAA', '2026-11-27', 210, 100))).toBe('outside-session');
  });

  it('uses bars built from trades only for symbols without native bars', () => {
    const runner = new Runner();
    expect(runner.feed(minuteBar('ONLYT', '2026-11-24', 0, 100, 1000, { source: 'trades' }))).toBe('applied');
    expect(runner.feed(minuteBar('BOTH', '2026-11-24', 0, 100))).toBe('applied');
    expect(runner.feed(minuteBar('BOTH', '2026-11-24', 1, 100, 1000, { source: 'trades' }))).toBe('ignored');
  });

  it('feeds broadcast copies of the benchmark to relative strength without emitting their patterns', () => {
    const runner = new Runner();
    quietSession(runner, 'SPY', '2026-11-24', 0, 30, 100, true);
    expect(runner.events).toHaveLength(0);
    expect(runner.feed(minuteBar('SPY', '2026-11-24', 30, 100.3, 9000, { open: 100 }), true)).toBe('applied');
    expect(runner.of('volume_spike')).toHaveLength(0);
    // A copy of any other symbol is not ours to process.
    expect(runner.feed(minuteBar('AAA', '2026-11-24', 30, 100), true)).toBe('ignored');
    const home = new Runner();
    quietSession(home, 'SPY', '2026-11-24', 0, 30);
    home.feed(minuteBar('SPY', '2026-11-24', 30, 100.3, 9000, { open: 100 }));
    expect(home.of('volume_spike')).toHaveLength(1);
  });

  it('on the daily topic, broadcast copies of the benchmark feed relative strength only; copies of other symbols, repeats and second bars are skipped', () => {
    const runner = new Runner();
    const home = new Runner();
    const dates: string[] = [];
    for (let day = calendar.dayOf(Date.parse('2026-10-01T17:00:00Z')).dayNumber; dates.length < 22; day += 1) {
      const info = calendar.day(day);
      if (info.isTradingDay) dates.push(info.date);
    }
    dates.forEach((date, i) => {
      const spy = dayBar('SPY', date, 100 + (i % 2), i === 21 ? 9_000_000 : 1_000_000);
      expect(runner.feed(spy, true)).toBe('applied');
      home.feed(spy);
    });
    expect(runner.events).toHaveLength(0);
    expect(home.of('volume_spike').filter((event) => event.tier === 'DAILY')).toHaveLength(1);
    expect(runner.feed(dayBar('AAA', dates[21]!, 100), true)).toBe('ignored');
    expect(runner.feed(dayBar('SPY', dates[21]!, 100), true)).toBe('duplicate');
    expect(runner.feed({ ...minuteBar('AAA', dates[21]!, 0, 100), interval: 'SECOND', windowEndMs: openOf(dates[21]!) + 1000 })).toBe(
      'ignored',
    );
    expect(runner.engine.symbolCount).toBe(2);
    // The copies made the benchmark's window: a home symbol's daily event carries relative strength.
    dates.forEach((date, i) => runner.feed(dayBar('BBB', date, 100 + i, i === 21 ? 5_000_000 : 1_000_000, 100 + i - 0.5)));
    const spike = runner.of('volume_spike').find((event) => event.symbol === 'BBB')!;
    expect(spike.relativeStrength).toBeCloseTo(121 / 101 / (100 / 100), 9);
  });

  it('measures relative strength over 20 sessions against the benchmark', () => {
    const runner = new Runner();
    const dates: string[] = [];
    for (let day = calendar.dayOf(Date.parse('2026-10-01T17:00:00Z')).dayNumber; dates.length < 22; day += 1) {
      const info = calendar.day(day);
      if (info.isTradingDay) dates.push(info.date);
    }
    dates.forEach((date, i) => {
      runner.feed(dayBar('SPY', date, 100 + i * 0.5), true);
      runner.feed(dayBar('AAA', date, 100 + i, i === 21 ? 5_000_000 : 1_000_000, 100 + i - 0.5));
    });
    const spike = runner.of('volume_spike').find((event) => event.tier === 'DAILY')!;
    expect(spike.relativeStrength).toBeCloseTo(121 / 101 / (110.5 / 100.5), 9);
    expect(spike.change).toBeCloseTo(1, 9);
    expect(spike.expiresAtMs - spike.detectedAtMs).toBe(10 * 86_400_000);
  });

  it('applies the fundamental overlay to bullish patterns from their effective date', () => {
    const facts = new Map<string, FundamentalsInput>([
      ['AAA', { symbol: 'AAA', asOfDate: '2026-11-20', epsSurprisePct: 4.2, revenueYoYGrowthPct: 12 }],
      ['BBB', { symbol: 'BBB', asOfDate: '2026-11-25', epsSurprisePct: 4.2, revenueYoYGrowthPct: 12 }],
      ['CCC', { symbol: 'CCC', asOfDate: '2026-11-20', eps: 1.1, epsEstimate: 1, revenueYoYGrowthPct: 5 }],
    ]);
    const runner = new Runner(new PatternEngine({ fundamentals: { get: (symbol) => facts.get(symbol) } }));
    for (const symbol of ['AAA', 'BBB', 'CCC']) {
      quietSession(runner, symbol, '2026-11-24', 0, 30);
      runner.feed(minuteBar(symbol, '2026-11-24', 30, 100.3, 5000, { open: 100 }));
      runner.feed(minuteBar(symbol, '2026-11-24', 31, 99.9, 20000, { open: 100.3 }));
    }
    const bullish = (symbol: string) =>
      runner.of('volume_spike').find((event) => event.symbol === symbol && event.direction === 'BULLISH')!;
    const bearish = (symbol: string) =>
      runner.of('volume_spike').find((event) => event.symbol === symbol && event.direction === 'BEARISH')!;
    expect(bullish('AAA').fundamentalAdjustment).toBeCloseTo(0.08, 12);
    expect(bullish('AAA').confidence).toBeCloseTo(bullish('AAA').baseConfidence + 0.08, 12);
    expect(bullish('AAA').fundamentalReasons).toEqual(['eps_surprise:+4.20%', 'revenue_yoy:+12.00%']);
    expect(bullish('BBB').fundamentalAdjustment).toBe(0);
    expect(bullish('CCC').fundamentalReasons).toEqual(['eps_surprise:+10.00%']);
    expect(bearish('AAA').fundamentalAdjustment).toBe(0);
    // Capped at 1.
    expect(bearish('AAA').baseConfidence).toBeLessThanOrEqual(1);
    for (const event of runner.events) expect(event.confidence).toBeLessThanOrEqual(1);
  });

  it('uses the fundamentals in force on each detection date, so a replay with the full history reproduces the live run', () => {
    const bars = randomStream(['2026-11-23', '2026-11-24', '2026-11-25'], ['AAA', 'BBB', 'SPY'], 11);
    const records: FundamentalsInput[] = [
      { symbol: 'AAA', asOfDate: '2026-11-01', epsSurprisePct: 3, revenueYoYGrowthPct: 20 },
      { symbol: 'AAA', asOfDate: '2026-11-24', epsSurprisePct: -2, revenueYoYGrowthPct: 1 },
      { symbol: 'BBB', asOfDate: '2026-11-25', eps: 2, epsEstimate: 1 },
    ];
    // Live: each record is published before the bars of its date; replay: the whole history is loaded first.
    const live = new FundamentalsHistory();
    const liveRunner = new Runner(new PatternEngine({ fundamentals: live }));
    for (const bar of bars) {
      const date = calendar.dayOf(bar.windowStartMs).date;
      for (const record of records) if (record.asOfDate <= date && live.get(record.symbol, record.asOfDate) !== record) live.put(record);
      liveRunner.feed(bar);
    }
    const full = new FundamentalsHistory();
    for (const record of records) full.put(record);
    const replayRunner = new Runner(new PatternEngine({ fundamentals: full }));
    for (const bar of bars) replayRunner.feed(bar);
    expect(JSON.stringify(replayRunner.events)).toBe(JSON.stringify(liveRunner.events));

    const bullishAAA = (date: string) =>
      replayRunner.events.filter(
        (event) =>
          event.symbol === 'AAA' &&
          event.direction === 'BULLISH' &&
          event.kind !== 'EXPIRED' &&
          calendar.dayOf(event.detectedAtMs - 1).date === date,
      );
    expect(bullishAAA('2026-11-23').length).toBeGreaterThan(0);
    for (const event of bullishAAA('2026-11-23')) expect(event.fundamentalReasons).toEqual(['eps_surprise:+3.00%', 'revenue_yoy:+20.00%']);
    expect(bullishAAA('2026-11-24').length).toBeGreaterThan(0);
    for (const event of bullishAAA('2026-11-24')) expect(event.fundamentalAdjustment).toBe(0);
    const bullishBBB = replayRunner.events.filter(
      (event) => event.symbol === 'BBB' && event.direction === 'BULLISH' && event.kind !== 'EXPIRED',
    );
    for (const event of bullishBBB) {
      expect(event.fundamentalReasons).toEqual(
        calendar.dayOf(event.detectedAtMs - 1).date === '2026-11-25' ? ['eps_surprise:+100.00%'] : [],
      );
    }
  });

  it('caps the overlay at a confidence of 1', () => {
    const facts: FundamentalsInput = { symbol: 'AAA', asOfDate: '2026-01-01', epsSurprisePct: 1, revenueYoYGrowthPct: 50 };
    const runner = new Runner(new PatternEngine({ fundamentals: { get: () => facts } }));
    quietSession(runner, 'AAA', '2026-11-24', 0, 30);
    runner.feed(minuteBar('AAA', '2026-11-24', 30, 103, 100_000, { open: 100 }));
    const breakout = runner.of('breakout_high')[0]!;
    expect(breakout.baseConfidence).toBeGreaterThan(0.92);
    expect(breakout.confidence).toBe(1);
    expect(breakout.fundamentalAdjustment).toBeCloseTo(1 - breakout.baseConfidence, 12);
    expect(breakout.fundamentalReasons).toHaveLength(2);
  });

  it('confirms an active daily setup with an intraday trigger (COMBO, lives to the close)', () => {
    const runner = new Runner();
    const dates = [
      '2026-10-26',
      '2026-10-27',
      '2026-10-28',
      '2026-10-29',
      '2026-10-30',
      '2026-11-02',
      '2026-11-03',
      '2026-11-04',
      '2026-11-05',
      '2026-11-06',
      '2026-11-09',
      '2026-11-10',
      '2026-11-11',
      '2026-11-12',
      '2026-11-13',
      '2026-11-16',
      '2026-11-17',
      '2026-11-18',
      '2026-11-19',
      '2026-11-20',
      '2026-11-23',
    ];
    dates.forEach((date, i) => {
      const last = i === dates.length - 1;
      runner.feed(
        last ? dayBar('AAA', date, 100.3, 5_000_000, 100) : dayBar('AAA', date, 100 + (i % 2) * 0.3, 1_000_000, 100 + ((i + 1) % 2) * 0.3),
      );
    });
    const daily = runner.of('volume_spike').find((event) => event.tier === 'DAILY');
    expect(daily?.direction).toBe('BULLISH');
    quietSession(runner, 'AAA', '2026-11-24', 0, 30);
    runner.feed(minuteBar('AAA', '2026-11-24', 30, 100.3, 5000, { open: 100 }));
    const combo = runner.of('combo_bullish_confirmation');
    expect(combo).toHaveLength(1);
    expect(combo[0]).toMatchObject({ tier: 'COMBO', kind: 'DETECTED', direction: 'BULLISH' });
    expect(combo[0]!.expiresAtMs).toBe(calendar.dayOf(openOf('2026-11-24')).closeMs);
    expect(combo[0]!.levels.dailyDetectedAtMs).toBe(daily!.detectedAtMs);
    // A bearish trigger does not confirm a bullish setup.
    runner.feed(minuteBar('AAA', '2026-11-24', 31, 99.7, 20000, { open: 100.3 }));
    expect(runner.of('combo_bearish_confirmation')).toHaveLength(0);
    // Near miss: the same intraday trigger without an active daily setup is no combo.
    const alone = new Runner();
    quietSession(alone, 'BBB', '2026-11-24', 0, 30);
    alone.feed(minuteBar('BBB', '2026-11-24', 30, 100.3, 5000, { open: 100 }));
    expect(alone.of('volume_spike')).toHaveLength(1);
    expect(alone.events.filter((event) => event.tier === 'COMBO')).toHaveLength(0);
  });

  it('emits one combo event per bar, with the best trigger of the bar, however many triggers fire', () => {
    const runner = new Runner();
    const dates = [
      '2026-10-26',
      '2026-10-27',
      '2026-10-28',
      '2026-10-29',
      '2026-10-30',
      '2026-11-02',
      '2026-11-03',
      '2026-11-04',
      '2026-11-05',
      '2026-11-06',
      '2026-11-09',
      '2026-11-10',
      '2026-11-11',
      '2026-11-12',
      '2026-11-13',
      '2026-11-16',
      '2026-11-17',
      '2026-11-18',
      '2026-11-19',
      '2026-11-20',
      '2026-11-23',
    ];
    dates.forEach((date, i) => {
      const last = i === dates.length - 1;
      runner.feed(
        last ? dayBar('AAA', date, 100.3, 2_500_000, 100) : dayBar('AAA', date, 100 + (i % 2) * 0.3, 1_000_000, 100 + ((i + 1) % 2) * 0.3),
      );
    });
    const daily = runner.events.filter((event) => event.tier === 'DAILY' && event.direction === 'BULLISH');
    expect(daily.map((event) => event.pattern)).toContain('volume_spike');
    quietSession(runner, 'AAA', '2026-11-24', 0, 31);
    const before = runner.events.length;
    // One bar, several bullish triggers: first (in catalog order) a volume spike of 0.55, later a momentum
    // spike, a Bollinger breakout and a 25-bar breakout near 0.9. Before, the combo went out at the first
    // trigger's confidence and again (UPDATED) at a later one's.
    runner.feed(minuteBar('AAA', '2026-11-24', 31, 103, 2500, { open: 100.3 }));
    const onBar = runner.events.slice(before);
    const triggers = onBar.filter((event) => event.tier === 'INTRADAY' && event.direction === 'BULLISH' && event.pattern !== 'doji');
    expect(triggers.map((event) => event.pattern)).toEqual(['volume_spike', 'momentum_spike', 'bollinger_breakout_up', 'breakout_high']);
    expect(triggers[0]!.baseConfidence).toBeCloseTo(0.55, 12);
    const combo = onBar.filter((event) => event.tier === 'COMBO');
    expect(combo.map((event) => event.kind)).toEqual(['DETECTED']);
    const best = Math.max(...daily.map((event) => event.baseConfidence), ...triggers.map((event) => event.baseConfidence));
    expect(best).toBeGreaterThan(0.85);
    expect(combo[0]!.baseConfidence).toBeCloseTo(Math.min(1, best + 0.1), 12);
    // Every pattern of the bar has at most one event.
    const patternIds = onBar.map((event) => event.patternId);
    expect(new Set(patternIds).size).toBe(patternIds.length);
  });
});

describe('engine symbol cap', () => {
  it('rejects bars of new symbols beyond maxSymbols (symbol-limit) and keeps serving the symbols it holds', () => {
    const engine = new PatternEngine({ calendar, maxSymbols: 50 });
    const ref: SourceRef = { topic: 'in', partition: 0, offset: 0 };
    const out: PatternEventRecord[] = [];
    let refused = 0;
    for (let index = 0; index < 2_000; index += 1) {
      const bar = minuteBar(`UNKNOWN${index}`, '2026-11-24', 1 + Math.floor(index / 100), 10);
      if (engine.onBar(bar, ref, false, out) === 'invalid') {
        refused += 1;
        expect(engine.rejectionOf(bar)?.reason).toBe('symbol-limit');
      }
    }
    expect(engine.symbolCount).toBe(50);
    expect(refused).toBe(1_950);
    expect(engine.onBar(minuteBar('UNKNOWN0', '2026-11-24', 30, 10), ref, false, out)).toBe('applied');
    // The cap survives a snapshot and restore.
    const restored = PatternEngine.restore(engine.snapshot(), { calendar, maxSymbols: 50 });
    expect(restored.onBar(minuteBar('NEWCOMER', '2026-11-24', 31, 10), ref, false, out)).toBe('invalid');
    expect(restored.symbolCount).toBe(50);
  });
});

describe('engine active patterns over time', () => {
  it('holds only patterns not yet expired, so past the daily TTL the active set stops growing (bounded per symbol)', () => {
    // 25 trading sessions: the 10-day daily TTL passes more than twice.
    const sessions: string[] = [];
    for (let day = Date.parse('2026-09-01T17:00:00Z'); sessions.length < 25; day += 86_400_000) {
      if (calendar.dayOf(day).isTradingDay) sessions.push(new Date(day).toISOString().slice(0, 10));
    }
    const symbols = ['AAA', 'BBB', 'CCC', 'SPY'];
    const runner = new Runner(new PatternEngine({ calendar }));
    const open = new Map<string, PatternEventRecord>();
    let read = 0;
    const dailyActiveAtSessionEnd: number[] = [];
    const bars = randomStream(sessions, symbols, 23);
    for (let index = 0; index < bars.length; index += 1) {
      runner.feed(bars[index]!);
      if ((index + 1) % (390 * symbols.length) !== 0) continue;
      for (; read < runner.events.length; read += 1) {
        const event = runner.events[read]!;
        if (event.kind === 'EXPIRED') open.delete(event.patternId);
        else open.set(event.patternId, event);
      }
      const engine = runner.engine;
      expect(engine.activeCount).toBe(open.size);
      // Nothing outlives its expiry: the active set is what detection left within each tier's TTL.
      for (const event of open.values()) expect(event.expiresAtMs).toBeGreaterThan(engine.clockMs);
      expect(engine.activeCount).toBeLessThanOrEqual(engine.symbolCount * ACTIVE_SLOTS_PER_SYMBOL);
      expect(engine.expiryQueueLength).toBeLessThanOrEqual(engine.activeCount * MAX_EMISSIONS_PER_ACTIVATION);
      dailyActiveAtSessionEnd.push([...open.values()].filter((event) => event.tier === 'DAILY').length);
    }
    const expiredDaily = runner.events.filter((event) => event.kind === 'EXPIRED' && event.tier === 'DAILY');
    expect(expiredDaily.length).toBeGreaterThan(0);
    // Past the TTL, daily patterns expire as new ones come: the count stays within what 10 days of detections leave.
    const detectedDaily = runner.events.filter((event) => event.kind === 'DETECTED' && event.tier === 'DAILY');
    expect(Math.max(...dailyActiveAtSessionEnd)).toBeLessThan(detectedDaily.length);
  });
});

/** Pinned from the engine at f59dfb7 (main, ENGINE_VERSION 4). */
const PINNED_OUTCOMES = { applied: 7200, invalid: 7, ignored: 1, 'outside-session': 2281 };
const PINNED_EVENT_COUNT = 2377;
const PINNED_EVENTS_DIGEST = 'JfGys2cwywLT3DRgZid7ax';

describe('engine output on a fixed stream', () => {
  /**
   * The events and bar outcomes of a fixed stream, pinned as a digest: thirty daily bars then six sessions of minute
   * bars of four symbols (a holiday and an early close among them), one engine with a fundamentals overlay, and bars each admission
   * rule refuses spliced in. A change of the digest is a change of behaviour; speed work must leave it alone.
   */
  it('emits exactly the pinned events and outcomes', () => {
    const sessions = ['2026-11-23', '2026-11-24', '2026-11-25', '2026-11-26', '2026-11-27', '2026-11-30'];
    const symbols = ['AAA', 'BBB', 'CCC', 'SPY'];
    const bars: BarInput[] = [];
    // Thirty sessions of daily bars first, so daily setups (and the combos they arm) exist.
    const days: string[] = [];
    for (let ms = Date.parse('2026-11-20T17:00:00Z'); days.length < 30; ms -= 86_400_000) {
      if (calendar.dayOf(ms).isTradingDay) days.unshift(new Date(ms).toISOString().slice(0, 10));
    }
    for (const [index, date] of days.entries()) {
      for (const [rank, symbol] of symbols.entries()) {
        const close = 100 + rank + 8 * Math.sin((index + rank) / 3);
        bars.push(dayBar(symbol, date, close, 1_000_000 + 50_000 * ((index * 7 + rank) % 5), close * (index % 2 === 0 ? 0.99 : 1.01)));
      }
    }
    const clean = randomStream(sessions, symbols, 11);
    for (const [index, bar] of clean.entries()) {
      bars.push(bar);
      if (index % 997 !== 500) continue;
      // One refused or skipped bar of each kind, every ~1,000 bars.
      const kind = Math.floor(index / 997) % 7;
      if (kind === 0) bars.push({ ...bar, close: Number.NaN });
      else if (kind === 1) bars.push({ ...bar, low: bar.high * 1.01 });
      else if (kind === 2) bars.push({ ...bar, windowStartMs: bar.windowStartMs * 1000, windowEndMs: bar.windowStartMs * 1000 + MINUTE });
      else if (kind === 3)
        bars.push({ ...bar, windowStartMs: bar.windowStartMs + 400 * 86_400_000, windowEndMs: bar.windowEndMs + 400 * 86_400_000 });
      else if (kind === 4) bars.push({ ...bar, interval: 'SECOND', windowEndMs: bar.windowStartMs + 1_000 });
      else if (kind === 5) bars.push({ ...bar });
      else bars.push({ ...bar, symbol: '' });
    }
    const facts = new Map<string, FundamentalsInput>([
      ['AAA', { symbol: 'AAA', asOfDate: '2026-11-20', eps: 1.2, epsEstimate: 1, epsSurprisePct: null, revenueYoYGrowthPct: 12 }],
    ]);
    const runner = new Runner(new PatternEngine({ fundamentals: { get: (symbol) => facts.get(symbol) } }));
    const outcomes = new Map<string, number>();
    for (const bar of bars) {
      const outcome = runner.feed(bar);
      outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
    }
    expect(Object.fromEntries(outcomes)).toEqual(PINNED_OUTCOMES);
    expect(runner.events.length).toBe(PINNED_EVENT_COUNT);
    expect(digest(JSON.stringify(runner.events))).toBe(PINNED_EVENTS_DIGEST);
  });
});
