import { makeEvent, type LogEvent } from './types.js';

/** A pattern event for unit tests: symbol `key`, pattern doji, tier INTRADAY, kind DETECTED unless `extra` says otherwise. */
export const patternEvent = (partition: number, offset: number, key: string, extra: Record<string, unknown> = {}, ts = offset): LogEvent =>
  makeEvent(partition, offset, ts, key, { symbol: key, pattern: 'doji', tier: 'INTRADAY', kind: 'DETECTED', ...extra });
