import { describe, expect, it } from 'vitest';
import { HISTORY_RETENTION_MS } from '../platform/topics.js';
import { RETAINED_RELATIONS, relationRetention } from './retention.js';

describe('history retention of the tables', () => {
  it('is the retention of the topic that feeds each relation, as a PostgreSQL interval, or forever', () => {
    expect(relationRetention('bars_1m')).toBe(`${HISTORY_RETENTION_MS.minuteBars / 86_400_000} days`);
    expect(relationRetention('bars_1h')).toBe(relationRetention('bars_1m'));
    expect(relationRetention('pattern_events')).toBe(`${HISTORY_RETENTION_MS.patternEvents / 86_400_000} days`);
    expect(relationRetention('pattern_counts_hourly')).toBe(relationRetention('pattern_events'));
    expect(relationRetention('bars_1d')).toBeNull();
    expect(Object.keys(RETAINED_RELATIONS).sort()).toEqual([
      'bars_15m',
      'bars_1d',
      'bars_1h',
      'bars_1m',
      'bars_5m',
      'pattern_counts_hourly',
      'pattern_events',
    ]);
  });
});
