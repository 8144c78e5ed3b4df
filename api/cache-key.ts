import { anyScope, hourOf, HOUR_MS, hourScopes, sortedBeforeScopes } from '../contracts/pattern-scopes.js';
import { tierKey, type ProjectionNotice, type RedisKeys, type TierKey } from '../contracts/redis-keys.js';
import { digest } from '../platform/digest.js';
import { canonicalJson, sortValueOf, type PatternView, type ScanQuery } from './scan.js';

/**
 * Pure cache addressing. An entry's key is the normalised query; the entry stores the projection versions it
 * was computed at, and the reader compares them with the current versions (read in the same round trip).
 * So an event invalidates exactly the entries whose scope it touches, and each query keeps one entry.
 */

/** Bumped whenever the shape of a cached value changes, so an old entry is never misread as a new one. */
const CACHE_FORMAT = 'c3';

/** Above this many symbols a scan depends on the global patterns version instead of per-symbol versions. */
export const MAX_SYMBOL_SCOPED_VERSIONS = 50;

export type CacheScope = { readonly kind: 'patterns' } | { readonly kind: 'symbols'; readonly symbols: readonly string[] };

/** What a scan's result depends on: its symbols' versions when it names few symbols, else its pattern scopes. */
export function scanScope(query: ScanQuery): CacheScope {
  const symbols = query.filters.symbols;
  if (symbols !== undefined && symbols.length > 0 && symbols.length <= MAX_SYMBOL_SCOPED_VERSIONS) return { kind: 'symbols', symbols };
  return { kind: 'patterns' };
}

/** The projection version keys (owned by contracts/redis-keys.ts) a few-symbol scan depends on (broad scans: broadScanGuard). */
export function symbolVersionKeys(symbols: readonly string[], keys: RedisKeys): string[] {
  return symbols.map((symbol) => keys.symbolVersion(symbol));
}

const ALL_TIERS: readonly TierKey[] = ['intraday', 'daily', 'combo'];

const tiersOf = (query: ScanQuery): readonly TierKey[] => (query.filters.tiers.length > 0 ? query.filters.tiers.map(tierKey) : ALL_TIERS);

/**
 * The guard of a broad scan: versions that every change which could alter it bumps (the unscoped patterns
 * version and the `any` scope of each tier it selects). Read before the load; the precise dependencies
 * (broadScanDependencies) are read after it and trusted only if the guard did not move meanwhile.
 */
export function broadScanGuard(query: ScanQuery, keys: RedisKeys): string[] {
  return [keys.patternsUnscopedVersion(), ...tiersOf(query).map((tier) => keys.patternScopeVersion(anyScope(tier)))];
}

/** What a computed broad scan page needs from scanPatterns: its rows (page + one look-ahead) and what precedes it. */
export interface BroadScanResult {
  readonly rows: readonly PatternView[];
  /** Symbols of the rows on the pages before this one (offset paging); undefined when too deep to track. */
  readonly leadingSymbols: readonly string[] | undefined;
  readonly totalCapped: boolean;
}

/**
 * The versions a broad scan page depends on, given its result. A change can alter the page only by
 * (a) changing a row on it or on a page before it: that row's symbol version moves; or (b) making a row
 * enter at or before the page's last row: the row's new state falls in a band scope at or before that row's
 * sort value, in one of the tiers the scan selects. When the total is exact (not capped), any change in
 * those tiers may alter it, so the page depends on the tiers' `any` scopes instead. Known gaps: a capped total
 * ("at least cap") is not re-checked when rows beyond the page leave the filter, so `total_capped` can stay true
 * for a while after the matches fall to the cap; a symbol moving into a filtered sector is not a pattern change.
 * `horizonMs` bounds the detection times of rows that may arrive while the entry lives (newest-first pages).
 */
export function broadScanDependencies(query: ScanQuery, result: BroadScanResult, keys: RedisKeys, horizonMs: number): string[] {
  const tiers = tiersOf(query);
  const { sortBy, sortOrder, perPage } = query.page;
  const last = result.rows.slice(0, perPage).at(-1);
  const whole = () => [keys.patternsUnscopedVersion(), ...tiers.map((tier) => keys.patternScopeVersion(anyScope(tier)))];
  if (!result.totalCapped || result.leadingSymbols === undefined || last === undefined) return whole();
  const descending = sortOrder === 'desc';
  const boundary = sortValueOf(last, sortBy);
  const before = (tier: TierKey): string[] | undefined => {
    switch (sortBy) {
      case 'confidence':
      case 'rs':
      case 'volume':
        return sortedBeforeScopes(tier, sortBy, descending, boundary as number | null);
      case 'detected_at':
        return descending ? hourScopes(tier, hourOf(Date.parse(String(boundary))), hourOf(horizonMs + HOUR_MS)) : undefined;
      case 'symbol':
        return undefined;
    }
  };
  const scopes = tiers.flatMap((tier) => before(tier) ?? [anyScope(tier)]);
  const symbols = [...new Set([...result.leadingSymbols, ...result.rows.map((row) => row.symbol)])].sort();
  return [
    keys.patternsUnscopedVersion(),
    ...scopes.map((scope) => keys.patternScopeVersion(scope)),
    ...symbols.map((symbol) => keys.symbolVersion(symbol)),
  ];
}

/** Cache key of a scan page. The cursor is part of it; the universe is not (it is resolved into symbols first). */
export function scanCacheKey(prefix: string, query: ScanQuery): string {
  return `${prefix}${CACHE_FORMAT}:scan:${digest(canonicalJson(query))}`;
}

export function symbolCacheKey(prefix: string, symbol: string, view: string, parameters: Readonly<Record<string, unknown>> = {}): string {
  return `${prefix}${CACHE_FORMAT}:symbol:${encodeURIComponent(symbol)}:${view}:${digest(canonicalJson(parameters))}`;
}

export function statsCacheKey(prefix: string, name: string, parameters: Readonly<Record<string, unknown>> = {}): string {
  return `${prefix}${CACHE_FORMAT}:${name}:${digest(canonicalJson(parameters))}`;
}

/** The versions an entry was computed at, as one comparable string (a missing counter reads as 0). */
export function versionStamp(values: readonly (string | null)[]): string {
  return values.map((value) => value ?? '0').join('.');
}

/** A weak ETag from a cache key and its version stamp: equal while none of the entry's scope changed. */
export function versionEtag(key: string, stamp: string): string {
  return `W/"${digest(`${key}|${stamp}`)}"`;
}

/** The version keys a projection notice bumped (what the notifier INCRed), for refresh-ahead. */
export function versionKeysChangedBy(notice: ProjectionNotice, keys: RedisKeys): Set<string> {
  const changed = new Set(notice.symbols.map((symbol) => keys.symbolVersion(symbol)));
  if (notice.patternsChanged) changed.add(keys.patternsVersion());
  if (notice.patternsChanged && notice.scopes === undefined) changed.add(keys.patternsUnscopedVersion());
  for (const scope of notice.scopes ?? []) changed.add(keys.patternScopeVersion(scope));
  return changed;
}
