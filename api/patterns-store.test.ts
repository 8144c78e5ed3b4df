import { describe, expect, it } from 'vitest';
import { filterFirstFor } from './patterns-store.js';
import { normaliseScanQuery, type ScanParameters } from './scan.js';

const defaults: ScanParameters = { timeframe: 'all', status: 'active', confidence_min: 0.5, sort_by: 'confidence', sort_order: 'desc', page: 1, per_page: 30 };
const query = (overrides: Partial<ScanParameters>) => normaliseScanQuery({ ...defaults, ...overrides }, undefined);

describe('filterFirstFor', () => {
  it('filters first with few matches, or one or two pattern types sorted by anything but confidence', () => {
    expect(filterFirstFor(query({}), 500, 10_000)).toBe(true);
    expect(filterFirstFor(query({}), 10_001, 10_000)).toBe(false);
    expect(filterFirstFor(query({ pattern_types: ['doji'] }), 10_001, 10_000)).toBe(false);
    expect(filterFirstFor(query({ pattern_types: ['doji'], sort_by: 'rs' }), 10_001, 10_000)).toBe(true);
    expect(filterFirstFor(query({ pattern_types: ['doji', 'hammer'], sort_by: 'volume' }), 10_001, 10_000)).toBe(true);
    expect(filterFirstFor(query({ pattern_types: ['doji', 'hammer', 'hanging_man'], sort_by: 'volume' }), 10_001, 10_000)).toBe(false);
  });
});
