import type { ScanFilters } from './scan.js';

/** The scan filters of the dashboard's default view (active patterns, confidence ≥ 0.5), for query tests. */
export const ACTIVE_SCAN_FILTERS: ScanFilters = {
  patternTypes: [],
  symbols: undefined,
  sectors: [],
  tiers: [],
  status: 'active',
  confidenceMin: 0.5,
  rsMin: undefined,
  relativeVolumeMin: undefined,
  rsiMin: undefined,
  rsiMax: undefined,
  since: undefined,
  until: undefined,
};
