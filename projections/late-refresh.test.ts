import { describe, expect, it, vi } from 'vitest';
import { createLogger } from '../platform/logger.js';
import type { Queryable } from '../store/queryable.js';
import { coalesceWindows, lateWindows, LateRowRefresher } from './late-refresh.js';

const DAY_MS = 86_400_000;
const at = (iso: string) => Date.parse(iso);

describe('the windows to refresh after rows committed below a watermark', () => {
  const watermarks = [
    { view: 'bars_1h', watermarkMs: at('2026-11-24T15:00:00Z') },
    { view: 'bars_5m', watermarkMs: at('2026-11-24T15:35:00Z') },
    { view: 'bars_15m', watermarkMs: at('2026-11-20T00:00:00Z') },
  ];

  it("takes the rows' whole UTC days, cut at each aggregate's watermark, for the aggregates whose watermark is above the earliest row", () => {
    const span = { earliestMs: at('2026-11-21T14:31:00Z'), latestMs: at('2026-11-24T15:10:00Z') };
    expect(lateWindows(span, watermarks)).toEqual([
      { view: 'bars_1h', fromMs: at('2026-11-21T00:00:00Z'), toMs: at('2026-11-24T15:00:00Z') },
      { view: 'bars_5m', fromMs: at('2026-11-21T00:00:00Z'), toMs: at('2026-11-24T15:35:00Z') },
    ]);
  });

  it('ends at the day after the latest row when the watermark is later', () => {
    const span = { earliestMs: at('2026-11-18T00:00:00Z'), latestMs: at('2026-11-18T00:00:00Z') };
    expect(lateWindows(span, watermarks)).toEqual([
      { view: 'bars_1h', fromMs: at('2026-11-18T00:00:00Z'), toMs: at('2026-11-19T00:00:00Z') },
      { view: 'bars_5m', fromMs: at('2026-11-18T00:00:00Z'), toMs: at('2026-11-19T00:00:00Z') },
      { view: 'bars_15m', fromMs: at('2026-11-18T00:00:00Z'), toMs: at('2026-11-19T00:00:00Z') },
    ]);
  });

  it('has nothing to refresh for rows at or above every watermark (live rows), nor without aggregates (plain path)', () => {
    expect(lateWindows({ earliestMs: at('2026-11-24T15:35:00Z'), latestMs: at('2026-11-24T15:40:00Z') }, watermarks)).toEqual([]);
    expect(lateWindows({ earliestMs: 0, latestMs: DAY_MS }, [])).toEqual([]);
  });

  it('coalesces windows per aggregate into the smallest window covering them', () => {
    const pending = [{ view: 'bars_1h', fromMs: 10 * DAY_MS, toMs: 11 * DAY_MS }];
    expect(
      coalesceWindows(pending, [
        { view: 'bars_1h', fromMs: 3 * DAY_MS, toMs: 4 * DAY_MS },
        { view: 'bars_5m', fromMs: 3 * DAY_MS, toMs: 4 * DAY_MS },
      ]),
    ).toEqual([
      { view: 'bars_1h', fromMs: 3 * DAY_MS, toMs: 11 * DAY_MS },
      { view: 'bars_5m', fromMs: 3 * DAY_MS, toMs: 4 * DAY_MS },
    ]);
  });
});

/** A stand-in for the database: the watermarks it reports, and every refresh asked of it (which `onRefresh` may hold or fail). */
class FakeAggregates implements Queryable {
  readonly refreshes: { view: string; from: string; to: string }[] = [];
  onRefresh: (view: string) => Promise<void> = async () => {};

  constructor(private readonly watermarks: Record<string, string>) {}

  async query<Row extends object>(text: string, values: unknown[] = []): Promise<{ rows: Row[]; rowCount: number | null }> {
    if (text.includes('tf_aggregate_watermarks')) {
      const rows = Object.entries(this.watermarks).map(([view_name, watermark]) => ({ view_name, watermark: new Date(watermark) }));
      return { rows: rows as unknown as Row[], rowCount: rows.length };
    }
    if (text.startsWith('CALL refresh_continuous_aggregate')) {
      const [view, from, to] = values as string[];
      this.refreshes.push({ view: view!, from: from!, to: to! });
      await this.onRefresh(view!);
      return { rows: [], rowCount: null };
    }
    throw new Error(`unexpected query: ${text}`);
  }
}

