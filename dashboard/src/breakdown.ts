import type { PatternCounts } from './api.js';

/** Widths of the counts' time buckets, in ms (as /api/patterns/counts documents them: aligned from 2000-01-01T00:00Z, UTC). */
const BUCKET_MS: Readonly<Record<PatternCounts['bucket'], number>> = { '5m': 300_000, '15m': 900_000, '1h': 3_600_000, '1d': 86_400_000 };

/** What the detections over time can be split by: the keys of the counts' per-bucket breakdowns. */
export const BREAKDOWNS = { direction: 'buckets_by_direction', pattern: 'buckets_by_pattern', tier: 'buckets_by_tier' } as const;
export type Breakdown = keyof typeof BREAKDOWNS;

export interface KeySeries {
  readonly key: string;
  readonly total: number;
  /** One point per bucket of the window (epoch seconds), 0 where the key had no detection. */
  readonly points: { time: number; value: number }[];
}

/**
 * The counts of one breakdown as one series per key over every bucket of the window: the API leaves out the
 * buckets without a detection, and a line drawn between the buckets it lists would hide those gaps. Keys most first.
 */
export function seriesOf(counts: PatternCounts, by: Breakdown): KeySeries[] {
  const width = BUCKET_MS[counts.bucket];
  const first = Math.floor(Date.parse(counts.since) / width) * width;
  const end = Date.parse(counts.until);
  const slots = Math.max(0, Math.ceil((end - first) / width));
  const byKey = new Map<string, number[]>();
  for (const row of counts[BREAKDOWNS[by]]) {
    const slot = Math.round((Date.parse(row.bucket) - first) / width);
    if (slot < 0 || slot >= slots) continue;
    let values = byKey.get(row.key);
    if (!values) byKey.set(row.key, (values = new Array<number>(slots).fill(0)));
    values[slot] = (values[slot] ?? 0) + row.count;
  }
  return [...byKey]
    .map(([key, values]) => ({
      key,
      total: values.reduce((sum, value) => sum + value, 0),
      points: values.map((value, slot) => ({ time: (first + slot * width) / 1000, value })),
    }))
    .sort((a, b) => b.total - a.total || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}
