import { describe, expect, it } from 'vitest';
import {
  DEFAULT_MAX_EVENT_TIME_SKEW_MS,
  LATEST_EVENT_TIME_MS,
  aheadOfWatermark,
  eventTimeProblem,
  isPlausibleEventTime,
} from './event-time.js';

const DAY = 86_400_000;
const NOW = Date.parse('2026-11-24T15:00:00Z');

describe('plausible event times', () => {
  it('accepts integer ms from 1970 up to (not including) 2200', () => {
    for (const ms of [0, NOW, LATEST_EVENT_TIME_MS - 1]) {
      expect(eventTimeProblem(ms)).toBeUndefined();
      expect(isPlausibleEventTime(ms)).toBe(true);
    }
  });

  it('names what is wrong: before 1970, after 2200 (micro/nanoseconds), fractional, not finite', () => {
    expect(eventTimeProblem(-1)).toMatch(/before 1970/);
    expect(eventTimeProblem(NOW * 1000)).toMatch(/after 2200.*micro- or nanoseconds/);
    expect(eventTimeProblem(9e15)).toMatch(/after 2200/);
    expect(eventTimeProblem(NOW + 0.5)).toMatch(/whole number/);
    expect(eventTimeProblem(Number.NaN)).toMatch(/finite/);
    expect(eventTimeProblem(Number.POSITIVE_INFINITY)).toMatch(/finite/);
    for (const ms of [-1, NOW * 1000, NOW + 0.5, Number.NaN, LATEST_EVENT_TIME_MS]) expect(isPlausibleEventTime(ms)).toBe(false);
  });
});

describe('how far one record may move an event-time clock', () => {
  const skew = DEFAULT_MAX_EVENT_TIME_SKEW_MS;

  it('lets any time through when there is no watermark yet, and times within the skew', () => {
    expect(aheadOfWatermark(NOW + 365 * DAY, -1, skew)).toBe(0);
    expect(aheadOfWatermark(NOW + skew, NOW, skew)).toBe(0);
    expect(aheadOfWatermark(NOW - 365 * DAY, NOW, skew)).toBe(0);
  });

  it('measures a time beyond the skew, unless its own ingestion time vouches for it (a feed resuming after a pause)', () => {
    expect(aheadOfWatermark(NOW + skew + 1, NOW, skew)).toBe(skew + 1);
    // A year ahead of the partition and of its ingestion: refused.
    expect(aheadOfWatermark(NOW + 365 * DAY, NOW, skew, NOW)).toBe(365 * DAY);
    // Three weeks after the last bar, read by ingest at that time: a pause, not a wrong clock.
    expect(aheadOfWatermark(NOW + 21 * DAY, NOW, skew, NOW + 21 * DAY + 5_000)).toBe(0);
    expect(aheadOfWatermark(NOW + 21 * DAY, NOW, skew, Number.NaN)).toBe(21 * DAY);
  });
});
