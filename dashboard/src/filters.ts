import type { paths } from './api-types.js';

/** The scan's query parameters, exactly as the generated API types name them. */
export type ScanQuery = NonNullable<paths['/api/patterns/scan']['get']['parameters']['query']>;

/** Scan parameters the scanner's form edits and the URL carries (paging stays out of the URL: it is keyset). */
export const FILTER_FIELDS = [
  'pattern_types',
  'timeframe',
  'confidence_min',
  'rs_min',
  'vol_min',
  'rsi_range',
  'symbols',
  'universe',
  'sectors',
  'since',
  'until',
  'sort_by',
  'sort_order',
] as const satisfies readonly (keyof ScanQuery)[];
export type FilterField = (typeof FILTER_FIELDS)[number];
export type Filters = Partial<Record<FilterField, string>>;

/** The filters in a URL query string: only known, non-empty fields, as text (the API validates them). */
export function filtersFromSearch(search: string): Filters {
  const params = new URLSearchParams(search);
  const filters: Filters = {};
  for (const field of FILTER_FIELDS) {
    const value = params.get(field)?.trim();
    if (value) filters[field] = value;
  }
  return filters;
}

/** The query string for filters (stable field order, so equal filters give equal URLs). */
export function searchFromFilters(filters: Filters): string {
  const params = new URLSearchParams();
  for (const field of FILTER_FIELDS) {
    const value = filters[field]?.trim();
    if (value) params.set(field, value);
  }
  const text = params.toString();
  return text ? `?${text}` : '';
}

/**
 * The gateway subscription filter that covers the scan's filters: the filters it can express (symbols, universe,
 * pattern types, tier). The rest (confidence, bounds, sectors, time) are decided by re-reading the scan, so the
 * rows shown are always the API's rows.
 */
export function liveFilterOf(filters: Filters): {
  symbols?: string[];
  universe?: string;
  patterns?: string[];
  tiers?: ('INTRADAY' | 'DAILY' | 'COMBO')[];
} {
  const list = (text: string | undefined) =>
    text
      ?.split(',')
      .map((item) => item.trim())
      .filter(Boolean);
  const tier = filters.timeframe?.toUpperCase();
  return {
    ...(filters.symbols ? { symbols: list(filters.symbols)!.map((symbol) => symbol.toUpperCase()) } : {}),
    ...(filters.universe ? { universe: filters.universe } : {}),
    ...(filters.pattern_types ? { patterns: list(filters.pattern_types)!.map((name) => name.toLowerCase()) } : {}),
    ...(tier === 'INTRADAY' || tier === 'DAILY' || tier === 'COMBO' ? { tiers: [tier] } : {}),
  };
}
