import { setTimeout as delay } from 'node:timers/promises';
import { backoffDelay, type BackoffPolicy } from '../platform/backoff.js';
import type { Logger } from '../platform/logger.js';
import { aggregateWatermarks, isConcurrentRefresh, refreshAggregate, type AggregateWatermark } from '../store/aggregates.js';
import { isDatabaseUnavailable } from '../store/availability.js';
import type { Queryable } from '../store/queryable.js';
import type { RowTimeSpan } from './core.js';
import type { ProjectorMetrics } from './metrics.js';

/**
 * Rows committed below a continuous aggregate's watermark (a backfill, a replay, a late correction) are not in what it
 * serves until that window is materialized again: TimescaleDB reads buckets below the watermark from the
 * materialization only. Its refresh policy would do it at its next run (5 minutes to an hour), so the API's bars
 * and stats would lag. The projector refreshes the window itself after committing such rows, before it announces
 * them (so a cache filled after the announcement holds the refreshed aggregate).
 */

const DAY_MS = 86_400_000;

/** One aggregate's window to materialize again, [fromMs, toMs). */
export interface RefreshWindow {
  readonly view: string;
  readonly fromMs: number;
  readonly toMs: number;
}

/**
 * What to refresh after committing rows spanning `span` to a table with these aggregates: for each aggregate whose
 * watermark lies above the earliest row, the rows' whole UTC days, cut at the watermark (above it the aggregate reads
 * the table at query time). Whole days hold whole buckets of every aggregate here (5 minutes to 1 hour), and the
 * watermark is a bucket boundary of its aggregate, so the window is a whole number of its buckets.
 */
export function lateWindows(span: RowTimeSpan, watermarks: readonly AggregateWatermark[]): RefreshWindow[] {
  const fromMs = Math.floor(span.earliestMs / DAY_MS) * DAY_MS;
  const endMs = (Math.floor(span.latestMs / DAY_MS) + 1) * DAY_MS;
  return watermarks
    .filter((aggregate) => span.earliestMs < aggregate.watermarkMs)
    .map((aggregate) => ({ view: aggregate.view, fromMs, toMs: Math.min(endMs, aggregate.watermarkMs) }));
}

/**
 * The pending windows with more added: one window per aggregate, the smallest that covers both. A wider window costs
 * little: a refresh materializes only the buckets where rows were written since the last one.
 */
export function coalesceWindows(pending: readonly RefreshWindow[], added: readonly RefreshWindow[]): RefreshWindow[] {
  const byView = new Map(pending.map((window) => [window.view, window]));
  for (const window of added) {
    const known = byView.get(window.view);
    byView.set(
      window.view,
      known ? { view: window.view, fromMs: Math.min(known.fromMs, window.fromMs), toMs: Math.max(known.toMs, window.toMs) } : window,
    );
  }
  return [...byView.values()];
}

export interface LateRowRefresherOptions {
  readonly logger: Logger;
  readonly metrics?: Pick<ProjectorMetrics, 'aggregateRefreshes' | 'aggregateRefreshSeconds'>;
  /** How long a refresh waits out an overlapping one (a policy run) before leaving its rows to the policy. */
  readonly concurrentWaitMs?: number;
}

const CONCURRENT_RETRY: BackoffPolicy = { baseMs: 50, maxMs: 2000, jitter: 'equal' };
const CONCURRENT_WAIT_MS = 60_000;

/**
 * Refreshes the aggregates' windows of rows committed below their watermarks, one refresh at a time for the whole
 * projector: windows asked for while one runs are coalesced (per aggregate) into the next, and every caller waits
 * for the refresh that covers its window.
 */
export class LateRowRefresher {
  private pending: RefreshWindow[] = [];
  private waiters: (() => void)[] = [];
  private draining = false;
  private stopped = false;
  /** afterCommit calls not yet resolved, and who waits for there to be none (`idle`). */
  private active = 0;
  private idleWaiters: (() => void)[] = [];

