import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import { compressWhenAccepted } from './compress.js';

const app = new Hono();
app.use('*', compressWhenAccepted());
app.get('*', (c) => c.json({ rows: 'x'.repeat(4096) }));

describe('compressWhenAccepted', () => {
  it('compresses for a client that accepts gzip', async () => {
    const response = await app.request('/api/x', { headers: { 'accept-encoding': 'gzip' } });
    expect(response.headers.get('content-encoding')).toBe('gzip');
    expect(response.headers.get('vary')).toBe('Accept-Encoding');
  });

  it('answers plain otherwise, still saying the answer varies by Accept-Encoding', async () => {
    for (const headers of [{}, { 'accept-encoding': 'br' }] as Record<string, string>[]) {
      const response = await app.request('/api/x', { headers });
      expect(response.headers.get('content-encoding')).toBeNull();
      expect(response.headers.get('vary')).toBe('Accept-Encoding');
      expect((await response.json()).rows).toHaveLength(4096);
    }
  });
});
