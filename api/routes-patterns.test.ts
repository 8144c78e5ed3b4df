import { describe, expect, it } from 'vitest';
import { pageRowsJson } from './routes-patterns.js';
import { timesOf, withAge, type PatternView } from './scan.js';

const view = (id: string, detected: string): PatternView => ({
  id,
  symbol: 'AAPL',
  pattern: 'doji',
  definition_version: 1,
  tier: 'DAILY',
  direction: 'BULLISH',
  status: 'active',
  confidence: 0.8,
  base_confidence: null,
  fundamental_adjustment: 0.05,
  fundamental_reasons: ['eps "surprise"'],
  price: 101.5,
  change: null,
  change_pct: -0.4,
  volume: 1e6,
  relative_strength: 1.2,
  relative_volume: null,
  rsi: 55,
  levels: { support: 95 },
  detected_at: detected,
  expires_at: '2026-11-26T15:00:00.000Z',
});

describe('pageRowsJson', () => {
  it('writes the same JSON as serialising the rows with their ages, also when a row is served again later', () => {
    const rows = [view('a', '2026-11-25T14:00:00.000Z'), view('b', '2026-11-25T14:59:59.400Z')];
    for (const now of [Date.parse('2026-11-25T15:00:00Z'), Date.parse('2026-11-25T15:07:31.700Z')]) {
      expect(pageRowsJson(rows, rows.map(timesOf), now)).toBe(JSON.stringify(rows.map((row) => withAge(row, now))));
      expect(pageRowsJson(rows, [], now)).toBe(JSON.stringify(rows.map((row) => withAge(row, now))));
    }
    expect(pageRowsJson([], [], 0)).toBe('[]');
  });
});
