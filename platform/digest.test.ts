import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { digest } from './digest.js';

describe('digest', () => {
  it('is the leading base64url characters of the sha256 of the text', () => {
    const full = createHash('sha256').update('patterns\u0000abc').digest('base64url');
    expect(digest('patterns\u0000abc')).toBe(full.slice(0, 22));
    expect(digest('patterns\u0000abc', 12)).toBe(full.slice(0, 12));
    expect(digest('')).toMatch(/^[A-Za-z0-9_-]{22}$/);
  });
});
