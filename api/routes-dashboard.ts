import { readFile } from 'node:fs/promises';
import { extname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { OpenAPIHono } from '@hono/zod-openapi';
import type { ApiConfig } from './config.js';
import type { ApiEnv } from './context.js';
import { problemResponse } from './problem.js';

/** Where `npm run build:dashboard` writes the dashboard (the same place relative to this file in dist/). */
export const DASHBOARD_DIST = fileURLToPath(new URL('../dashboard/dist/', import.meta.url));

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
};

/** The meta tag the dashboard reads the gateway's URL from (dashboard/index.html). */
const GATEWAY_META = '<meta name="tickflow-gateway" content="" />';

/**
 * The dashboard at /app/: its hashed assets (cached for a year), and index.html for every other path under /app/
 * (the dashboard routes in the browser), with the gateway URL filled in. Served by the API so its REST calls are
 * same-origin (no CORS, no second origin to configure); the WebSocket goes to the gateway named by
 * API_DASHBOARD_GATEWAY_URL.
 */
export function registerDashboardRoutes(app: OpenAPIHono<ApiEnv>, config: ApiConfig, dist = DASHBOARD_DIST): void {
  const escaped = config.API_DASHBOARD_GATEWAY_URL.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;');
  app.get('/app', (c) => c.redirect('/app/', 301));
  app.get('/app/*', async (c) => {
    const path = c.req.path.slice('/app/'.length);
    const asset = path.startsWith('assets/') ? normalize(path) : undefined;
    try {
      if (asset !== undefined && !asset.startsWith('..')) {
        const type = CONTENT_TYPES[extname(asset)];
        if (type) {
          const body = await readFile(join(dist, asset));
          return c.body(body, 200, { 'content-type': type, 'cache-control': 'public, max-age=31536000, immutable' });
        }
      }
      if (asset !== undefined) return problemResponse(c, 404, `no dashboard asset ${path}`);
      const page = await readFile(join(dist, 'index.html'), 'utf8');
      return c.body(page.replace(GATEWAY_META, `<meta name="tickflow-gateway" content="${escaped}" />`), 200, {
        'content-type': CONTENT_TYPES['.html']!,
        'cache-control': 'no-cache',
      });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      if (asset !== undefined) return problemResponse(c, 404, `no dashboard asset ${path}`);
      return problemResponse(c, 503, 'the dashboard is not built: run `npm run build:dashboard` (npm start builds it when missing)');
    }
  });
}
