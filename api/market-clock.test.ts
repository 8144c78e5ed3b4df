import { describe, expect, it } from 'vitest';
import { MarketClock } from './market-clock.js';
import type { Queryable } from '../store/queryable.js';

/** A database whose newest active detection is whatever `latest` holds; counts its reads. */
function fakeDb(state: { latest: Date | string | null; fail?: boolean }): Queryable & { reads: number } {
  const db = {
    reads: 0,
    query: async <Row extends object>() => {
      db.reads += 1;
      if (state.fail) throw new Error('connection refused');
      return { rows: [{ latest: state.latest }] as Row[], rowCount: 1 };
    },
  };
  return db;
}

const WALL = Date.parse('2026-12-06T03:00:00Z');

describe('MarketClock', () => {
  it('is the newest active detection, not the wall clock', async () => {
    const state = { latest: new Date('2026-11-25T15:00:00Z') as Date | string | null };
    const clock = new MarketClock(fakeDb(state), () => WALL, 0);
    expect(await clock.now()).toBe(Date.parse('2026-11-25T15:00:00Z'));
    state.latest = '2026-11-25T15:01:00Z';
    expect(await clock.now()).toBe(Date.parse('2026-11-25T15:01:00Z'));
    // No active pattern any more: the last value read stands.
    state.latest = null;
    expect(await clock.now()).toBe(Date.parse('2026-11-25T15:01:00Z'));
  });

  it('falls back to the wall clock before it has read a value, and when reads fail', async () => {
    const errors: unknown[] = [];
    const state = { latest: null as Date | string | null, fail: false };
    const clock = new MarketClock(
      fakeDb(state),
      () => WALL,
      0,
      (error) => errors.push(error),
    );
    expect(await clock.now()).toBe(WALL);
    state.fail = true;
    expect(await clock.now()).toBe(WALL);
    expect(errors).toHaveLength(1);
    state.fail = false;
    state.latest = new Date('2026-11-25T15:00:00Z');
    expect(await clock.now()).toBe(Date.parse('2026-11-25T15:00:00Z'));
  });

  it('reads the database at most once per refresh interval, once for concurrent requests', async () => {
    const db = fakeDb({ latest: new Date('2026-11-25T15:00:00Z') });
    const clock = new MarketClock(db, () => WALL, 60_000);
    const answers = await Promise.all([clock.now(), clock.now(), clock.now()]);
    expect(new Set(answers)).toEqual(new Set([Date.parse('2026-11-25T15:00:00Z')]));
    await clock.now();
    expect(db.reads).toBe(1);
  });
});
