import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import type { Logger } from '../../platform/index.js';
import type { ApiEnv } from '../context.js';
import { errorHandler } from './error-handler.js';
import { nulGuard } from './nul-guard.js';

const app = new Hono<ApiEnv>();
app.use('*', nulGuard());
app.get('*', (c) => c.text('ok'));
app.onError(errorHandler({ error: () => undefined, warn: () => undefined } as unknown as Logger));

describe('nulGuard', () => {
  it('refuses a NUL in a query parameter, naming it', async () => {
    const response = await app.request('/api/symbols?q=a%00b&market=us');
    expect(response.status).toBe(400);
    expect((await response.json()).errors).toEqual([{ field: 'q', message: 'contains a NUL character' }]);
  });

  it('refuses a NUL in the path', async () => {
    const response = await app.request('/api/symbols/A%00');
    expect(response.status).toBe(400);
    expect((await response.json()).errors[0].field).toBe('path');
  });

  it('lets other requests through, a path that is not valid percent-encoding included', async () => {
    expect((await app.request('/api/symbols?q=abc')).status).toBe(200);
    expect((await app.request('/api/symbols/%E0%A4%A')).status).toBe(200);
  });
});
