import { describe, expect, it } from 'vitest';
import { SessionCalendar } from '../contracts/calendar.js';
import {
  benchSymbols,
  compareReads,
  dailyBucketMs,
  fingerprintOf,
  minutesOf,
  readOrder,
  sessionsOfYear,
  SyntheticBars,
} from './year-of-bars.js';

describe('a year of synthetic minute bars', () => {
  const calendar = new SessionCalendar();
  const now = Date.parse('2026-12-06T06:00:00Z');

  it("takes the calendar's sessions of the 365 days before today, holidays and early closes included", () => {
    const sessions = sessionsOfYear(calendar, now);
    expect(sessions[0]!.date).toBe('2025-12-08');
    expect(sessions.at(-1)!.date).toBe('2026-12-04');
    expect(sessions.map((session) => session.date)).not.toContain('2026-11-26'); // Thanksgiving
    expect(sessions.length).toBe(250);
    // 13:00 early closes (2025-12-24, 2026-11-27) have 210 minutes, every other session 390.
    expect(minutesOf(sessions)).toBe(248 * 390 + 2 * 210);
    expect(sessionsOfYear(calendar, now, 3).map((session) => session.date)).toEqual(['2026-12-02', '2026-12-03', '2026-12-04']);
  });

  it('writes the same COPY lines on every run, in the feed order, and the daily bar of each session', () => {
    const [session] = sessionsOfYear(calendar, now, 1);
    const lines = (bars: SyntheticBars) => [...bars.session(session!, 7)].join('').split('\n').filter(Boolean);
    const first = new SyntheticBars(benchSymbols(3));
    const text = lines(first);
    expect(text).toEqual(lines(new SyntheticBars(benchSymbols(3))));
    expect(text).toHaveLength(3 * 390);
    expect(text.slice(0, 3).map((line) => line.split('\t').slice(0, 2))).toEqual([
      ['Y000', '2026-12-04T14:30:00.000Z'],
      ['Y001', '2026-12-04T14:30:00.000Z'],
      ['Y002', '2026-12-04T14:30:00.000Z'],
    ]);
    const fields = text
      .filter((line) => line.startsWith('Y001'))
      .map((line) => line.split('\t').map((field, index) => (index < 2 ? field : Number(field))));
    const [, , open, high, low, close, volume] = fields[0]!;
    expect(Number(high)).toBeGreaterThanOrEqual(Math.max(Number(open), Number(close)));
    expect(Number(low)).toBeLessThanOrEqual(Math.min(Number(open), Number(close)));
    expect(Number(volume)).toBeGreaterThan(0);

    const daily = first.dailyLines(session!, dailyBucketMs(session!)).split('\n').filter(Boolean);
    const y001 = daily[1]!.split('\t');
    expect(y001.slice(0, 2)).toEqual(['Y001', '2026-12-04T00:00:00.000Z']);
    expect(Number(y001[2])).toBe(fields[0]![2]);
    expect(Number(y001[5])).toBe(fields.at(-1)![5]);
    expect(Number(y001[6])).toBe(fields.reduce((sum, row) => sum + Number(row[6]), 0));
    expect(Number(y001[3])).toBe(Math.max(...fields.map((row) => Number(row[3]))));
  });

  it('shuffles the read order the same way every time', () => {
    const symbols = benchSymbols(20);
    expect(readOrder(symbols)).toEqual(readOrder(symbols));
    expect(readOrder(symbols)).not.toEqual(symbols);
    expect([...readOrder(symbols)].sort()).toEqual(symbols);
  });

  describe('comparing two reads of the bars', () => {
    const bar = { bucket: '2026-03-26T19:00:00.000Z', open: 30.9, high: 31, low: 30.8, close: 30.95, volume: 600, transactions: 7 };
    const read = (vwap: number | null, changes: Partial<typeof bar> = {}) =>
      new Map([['Y172', fingerprintOf([{ ...bar, ...changes, vwap }])]]);

    it('accepts a vwap summed in another order, even on a rounding boundary, and reports the difference', () => {
      // The full-scale run's case: 30.91385 exactly, one path a last bit below, the other a last bit above.
      expect((30.913849999999996).toPrecision(6)).not.toBe((30.91385000000001).toPrecision(6));
      const comparison = compareReads(read(30.913849999999996), read(30.91385000000001));
      expect(comparison.differing).toEqual([]);
      expect(comparison.largestVwapDifference).toBeGreaterThan(0);
      expect(comparison.largestVwapDifference).toBeLessThan(1e-15);
      expect(compareReads(read(null), read(null))).toEqual({ differing: [], largestVwapDifference: 0 });
    });

    it('names the symbol and what differs: a vwap beyond the tolerance, a missing vwap, another column or bar, a missing symbol', () => {
      expect(compareReads(read(30.9138), read(30.9139)).differing).toEqual(['Y172 (vwap of 2026-03-26T19:00:00.000Z: 30.9138 vs 30.9139)']);
      expect(compareReads(read(30.9), read(null)).differing).toEqual(['Y172 (vwap of 2026-03-26T19:00:00.000Z: 30.9 vs NaN)']);
      expect(compareReads(read(30.9), read(30.9, { volume: 601 })).differing[0]).toMatch(/^Y172 \(1 vs 1 bars; other buckets/);
      expect(compareReads(read(30.9), new Map()).differing).toEqual(['Y172 (not in the second read)']);
      expect(compareReads(new Map(), read(30.9)).differing).toEqual(['Y172 (not in the first read)']);
    });
  });
});