describe('LateRowRefresher', () => {
  const logger = createLogger('late-refresh-test', { level: 'silent' });
  const old = (day: number) => ({ earliestMs: at(`2026-11-${day}T14:30:00Z`), latestMs: at(`2026-11-${day}T15:30:00Z`) });

  it('refreshes once per aggregate for calls that arrive while a refresh runs, and each call waits for its window', async () => {
    const db = new FakeAggregates({ bars_1h: '2026-11-24T15:00:00Z' });
    let release: () => void = () => {};
    db.onRefresh = () => new Promise<void>((resolve) => (release = resolve));
    const refresher = new LateRowRefresher(db, { logger });
    let firstDone = false;
    const first = refresher.afterCommit('bars_1m', old(10)).then(() => (firstDone = true));
    await vi.waitFor(() => expect(db.refreshes).toHaveLength(1));
    const second = refresher.afterCommit('bars_1m', old(12));
    const third = refresher.afterCommit('bars_1m', old(16));
    // Let both calls read their watermarks and queue their windows (promise callbacks only, no time passes).
    await new Promise((resolve) => setImmediate(resolve));
    expect(firstDone).toBe(false);
    db.onRefresh = async () => {};
    release();
    await Promise.all([first, second, third]);
    expect(db.refreshes).toEqual([
      { view: 'bars_1h', from: '2026-11-10T00:00:00.000Z', to: '2026-11-11T00:00:00.000Z' },
      { view: 'bars_1h', from: '2026-11-12T00:00:00.000Z', to: '2026-11-17T00:00:00.000Z' },
    ]);
  });

  it('does nothing for rows above the watermarks or a table without a time column', async () => {
    const db = new FakeAggregates({ bars_1h: '2026-11-01T00:00:00Z' });
    const refresher = new LateRowRefresher(db, { logger });
    await refresher.afterCommit('bars_1m', old(10));
    await refresher.afterCommit('symbols', undefined);
    expect(db.refreshes).toEqual([]);
  });

  it('waits out a concurrent refresh (a policy run), and leaves the rows to the policy when a refresh fails otherwise', async () => {
    const db = new FakeAggregates({ bars_1h: '2026-11-24T15:00:00Z', pattern_counts_hourly: '2026-11-24T15:00:00Z' });
    let concurrent = 2;
    db.onRefresh = async (view) => {
      if (view === 'bars_1h' && concurrent-- > 0) throw Object.assign(new Error('due to a concurrent refresh'), { code: '55P03' });
      if (view === 'pattern_counts_hourly') throw Object.assign(new Error('could not read block'), { code: 'XX001' });
    };
    const warn = vi.spyOn(logger, 'warn');
    const refresher = new LateRowRefresher(db, { logger });
    await refresher.afterCommit('bars_1m', old(10));
    expect(db.refreshes.map((refresh) => refresh.view)).toEqual(['bars_1h', 'bars_1h', 'bars_1h', 'pattern_counts_hourly']);
    expect(warn).toHaveBeenCalledTimes(1);
    expect(warn.mock.calls[0]![1]).toMatch(/its policy will/);
  });

  it('leaves the rows to the policy without a WARN of its own when the database is away (the batches report the outage)', async () => {
    const db = new FakeAggregates({ bars_1h: '2026-11-24T15:00:00Z' });
    db.onRefresh = async () => {
      throw Object.assign(new Error('terminating connection due to immediate shutdown command'), { code: '57P01' });
    };
    const own = createLogger('late-refresh-test', { level: 'silent' });
    const warn = vi.spyOn(own, 'warn');
    const refresher = new LateRowRefresher(db, { logger: own });
    await refresher.afterCommit('bars_1m', old(10));
    expect(db.refreshes.map((refresh) => refresh.view)).toEqual(['bars_1h']);
    expect(warn).not.toHaveBeenCalled();
  });

  it('stops waiting for a concurrent refresh when stopped', async () => {
    const db = new FakeAggregates({ bars_1h: '2026-11-24T15:00:00Z' });
    db.onRefresh = async () => {
      throw Object.assign(new Error('due to a concurrent refresh'), { code: '55P03' });
    };
    const refresher = new LateRowRefresher(db, { logger, concurrentWaitMs: 3_600_000 });
    const done = refresher.afterCommit('bars_1m', old(10));
    await vi.waitFor(() => expect(db.refreshes.length).toBeGreaterThan(0));
    refresher.stop();
    await done;
    await refresher.afterCommit('bars_1m', old(11));
    expect(new Set(db.refreshes.map((refresh) => refresh.from))).toEqual(new Set(['2026-11-10T00:00:00.000Z']));
  });
});
