import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OpenAPIHono } from '@hono/zod-openapi';
import { afterAll, describe, expect, it } from 'vitest';
import { loadApiConfig } from './config.js';
import type { ApiEnv } from './context.js';
import { registerDashboardRoutes } from './routes-dashboard.js';

const dist = mkdtempSync(join(tmpdir(), 'tickflow-dashboard-'));
mkdirSync(join(dist, 'assets'));
writeFileSync(join(dist, 'index.html'), '<head><meta name="tickflow-gateway" content="" /></head>');
writeFileSync(join(dist, 'assets', 'index-abc.js'), 'console.log(1)');
afterAll(() => rmSync(dist, { recursive: true, force: true }));

function appWith(directory: string) {
  const app = new OpenAPIHono<ApiEnv>();
  registerDashboardRoutes(app, loadApiConfig({ API_DASHBOARD_GATEWAY_URL: 'wss://gw.example/ws?a=1&b="2"' }), directory);
  return app;
}

describe('the dashboard routes (/app/)', () => {
  const app = appWith(dist);

  it('serves index.html for every page path, with the gateway URL filled in and escaped', async () => {
    for (const path of ['/app/', '/app/symbol/AAPL']) {
      const response = await app.request(path);
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toMatch(/text\/html/);
      expect(await response.text()).toContain('content="wss://gw.example/ws?a=1&amp;b=&quot;2&quot;"');
    }
    const redirect = await app.request('/app');
    expect(redirect.status).toBe(301);
    expect(redirect.headers.get('location')).toBe('/app/');
  });

  it('serves hashed assets for a year, and 404 for unknown or escaping asset paths', async () => {
    const asset = await app.request('/app/assets/index-abc.js');
    expect(asset.status).toBe(200);
    expect(asset.headers.get('cache-control')).toContain('immutable');
    expect(await asset.text()).toBe('console.log(1)');
    expect((await app.request('/app/assets/missing.js')).status).toBe(404);
    expect((await app.request('/app/assets/notes.txt')).status).toBe(404);
    expect((await app.request('/app/assets/%2e%2e/%2e%2e/package.json')).status).toBe(404);
  });

  it('says how to build the dashboard when it is not built', async () => {
    const response = await appWith(join(dist, 'nowhere')).request('/app/');
    expect(response.status).toBe(503);
    expect(await response.text()).toContain('npm run build:dashboard');
  });
});
