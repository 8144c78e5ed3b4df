/**
 * The pure part of `tickflow start`: restart policy, log-line formatting and the status line.
 * The process handling lives in supervisor.ts.
 */

import { backoffDelay } from '../platform/backoff.js';

export interface RestartPolicy {
  readonly initialDelayMs: number;
  readonly maxDelayMs: number;
  /** A stage that stayed up this long is considered healthy again: its backoff resets. */
  readonly healthyAfterMs: number;
}

export const DEFAULT_RESTART_POLICY: RestartPolicy = { initialDelayMs: 500, maxDelayMs: 30_000, healthyAfterMs: 60_000 };

/** Exponential backoff on consecutive crashes; resets after a healthy run. */
export function restartDelay(
  policy: RestartPolicy,
  consecutiveCrashes: number,
  uptimeMs: number,
): { delayMs: number; consecutiveCrashes: number } {
  const crashes = uptimeMs >= policy.healthyAfterMs ? 1 : consecutiveCrashes + 1;
  return {
    delayMs: backoffDelay({ baseMs: policy.initialDelayMs, maxMs: policy.maxDelayMs, jitter: 'none' }, crashes - 1),
    consecutiveCrashes: crashes,
  };
}

const LEVELS: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO ', 40: 'WARN ', 50: 'ERROR', 60: 'FATAL' };
const HIDDEN_KEYS = new Set(['level', 'time', 'msg', 'pid', 'hostname', 'stage']);

/** One child output line, prefixed by its stage; pino JSON lines are shown compactly. */
export function formatLogLine(stage: string, line: string, width = 11): string {
  const prefix = `[${stage}]`.padEnd(width);
  if (!line.startsWith('{')) return `${prefix} ${line}`;
  try {
    const entry = JSON.parse(line) as Record<string, unknown>;
    const time = typeof entry.time === 'string' ? entry.time.slice(11, 19) : '';
    const level = LEVELS[Number(entry.level)] ?? 'INFO ';
    const extra = Object.entries(entry)
      .filter(([key]) => !HIDDEN_KEYS.has(key))
      .map(([key, value]) => `${key}=${typeof value === 'object' ? JSON.stringify(value) : String(value)}`)
      .join(' ');
    return `${prefix} ${time} ${level} ${String(entry.msg ?? '')}${extra ? `  ${extra}` : ''}`;
  } catch {
    return `${prefix} ${line}`;
  }
}

export interface StageSample {
  readonly stage: string;
  readonly up: boolean;
  /** Counter of events the stage has handled. */
  readonly events?: number;
  readonly lag?: number;
  readonly patterns?: number;
  /** Counter of input records the stage dropped by design (older than its clock, outside the session, ...). */
  readonly skipped?: number;
}

/** Events per second between two samples of a counter. */
export function ratePerSecond(previous: number | undefined, current: number | undefined, elapsedMs: number): number | undefined {
  if (previous === undefined || current === undefined || elapsedMs <= 0) return undefined;
  return Math.max(0, ((current - previous) * 1000) / elapsedMs);
}

function compact(value: number): string {
  if (value >= 1e6) return `${(value / 1e6).toFixed(1)}M`;
  if (value >= 1e4) return `${(value / 1e3).toFixed(0)}k`;
  if (value >= 1e3) return `${(value / 1e3).toFixed(1)}k`;
  return value.toFixed(0);
}

/** The one-line live status: events/s per stage (and skipped/s, keyed `<stage>:skipped` in `rates`), lag, patterns found. */
export function statusLine(samples: readonly StageSample[], rates: ReadonlyMap<string, number | undefined>): string {
  const parts = samples.map((sample) => {
    if (!sample.up) return `${sample.stage} DOWN`;
    const rate = rates.get(sample.stage);
    let text = `${sample.stage} ${rate === undefined ? '-' : compact(rate)}/s`;
    // Skipped input is shown beside what was processed whenever there is some, so a stage dropping everything is visible.
    const skippedRate = rates.get(`${sample.stage}:skipped`);
    if (skippedRate !== undefined && skippedRate > 0) text += ` (skipped ${compact(skippedRate)}/s)`;
    if (sample.lag !== undefined) text += ` lag ${compact(sample.lag)}`;
    return text;
  });
  const patterns = samples.reduce((sum, sample) => sum + (sample.patterns ?? 0), 0);
  return `${parts.join(' | ')} | patterns ${compact(patterns)}`;
}
