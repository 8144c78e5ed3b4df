import { describe, expect, it } from 'vitest';
import { backoffDelay, type BackoffPolicy } from './backoff.js';

const plain: BackoffPolicy = { baseMs: 100, maxMs: 5000, jitter: 'none' };
const jittered: BackoffPolicy = { baseMs: 100, maxMs: 1600, jitter: 'equal' };

describe('backoffDelay', () => {
  it('doubles per attempt from the base, up to the cap', () => {
    expect([0, 1, 2, 3, 4, 5, 6, 50].map((attempt) => backoffDelay(plain, attempt))).toEqual([100, 200, 400, 800, 1600, 3200, 5000, 5000]);
  });

  it('ignores the random draw without jitter', () => {
    expect(backoffDelay(plain, 2, 0)).toBe(backoffDelay(plain, 2, 0.99));
  });

  it('with equal jitter, keeps half of the (capped) delay and draws the other half', () => {
    expect(backoffDelay(jittered, 0, 0)).toBe(50);
    expect(backoffDelay(jittered, 0, 0.5)).toBe(75);
    expect(backoffDelay(jittered, 3, 0.5)).toBe(600);
    expect(backoffDelay(jittered, 50, 0)).toBe(800);
    expect(backoffDelay(jittered, 50, 1)).toBe(1600);
  });

  it('draws from Math.random when no draw is given, within [half, whole]', () => {
    for (let index = 0; index < 100; index += 1) {
      const delay = backoffDelay(jittered, 2);
      expect(delay).toBeGreaterThanOrEqual(200);
      expect(delay).toBeLessThanOrEqual(400);
    }
  });

  it('stays finite for huge attempts and a zero base', () => {
    expect(backoffDelay({ baseMs: 0, maxMs: 1000, jitter: 'equal' }, 5000, 0.5)).toBe(0);
    expect(backoffDelay({ baseMs: 1, maxMs: Infinity, jitter: 'none' }, 5000)).toBe(2 ** 30);
  });
});
