import { describe, expect, it } from 'vitest';
import { shortHash } from './engine.js';

describe('event ids', () => {
  it('are 32 hex digits, stable, and differ for different inputs', () => {
    const id = shortHash('AAPL|INTRADAY|doji|NEUTRAL|v1|1764000000000');
    expect(id).toMatch(/^[0-9a-f]{32}$/);
    expect(shortHash('AAPL|INTRADAY|doji|NEUTRAL|v1|1764000000000')).toBe(id);
    const seen = new Set<string>();
    for (let i = 0; i < 50_000; i += 1) seen.add(shortHash(`SYM${i % 500}|INTRADAY|doji|NEUTRAL|v1|${1764000000000 + i * 60_000}`));
    expect(seen.size).toBe(50_000);
    expect(shortHash('')).toMatch(/^[0-9a-f]{32}$/);
  });
});
