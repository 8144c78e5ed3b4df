import { describe, expect, it } from 'vitest';
import { stableId } from './engine.js';

describe('event ids', () => {
  it('are 32 hex digits, stable, and differ for different inputs', () => {
    const id = stableId('AAPL|INTRADAY|doji|NEUTRAL|v1|1764000000000');
    expect(id).toMatch(/^[0-9a-f]{32}$/);
    expect(stableId('AAPL|INTRADAY|doji|NEUTRAL|v1|1764000000000')).toBe(id);
    const seen = new Set<string>();
    for (let i = 0; i < 50_000; i += 1) seen.add(stableId(`SYM${i % 500}|INTRADAY|doji|NEUTRAL|v1|${1764000000000 + i * 60_000}`));
    expect(seen.size).toBe(50_000);
    expect(stableId('')).toMatch(/^[0-9a-f]{32}$/);
    // Numbers are mixed in as 32-bit halves: distinct times and kinds give distinct ids.
    const mixed = new Set<string>();
    for (let i = 0; i < 20_000; i += 1)
      mixed.add(stableId('AAPL|INTRADAY|doji|NEUTRAL', 1 + (i % 3), 1764000000000 + Math.floor(i / 3) * 60_000));
    expect(mixed.size).toBe(20_000);
    expect(stableId('a', 1, 2)).not.toBe(stableId('a', 2, 1));
    expect(stableId('a', 4294967296)).not.toBe(stableId('a', 0, 1));
  });
});
