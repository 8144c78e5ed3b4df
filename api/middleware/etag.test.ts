import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import { corsHeaders } from './cors.js';
import { weakEtags } from './etag.js';

const app = new Hono();
app.use(
  '*',
  corsHeaders({
    origins: ['http://dash.test'],
    allowMethods: ['GET'],
    allowHeaders: [],
    exposeHeaders: ['ETag', 'X-RateLimit-Limit'],
    maxAge: 600,
  }),
);
app.use('*', weakEtags(['ETag', 'X-RateLimit-Limit']));
app.get('*', (c) => {
  c.header('X-RateLimit-Limit', '600');
  return c.json({ value: 1 });
});

describe('weakEtags', () => {
  it('answers a matching If-None-Match with 304, keeping the CORS and exposed headers', async () => {
    const first = await app.request('/api/x', { headers: { origin: 'http://dash.test' } });
    const tag = first.headers.get('etag');
    expect(tag).toMatch(/^W\//);
    const again = await app.request('/api/x', { headers: { origin: 'http://dash.test', 'if-none-match': tag! } });
    expect(again.status).toBe(304);
    expect(again.headers.get('access-control-allow-origin')).toBe('http://dash.test');
    expect(again.headers.get('access-control-expose-headers')).toBe('ETag,X-RateLimit-Limit');
    expect(again.headers.get('x-ratelimit-limit')).toBe('600');
  });
});
