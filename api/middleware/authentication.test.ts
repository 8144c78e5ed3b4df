import { Hono } from 'hono';
import { describe, expect, it, vi } from 'vitest';
import { AuthError, type Logger } from '../../platform/index.js';
import type { VerifiedApiKey } from '../../store/accounts/credentials.js';
import type { ApiEnv } from '../context.js';
import { authentication } from './authentication.js';
import { errorHandler } from './error-handler.js';

const KEYS: Record<string, VerifiedApiKey> = {
  tfk_read: { id: 'k1', userId: 'u-key', scopes: ['read', 'stream'] },
  tfk_stream: { id: 'k2', userId: 'u-key', scopes: ['stream'] },
};

function appWith(publicData = false) {
  const onBadCredential = vi.fn(async () => undefined);
  const app = new Hono<ApiEnv>();
  app.use('*', async (c, next) => {
    c.set('userId', undefined);
    c.set('scopes', undefined);
    await next();
  });
  app.use(
    '/api/*',
    authentication({
      tokens: {
        verifyAccessToken: async (token) => {
          if (token === 'good-token') return { userId: 'u-token', email: 'a@example.com' };
          throw new AuthError('token_invalid', 'access token is not valid');
        },
      },
      verifyApiKey: async (key) => KEYS[key],
      publicData,
      onBadCredential,
    }),
  );
  app.get('/api/*', (c) => c.json({ userId: c.get('userId') ?? null, scopes: c.get('scopes') ?? null }));
  app.onError(errorHandler({ error: () => undefined, warn: () => undefined } as unknown as Logger));
  return { app, onBadCredential };
}

describe('authentication', () => {
  it('takes the user from an access token, with every scope', async () => {
    const response = await appWith().app.request('/api/patterns/scan', { headers: { authorization: 'Bearer good-token' } });
    expect(await response.json()).toEqual({ userId: 'u-token', scopes: null });
  });

  it('takes the user and scopes from an API key, in X-API-Key or as a Bearer tfk_ token', async () => {
    const { app } = appWith();
    expect(await (await app.request('/api/symbols', { headers: { 'x-api-key': 'tfk_read' } })).json()).toEqual({
      userId: 'u-key',
      scopes: ['read', 'stream'],
    });
    expect(await (await app.request('/api/symbols', { headers: { authorization: 'Bearer tfk_read' } })).json()).toEqual({
      userId: 'u-key',
      scopes: ['read', 'stream'],
    });
  });

  it('refuses a bad credential with 401 after charging it to the caller', async () => {
    const { app, onBadCredential } = appWith();
    const cases: Record<string, string>[] = [
      { authorization: 'Basic abc' },
      { authorization: 'Bearer bad-token' },
      { 'x-api-key': 'tfk_unknown' },
    ];
    for (const headers of cases) expect((await app.request('/api/users/universe', { headers })).status).toBe(401);
    expect(onBadCredential).toHaveBeenCalledTimes(cases.length);
  });

  it('needs a credential for market data unless it is public, and none for the rest', async () => {
    const response = await appWith().app.request('/api/patterns/scan');
    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toBe('Bearer realm="tickflow"');
    expect((await appWith(true).app.request('/api/patterns/scan')).status).toBe(200);
    expect((await appWith().app.request('/api/users/universe')).status).toBe(200);
  });

  it('lets a key without the read scope reach only the auth routes', async () => {
    const { app } = appWith();
    const refused = await app.request('/api/users/universe', { headers: { 'x-api-key': 'tfk_stream' } });
    expect(refused.status).toBe(403);
    expect(refused.headers.get('www-authenticate')).toBe('Bearer error="insufficient_scope", scope="read"');
    expect((await app.request('/api/auth/me', { headers: { 'x-api-key': 'tfk_stream' } })).status).toBe(200);
  });
});
