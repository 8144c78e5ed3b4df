import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import { createMetricsRegistry, type Logger } from '../../platform/index.js';
import { loadApiConfig } from '../config.js';
import type { ApiDependencies, ApiEnv } from '../context.js';
import { errorHandler } from './error-handler.js';
import { HEADROOM_CLIENTS, rateLimits } from './rate-limit.js';

/** Data limit 2 and auth limit 1 per minute, in memory (no Redis); `x-user` stands for an authenticated user. */
function limitedApp() {
  const registry = createMetricsRegistry('api', { collectDefaults: false });
  const config = loadApiConfig({
    API_RATE_LIMIT_PER_MINUTE: '2',
    API_AUTH_RATE_LIMIT_PER_MINUTE: '1',
    API_REDIS_PREFIX: `test:${Math.random()}:`,
  });
  const limits = rateLimits({ config, registry, redis: undefined } as unknown as ApiDependencies);
  const app = new Hono<ApiEnv>();
  app.use('*', async (c, next) => {
    c.set('userId', c.req.header('x-user'));
    await next();
  });
  app.use('/api/*', limits.middleware);
  app.get('/api/bad-credential', async (c) => {
    await limits.chargeBadCredential(c);
    return c.text('charged');
  });
  app.all('/api/*', (c) => c.text('ok'));
  app.onError(errorHandler({ error: () => undefined, warn: () => undefined } as unknown as Logger));
  return { app, registry, limits };
}

describe('rateLimits', () => {
  it('counts data requests per user, says what is left, and refuses past the limit with Retry-After', async () => {
    const { app, registry } = limitedApp();
    const user = { 'x-user': 'u1' };
    const first = await app.request('/api/patterns/scan', { headers: user });
    expect([first.headers.get('x-ratelimit-limit'), first.headers.get('x-ratelimit-remaining')]).toEqual(['2', '1']);
    // Well within its limit, the second read's check overlaps the handler and sets its headers afterwards.
    expect((await app.request('/api/patterns/scan', { headers: user })).headers.get('x-ratelimit-remaining')).toBe('0');
    const refused = await app.request('/api/patterns/scan', { headers: user });
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(refused.headers.get('x-ratelimit-remaining')).toBe('0');
    expect((await app.request('/api/patterns/scan', { headers: { 'x-user': 'u2' } })).status).toBe(200);
    expect(await registry.getSingleMetricAsString('tickflow_api_rate_limited_total')).toMatch(/limiter="data"[^}]*} 1/);
  });

  it('refuses a write past the limit before its handler runs', async () => {
    const { app } = limitedApp();
    const user = { 'x-user': 'u1' };
    for (let i = 0; i < 2; i += 1) expect((await app.request('/api/users/universe', { method: 'POST', headers: user })).status).toBe(200);
    expect((await app.request('/api/users/universe', { method: 'POST', headers: user })).status).toBe(429);
  });

  it('limits credential endpoints per IP under the auth limit, whoever the caller claims to be', async () => {
    const { app } = limitedApp();
    expect((await app.request('/api/auth/login', { method: 'POST', headers: { 'x-user': 'u1' } })).status).toBe(200);
    const refused = await app.request('/api/auth/login', { method: 'POST', headers: { 'x-user': 'u2' } });
    expect(refused.status).toBe(429);
    expect(refused.headers.get('x-ratelimit-limit')).toBe('1');
  });

  it('charges bad credentials to the caller under the auth limit', async () => {
    const { app } = limitedApp();
    expect(await (await app.request('/api/bad-credential', { headers: { 'x-user': 'u1' } })).text()).toBe('charged');
    expect((await app.request('/api/bad-credential', { headers: { 'x-user': 'u1' } })).status).toBe(429);
  });

  it('remembers the headroom of HEADROOM_CLIENTS clients at most under a burst from distinct clients', async () => {
    const { app, limits } = limitedApp();
    for (let client = 0; client < HEADROOM_CLIENTS + 500; client += 1)
      expect((await app.request('/api/patterns/scan', { headers: { 'x-user': `burst-${client}` } })).status).toBe(200);
    expect(limits.headroomClients()).toBe(HEADROOM_CLIENTS);
  });
});
