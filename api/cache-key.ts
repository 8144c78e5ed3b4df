import type { ProjectionNotice, RedisKeys } from '../projections/redis-keys.js';
import { canonicalJson, shortHash, type ScanQuery } from './scan.js';

/**
 * Pure cache addressing. An entry's key is the normalised query; the entry stores the projection versions it
 * was computed at, and the reader compares them with the current versions (read in the same round trip).
 * So an event invalidates exactly the entries whose scope it touches, and each query keeps one entry.
 */

/** Bumped whenever the shape of a cached value changes, so an old entry is never misread as a new one. */
export const CACHE_FORMAT = 'c3';

/** Above this many symbols a scan depends on the global patterns version instead of per-symbol versions. */
export const MAX_SYMBOL_SCOPED_VERSIONS = 50;

export type CacheScope = { readonly kind: 'patterns' } | { readonly kind: 'symbols'; readonly symbols: readonly string[] };

/** What a scan's result depends on: its symbols' versions when it names few symbols, else every pattern. */
export function scanScope(query: ScanQuery): CacheScope {
  const symbols = query.filters.symbols;
  if (symbols !== undefined && symbols.length > 0 && symbols.length <= MAX_SYMBOL_SCOPED_VERSIONS) return { kind: 'symbols', symbols };
  return { kind: 'patterns' };
}

/** The projection version keys (owned by projections/redis-keys.ts) a scope's entries depend on. */
export function versionKeysOf(scope: CacheScope, keys: RedisKeys): string[] {
  return scope.kind === 'patterns' ? [keys.patternsVersion()] : scope.symbols.map((symbol) => keys.symbolVersion(symbol));
}

/** Cache key of a scan page. The cursor is part of it; the universe is not (it is resolved into symbols first). */
export function scanCacheKey(prefix: string, query: ScanQuery): string {
  return `${prefix}${CACHE_FORMAT}:scan:${shortHash(canonicalJson(query))}`;
}

export function symbolCacheKey(prefix: string, symbol: string, view: string, parameters: Readonly<Record<string, unknown>> = {}): string {
  return `${prefix}${CACHE_FORMAT}:symbol:${encodeURIComponent(symbol)}:${view}:${shortHash(canonicalJson(parameters))}`;
}

export function statsCacheKey(prefix: string, name: string, parameters: Readonly<Record<string, unknown>> = {}): string {
  return `${prefix}${CACHE_FORMAT}:${name}:${shortHash(canonicalJson(parameters))}`;
}

/** The versions an entry was computed at, as one comparable string (a missing counter reads as 0). */
export function versionStamp(values: readonly (string | null)[]): string {
  return values.map((value) => value ?? '0').join('.');
}

/** A weak ETag from a cache key and its version stamp: equal while none of the entry's scope changed. */
export function versionEtag(key: string, stamp: string): string {
  return `W/"${shortHash(`${key}|${stamp}`)}"`;
}

/** The version keys a projection notice bumped (what the notifier INCRed), for refresh-ahead. */
export function versionKeysChangedBy(notice: ProjectionNotice, keys: RedisKeys): Set<string> {
  const changed = new Set(notice.symbols.map((symbol) => keys.symbolVersion(symbol)));
  if (notice.patternsChanged) changed.add(keys.patternsVersion());
  return changed;
}
