import { tierKey, type TierKey } from './redis-keys.js';

/**
 * Pattern scopes: the fine-grained version counters that make cached broad scans exact. A scope is a tier
 * plus a band of one sort value (confidence, relative strength, volume: aligned blocks of 1, 10 and 100
 * positions out of 1000; detection time: one hour), or the tier as a whole (`<tier>:any`). The projector's
 * notifier bumps, for each changed pattern, the scopes its new state falls in; a cached scan page depends on
 * the scopes a row would have to fall in to enter the page. Pure functions, shared by writer and reader.
 */

/** The sort values that are banded by position (0..999). */
export type BandedSort = 'confidence' | 'rs' | 'volume';

/** The new state of a pattern that a batch wrote (what the scopes are computed from). */
export interface PatternChange {
  readonly tier: string;
  readonly confidence: number;
  readonly relativeStrength: number | null;
  readonly volume: number | null;
  /** Epoch ms. */
  readonly detectedAt: number;
}

const BAND_POSITIONS = 1000;
const BLOCK_SIZES = [100, 10, 1] as const;
export const HOUR_MS = 3_600_000;

const clampPosition = (value: number) => Math.min(BAND_POSITIONS - 1, Math.max(0, Math.floor(value)));

/**
 * Position of a sort value in 0..999, monotonic in the value: confidence by 0.001, relative strength by 0.01
 * (9.99 and above share the top), volume by 0.01 of a decade (log10, 1e10 and above share the top).
 */
export function bandPosition(sort: BandedSort, value: number): number {
  switch (sort) {
    case 'confidence':
      return clampPosition(value * 1000);
    case 'rs':
      return clampPosition(value * 100);
    case 'volume':
      return clampPosition(value <= 1 ? 0 : Math.log10(value) * 100);
  }
}

export const hourOf = (ms: number): number => Math.floor(ms / HOUR_MS);

export const anyScope = (tier: TierKey): string => `${tier}:any`;
const blockScope = (tier: TierKey, sort: BandedSort, size: number, index: number) => `${tier}:${sort}:${size}:${index}`;
const nullScope = (tier: TierKey, sort: BandedSort) => `${tier}:${sort}:null`;
const hourScope = (tier: TierKey, hour: number) => `${tier}:detected_at:${hour}`;

/** Every scope a pattern in this new state falls in: its tier, the three blocks of each sort value, its hour. */
export function changeScopes(change: PatternChange): string[] {
  const tier = tierKey(change.tier);
  const scopes = [anyScope(tier), hourScope(tier, hourOf(change.detectedAt))];
  const banded: [BandedSort, number | null][] = [
    ['confidence', change.confidence],
    ['rs', change.relativeStrength],
    ['volume', change.volume],
  ];
  for (const [sort, value] of banded) {
    if (value === null || !Number.isFinite(value)) {
      scopes.push(nullScope(tier, sort));
      continue;
    }
    const position = bandPosition(sort, value);
    for (const size of BLOCK_SIZES) scopes.push(blockScope(tier, sort, size, Math.floor(position / size)));
  }
  return scopes;
}

/** The scopes of a batch, each once. */
export function batchScopes(changes: readonly PatternChange[]): string[] {
  return [...new Set(changes.flatMap(changeScopes))].sort();
}

/** Positions lo..hi (inclusive) as the fewest aligned blocks (at most 27 for a range that reaches an end). */
export function rangeScopes(tier: TierKey, sort: BandedSort, lo: number, hi: number): string[] {
  const scopes: string[] = [];
  let position = Math.max(0, lo);
  const end = Math.min(BAND_POSITIONS - 1, hi);
  while (position <= end) {
    const size = BLOCK_SIZES.find((candidate) => position % candidate === 0 && position + candidate - 1 <= end)!;
    scopes.push(blockScope(tier, sort, size, position / size));
    position += size;
  }
  return scopes;
}

/**
 * Scopes a row must fall in to sort at or before `boundary` in a page ordered by `sort`: descending, values
 * at or above it (NULLS LAST: never a null); ascending, values at or below it and the nulls (NULLS FIRST).
 * undefined when the boundary itself is null (the page ends among the nulls): use the tier's `any` scope.
 */
export function sortedBeforeScopes(tier: TierKey, sort: BandedSort, descending: boolean, boundary: number | null): string[] | undefined {
  if (boundary === null) return undefined;
  const position = bandPosition(sort, boundary);
  return descending
    ? rangeScopes(tier, sort, position, BAND_POSITIONS - 1)
    : [nullScope(tier, sort), ...rangeScopes(tier, sort, 0, position)];
}

/** Hour scopes from..to (inclusive), or undefined when there are more than `limit` of them. */
export function hourScopes(tier: TierKey, fromHour: number, toHour: number, limit = 48): string[] | undefined {
  if (toHour - fromHour + 1 > limit) return undefined;
  const scopes: string[] = [];
  for (let hour = fromHour; hour <= toHour; hour += 1) scopes.push(hourScope(tier, hour));
  return scopes;
}
