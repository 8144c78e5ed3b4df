import type { paths } from './api-types.js';

/** The scan's query parameters, exactly as the generated API types name them. */
export type ScanQuery = NonNullable<paths['/api/patterns/scan']['get']['parameters']['query']>;

/** Scan parameters the scanner's form edits and the URL carries (paging stays out of the URL: it is keyset). */
export const FILTER_FIELDS = [
  'preset',
  'pattern_types',
  'timeframe',
  'direction',
  'status',
  'confidence_min',
  'rs_min',
  'rs_max',
  'vol_min',
  'vol_max',
  'rsi_range',
  'definition_version',
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
 * pattern types, tier). Direction it cannot (the protocol filters by symbol, pattern, tier and kind only): events
 * are narrowed to the scan's directions here, by concernsScan. The rest (confidence, bounds, sectors, time, status,
 * definition version, preset) are decided by re-reading the scan, so the rows shown are always the API's rows.
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

/** The directions a scan asks for, spelled as patterns carry them (upper case); undefined: any direction. */
export function directionsOf(filters: Filters): ReadonlySet<string> | undefined {
  const named = filters.direction
    ?.split(',')
    .map((item) => item.trim().toUpperCase())
    .filter(Boolean);
  return named && named.length > 0 ? new Set(named) : undefined;
}

/**
 * Whether a live pattern event can change the scan's rows, as far as the gateway's filter left it undecided: its
 * direction is one the scan asks for (the API's rule, api/scan.ts normaliseDirections: case-insensitive membership;
 * test/scan-direction.test.ts checks the two agree). A pattern keeps its direction for life, so an event of another
 * direction never touches a row of this scan. An event without a direction is let through (the re-read decides).
 */
export function concernsScan(directions: ReadonlySet<string> | undefined, event: { readonly direction?: string | undefined }): boolean {
  return directions === undefined || event.direction === undefined || directions.has(event.direction.toUpperCase());
}
