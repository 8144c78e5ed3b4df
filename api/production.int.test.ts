import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../test/postgres.js';
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
  it('refuses the published default JWT_SECRET and a short one', async () => {
    const env = { ...process.env, DATABASE_URL: db.url, TICKFLOW_ENV: 'production' };
    await expect(startApi({ env: { ...env, JWT_SECRET: undefined }, port: 0 })).rejects.toThrow(
      /JWT_SECRET: the published development default/,
    );
    await expect(startApi({ env: { ...env, JWT_SECRET: 'short-secret' }, port: 0 })).rejects.toThrow(/JWT_SECRET: 12 characters/);
  });

  it('serves /metrics on the ops port only and answers /ready 503 once a stop has begun', async () => {
    let draining = false;
    api = await startApi({
      env: { ...process.env, DATABASE_URL: db.url, NODE_ENV: 'production', JWT_SECRET: 'a-production-secret-of-more-than-32-chars' },
      port: 0,
      draining: () => draining,
    });
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
