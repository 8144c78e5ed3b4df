import { describe, expect, it } from 'vitest';
import { clientIpFrom } from './app.js';

describe('clientIpFrom', () => {
  it('uses the socket address unless proxies are trusted', () => {
    expect(clientIpFrom('1.1.1.1', '10.0.0.9', 0)).toBe('10.0.0.9');
    expect(clientIpFrom(undefined, '10.0.0.9', 1)).toBe('10.0.0.9');
    expect(clientIpFrom(' , ', '10.0.0.9', 1)).toBe('10.0.0.9');
  });

  it('takes the entry the outermost trusted proxy wrote, ignoring what the client put on the left', () => {
    expect(clientIpFrom('6.6.6.6, 203.0.113.5', '10.0.0.9', 1)).toBe('203.0.113.5');
    expect(clientIpFrom('6.6.6.6, 203.0.113.5, 10.0.0.2', '10.0.0.9', 2)).toBe('203.0.113.5');
    // Fewer entries than trusted hops: the leftmost was still written by a trusted proxy.
    expect(clientIpFrom('203.0.113.5', '10.0.0.9', 3)).toBe('203.0.113.5');
  });
});
