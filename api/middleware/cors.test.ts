import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import { corsHeaders } from './cors.js';

function appFor(origins: string[]) {
  const app = new Hono();
  app.use(
    '*',
    corsHeaders({
      origins,
      allowMethods: ['GET', 'POST'],
      allowHeaders: ['Authorization'],
      exposeHeaders: ['ETag', 'X-Request-Id'],
      maxAge: 600,
    }),
  );
  app.get('*', (c) => c.text('ok'));
  return app;
}

describe('corsHeaders', () => {
  it('allows a listed origin, says the answer varies by origin, and exposes the headers', async () => {
    const response = await appFor(['http://dash.test']).request('/api/x', { headers: { origin: 'http://dash.test' } });
    expect(response.headers.get('access-control-allow-origin')).toBe('http://dash.test');
    expect(response.headers.get('access-control-expose-headers')).toBe('ETag,X-Request-Id');
    expect(response.headers.get('vary')).toBe('Origin');
  });

  it('gives an unlisted origin no allowance', async () => {
    const response = await appFor(['http://dash.test']).request('/api/x', { headers: { origin: 'http://evil.test' } });
    expect(response.headers.get('access-control-allow-origin')).toBeNull();
    expect(response.headers.get('vary')).toBe('Origin');
  });

  it("allows any origin with '*', the same answer for all", async () => {
    const response = await appFor(['*']).request('/api/x', { headers: { origin: 'http://any.test' } });
    expect(response.headers.get('access-control-allow-origin')).toBe('*');
    expect(response.headers.get('vary')).toBeNull();
  });

  it('answers a preflight with the allowed methods and headers', async () => {
    const response = await appFor(['http://dash.test']).request('/api/x', {
      method: 'OPTIONS',
      headers: { origin: 'http://dash.test', 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization' },
    });
    expect(response.status).toBe(204);
    expect(response.headers.get('access-control-allow-methods')).toBe('GET,POST');
    expect(response.headers.get('access-control-allow-headers')).toBe('Authorization');
    expect(response.headers.get('access-control-max-age')).toBe('600');
  });
});
