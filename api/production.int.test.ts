import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger, loadAuthConfig, loadPlatformConfig, metricsOnPublicPort, TokenService } from '../platform/index.js';
import { createTestDatabase, type TestDatabase } from '../test/postgres.js';
import { loadApiConfig } from './config.js';
import { startApi, type ApiHandle } from './server.js';

let db: TestDatabase;
let api: ApiHandle | undefined;

beforeAll(async () => {
  db = await createTestDatabase('api-prod');
});

afterAll(async () => {
  await api?.stop();
  await db?.drop();
});

describe('the API in production (issue 22 item 4)', () => {
  const production = { ...process.env, TICKFLOW_ENV: 'production' };

  it('refuses the published default JWT_SECRET and a short one (api/main.ts loads this before any connection)', () => {
    expect(() => loadAuthConfig({ ...production, JWT_SECRET: undefined })).toThrow(/JWT_SECRET: the published development default/);
    expect(() => loadAuthConfig({ ...production, JWT_SECRET: 'short-secret' })).toThrow(/JWT_SECRET: 12 characters/);
  });

  it('serves /metrics on the ops port only and answers /ready 503 once a stop has begun', async () => {
    const env = { ...process.env, NODE_ENV: 'production', JWT_SECRET: 'a-production-secret-of-more-than-32-chars' };
    const platform = loadPlatformConfig(env);
    let draining = false;
    api = await startApi({
      config: loadApiConfig({ ...env, API_PORT: '0' }),
      databaseUrl: db.url,
      redisUrl: platform.REDIS_URL,
      redisKeyPrefix: `api-prod-${process.pid}:`,
      brokers: platform.KAFKA_BROKERS,
      kafkaClientId: platform.KAFKA_CLIENT_ID,
      tokens: new TokenService(loadAuthConfig(env)),
      logger: createLogger('api-prod-test', { level: 'silent' }),
      // What api/main.ts passes: in production /metrics is not on the public port.
      publicMetrics: metricsOnPublicPort(env),
      port: 0,
      draining: () => draining,
    });
    expect(metricsOnPublicPort(env)).toBe(false);
    expect((await fetch(`${api.url}/metrics`)).status).toBe(404);
    expect((await fetch(`${api.url}/ready`)).status).toBe(200);
    draining = true;
    const response = await fetch(`${api.url}/ready`);
    expect(response.status).toBe(503);
    expect(((await response.json()) as { checks: Record<string, { ok: boolean; error?: string }> }).checks.shutdown).toEqual({
      ok: false,
      error: 'draining: the API is stopping',
    });
  });
});
