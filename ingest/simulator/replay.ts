import { readFileSync } from 'node:fs';
import { toMillis } from '../wire.js';

export interface RecordedEvent {
  readonly timeMs: number;
  readonly item: Record<string, unknown>;
}

/** Event time of a wire item: `e` (window end) for bars, `t` otherwise; undefined for status items. */
export function eventTimeOf(item: Record<string, unknown>): number | undefined {
  if (item.ev === 'status') return undefined;
  const time = item.ev === 'A' || item.ev === 'AM' ? item.e : item.t;
  return typeof time === 'number' && Number.isFinite(time) ? toMillis(time) : undefined;
}

/**
 * Parses a recording: one JSON value per line, either a frame (array of items, as `ingest --record`
 * writes it) or a single item. Status items and lines without a time are skipped; order is kept.
 */
export function parseRecording(text: string): RecordedEvent[] {
  const events: RecordedEvent[] = [];
  let lineNumber = 0;
  for (const line of text.split('\n')) {
    lineNumber += 1;
    if (line.trim() === '') continue;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      throw new Error(`recording line ${lineNumber} is not JSON`);
    }
    for (const item of Array.isArray(value) ? value : [value]) {
      if (typeof item !== 'object' || item === null) continue;
      const timeMs = eventTimeOf(item as Record<string, unknown>);
      if (timeMs !== undefined) events.push({ timeMs, item: item as Record<string, unknown> });
    }
  }
  return events;
}

export function loadRecording(path: string): RecordedEvent[] {
  return parseRecording(readFileSync(path, 'utf8'));
}

/**
 * Plays a recording against a clock: `due(elapsedRealMs)` returns the events whose recorded offset,
 * divided by `speed`, has elapsed. Pure.
 */
export class ReplayCursor {
  private index = 0;

  constructor(
    private readonly events: readonly RecordedEvent[],
    private readonly speed: number,
  ) {
    if (!(speed > 0)) throw new RangeError('speed must be positive');
  }

  get done(): boolean {
    return this.index >= this.events.length;
  }

  due(elapsedRealMs: number): Record<string, unknown>[] {
    const first = this.events[0];
    if (!first) return [];
    const horizon = first.timeMs + elapsedRealMs * this.speed;
    const out: Record<string, unknown>[] = [];
    while (this.index < this.events.length && this.events[this.index]!.timeMs <= horizon) {
      out.push(this.events[this.index]!.item);
      this.index += 1;
    }
    return out;
  }
}