  constructor(
    private readonly db: Queryable,
    private readonly options: LateRowRefresherOptions,
  ) {}

  /**
   * After rows of `table` spanning `span` committed: if some lie below the watermark of one of its aggregates,
   * resolves once their window is refreshed. Never rejects: a failed refresh is logged and the aggregate's policy
   * materializes the rows at its next run, as without this.
   */
  async afterCommit(table: string, span: RowTimeSpan | undefined): Promise<void> {
    if (span === undefined || this.stopped) return;
    this.active += 1;
    try {
      await this.refreshLate(table, span);
    } finally {
      this.active -= 1;
      if (this.active === 0) for (const resolve of this.idleWaiters.splice(0)) resolve();
    }
  }

  /**
   * Resolves once no refresh is asked for or running. The projector's sweep of pending notices waits for it, so that
   * it does not announce a committed batch whose refresh is still running (the batch's own announcement follows it).
   */
  idle(): Promise<void> {
    return this.active === 0 ? Promise.resolve() : new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private async refreshLate(table: string, span: RowTimeSpan): Promise<void> {
    let windows: RefreshWindow[];
    try {
      windows = lateWindows(span, await aggregateWatermarks(this.db, table));
    } catch (error) {
      // The database away: its outage is reported once, at WARN, by the batches that retry (store/availability.ts).
      const level = isDatabaseUnavailable(error) ? 'debug' : 'warn';
      this.options.logger[level]({ err: error, table }, 'reading the aggregates watermarks failed; their refresh policies will catch up');
      return;
    }
    if (windows.length === 0) return;
    const refreshed = new Promise<void>((resolve) => this.waiters.push(resolve));
    this.pending = coalesceWindows(this.pending, windows);
    if (!this.draining) {
      this.draining = true;
      void this.drain();
    }
    return refreshed;
  }

  /** Ends the waits for overlapping refreshes (a stop does not wait a policy run out); later calls refresh nothing. */
  stop(): void {
    this.stopped = true;
  }

  private async drain(): Promise<void> {
    for (;;) {
      const windows = this.pending;
      const waiters = this.waiters;
      if (windows.length === 0) {
        this.draining = false;
        return;
      }
      this.pending = [];
      this.waiters = [];
      for (const window of windows) await this.refresh(window);
      for (const resolve of waiters) resolve();
    }
  }

  private async refresh(window: RefreshWindow): Promise<void> {
    const started = performance.now();
    const waitMs = this.options.concurrentWaitMs ?? CONCURRENT_WAIT_MS;
    const fields = { view: window.view, from: new Date(window.fromMs).toISOString(), to: new Date(window.toMs).toISOString() };
    for (let attempt = 0; ; attempt += 1) {
      try {
        await refreshAggregate(this.db, window.view, window.fromMs, window.toMs);
        const seconds = (performance.now() - started) / 1000;
        this.options.metrics?.aggregateRefreshes.inc({ view: window.view, outcome: 'refreshed' });
        this.options.metrics?.aggregateRefreshSeconds.observe({ view: window.view }, seconds);
        this.options.logger.debug({ ...fields, seconds, attempts: attempt + 1 }, 'aggregate refreshed after rows below its watermark');
        return;
      } catch (error) {
        // A policy run over an overlapping window: it is a normal event, wait it out (bounded).
        if (isConcurrentRefresh(error) && !this.stopped && performance.now() - started < waitMs) {
          await delay(backoffDelay(CONCURRENT_RETRY, attempt));
          continue;
        }
        this.options.metrics?.aggregateRefreshes.inc({ view: window.view, outcome: 'left to the policy' });
        if (this.stopped) this.options.logger.info(fields, 'stopping: the aggregate refresh is left to its policy');
        else
          this.options.logger[isDatabaseUnavailable(error) ? 'debug' : 'warn'](
            { err: error, ...fields },
            'refreshing the aggregate after rows below its watermark failed; its policy will',
          );
        return;
      }
    }
  }
}
