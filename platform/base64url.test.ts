import { describe, expect, it } from 'vitest';
import { fromBase64Url, toBase64Url } from './base64url.js';

describe('base64url tokens', () => {
  it('round-trips UTF-8 text through the URL-safe alphabet without padding', () => {
    const text = 'patterns|Ab3_-x|0:12,1:7 ü ✓ ??>>';
    const encoded = toBase64Url(text);
    expect(encoded).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(fromBase64Url(encoded)).toBe(text);
    expect(toBase64Url('[1,"a","q"]')).toBe('WzEsImEiLCJxIl0');
  });
});
