import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import { limitRequestBodies } from './body-limit.js';

const app = new Hono();
app.use('*', limitRequestBodies(10));
app.all('*', async (c) => c.text(c.req.method === 'GET' ? 'read' : await c.req.text()));

describe('limitRequestBodies', () => {
  it('refuses a larger body with a 413 problem', async () => {
    const response = await app.request('/api/x', { method: 'POST', body: 'x'.repeat(11) });
    expect(response.status).toBe(413);
    expect(response.headers.get('content-type')).toBe('application/problem+json');
    expect((await response.json()).detail).toBe('request body larger than 10 bytes');
  });

  it('passes a body within the limit, and reads without checking', async () => {
    expect(await (await app.request('/api/x', { method: 'PUT', body: 'x'.repeat(10) })).text()).toBe('xxxxxxxxxx');
    expect((await app.request('/api/x')).status).toBe(200);
  });
});
