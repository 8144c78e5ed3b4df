import { describe, expect, it } from 'vitest';
import { barRejection, isAdmissibleBar, tradeRejection, type GuardedBar } from './input-guard.js';

const DAY = 86_400_000;
const SKEW = 7 * DAY;
const START = Date.parse('2026-11-24T15:00:00Z');
const bar: GuardedBar = {
  symbol: 'AAPL',
  interval: 'MINUTE',
  windowStartMs: START,
  windowEndMs: START + 60_000,
  open: 10,
  high: 11,
  low: 9,
  close: 10.5,
  volume: 100,
  ingestedAtMs: START + 61_000,
};

describe('bar admission (pure)', () => {
  it('admits a sound bar, with or without a watermark', () => {
    expect(barRejection(bar, -1, SKEW)).toBeUndefined();
    expect(barRejection(bar, START - 60_000, SKEW)).toBeUndefined();
    expect(barRejection({ ...bar, interval: 'DAY', windowEndMs: START + 25 * 3_600_000 }, START, SKEW)).toBeUndefined();
  });

  it.each([
    [{ symbol: '' }, /symbol/],
    [{ close: Number.NaN }, /close is not a finite/],
    [{ volume: Number.POSITIVE_INFINITY }, /volume is not a finite/],
    [{ low: 0, open: 0 }, /low 0 is not positive/],
    [{ low: -1 }, /low -1 is not positive/],
    [{ volume: -5 }, /volume -5 is negative/],
    [{ high: 8 }, /above high/],
    [{ close: 12 }, /outside low/],
    [{ windowEndMs: START }, /not after windowStartMs/],
  ] as const)('rejects impossible values %j as invalid', (change, message) => {
    const rejection = barRejection({ ...bar, ...change }, START, SKEW);
    expect(rejection?.reason).toBe('invalid');
    expect(rejection?.details).toMatch(message);
  });

  it('rejects times outside 1970..2200 (even the first bar of a partition), fractional ms and over-long windows', () => {
    const cases: [Partial<GuardedBar>, RegExp][] = [
      [{ windowStartMs: 9e15, windowEndMs: 9e15 + 60_000 }, /windowStartMs is after 2200/],
      [{ windowStartMs: START * 1000, windowEndMs: START * 1000 + 60_000 }, /windowStartMs is after 2200/],
      [{ windowStartMs: -60_000, windowEndMs: 0 }, /windowStartMs is before 1970/],
      [{ windowStartMs: START + 0.5 }, /whole number/],
      [{ windowEndMs: START + 365 * DAY }, /MINUTE window of/],
    ];
    for (const [change, message] of cases) {
      const rejection = barRejection({ ...bar, ...change }, -1, SKEW);
      expect(rejection?.reason).toBe('implausible-time');
      expect(rejection?.details).toMatch(message);
    }
  });

  it('rejects a bar further ahead of the watermark than the skew, unless its ingestion time vouches for it', () => {
    const yearAhead = { ...bar, windowStartMs: START + 365 * DAY, windowEndMs: START + 365 * DAY + 60_000 };
    const rejection = barRejection(yearAhead, START, SKEW);
    expect(rejection?.reason).toBe('ahead-of-watermark');
    expect(rejection?.details).toMatch(/365\.0 days ahead .*\(max skew 7\.0 days\)/);
    expect(barRejection({ ...yearAhead, ingestedAtMs: undefined }, START, SKEW)?.reason).toBe('ahead-of-watermark');
    expect(barRejection({ ...yearAhead, ingestedAtMs: yearAhead.windowEndMs + 1_000 }, START, SKEW)).toBeUndefined();
    expect(barRejection({ ...bar, windowStartMs: START + SKEW, windowEndMs: START + SKEW + 60_000 }, START, SKEW)).toBeUndefined();
  });
});

describe("the engine's boolean check (isAdmissibleBar)", () => {
  it('admits exactly the bars barRejection has no reason for', () => {
    const changes: Partial<GuardedBar>[] = [
      {},
      { symbol: '' },
      { open: Number.NaN },
      { high: Number.POSITIVE_INFINITY },
      { low: 0, open: 0 },
      { volume: -5 },
      { high: 8 },
      { close: 12 },
      { open: 8.5 },
      { windowEndMs: START },
      { windowStartMs: START + 0.5 },
      { windowStartMs: -60_000, windowEndMs: 0 },
      { windowStartMs: START * 1000, windowEndMs: START * 1000 + 60_000 },
      { windowEndMs: START + 365 * DAY },
      { interval: 'DAY', windowEndMs: START + 25 * 3_600_000 },
      { interval: 'SECOND', windowEndMs: START + 1_000 },
      { windowStartMs: START + 365 * DAY, windowEndMs: START + 365 * DAY + 60_000 },
      { windowStartMs: START + 365 * DAY, windowEndMs: START + 365 * DAY + 60_000, ingestedAtMs: START + 365 * DAY + 61_000 },
      { windowStartMs: START + SKEW, windowEndMs: START + SKEW + 60_000 },
    ];
    for (const change of changes) {
      for (const watermark of [-1, START]) {
        const candidate = { ...bar, ...change };
        expect(isAdmissibleBar(candidate, watermark, SKEW), JSON.stringify(change)).toBe(
          barRejection(candidate, watermark, SKEW) === undefined,
        );
      }
    }
  });
});

describe('trade admission (pure)', () => {
  const trade = { symbol: 'AAPL', price: 10, size: 100, sipTimestampMs: START, ingestedAtMs: START + 5 };

  it('admits a sound trade and rejects bad values, implausible times and a jump past the skew', () => {
    expect(tradeRejection(trade, START - 1_000, SKEW)).toBeUndefined();
    expect(tradeRejection({ ...trade, symbol: '' }, -1, SKEW)?.reason).toBe('invalid');
    expect(tradeRejection({ ...trade, price: 0 }, -1, SKEW)?.details).toMatch(/price 0/);
    expect(tradeRejection({ ...trade, size: Number.NaN }, -1, SKEW)?.details).toMatch(/size NaN/);
    expect(tradeRejection({ ...trade, sipTimestampMs: START * 1000 }, -1, SKEW)?.reason).toBe('implausible-time');
    expect(tradeRejection({ ...trade, sipTimestampMs: START + 365 * DAY }, START, SKEW)?.reason).toBe('ahead-of-watermark');
  });
});
