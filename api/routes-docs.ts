import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { OpenAPIHono } from '@hono/zod-openapi';
import { Scalar } from '@scalar/hono-api-reference';
import { TICKFLOW_VERSION } from '../platform/version.js';
import type { ApiEnv } from './context.js';

/** /openapi.json (the document the routes registered) and /docs (its reference UI), both public. */
export function registerDocsRoutes(app: OpenAPIHono<ApiEnv>): void {
  app.openAPIRegistry.registerComponent('securitySchemes', 'bearerAuth', { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' });
  app.openAPIRegistry.registerComponent('securitySchemes', 'apiKeyAuth', { type: 'apiKey', in: 'header', name: 'X-API-Key' });
  app.doc31('/openapi.json', {
    openapi: '3.1.0',
    info: {
      title: 'Tickflow API',
      version: TICKFLOW_VERSION,
      description: [
        'Pattern scans, symbols and bars, user universes and authentication. Errors are application/problem+json (RFC 9457).',
        '',
        'Market data (patterns, stats, symbols, bars) is licensed per user: every data route needs an access token (`Authorization: Bearer`) or an API key (`X-API-Key`, or `Authorization: Bearer tfk_...`) with the `read` scope. A deployment may serve it without a credential with API_PUBLIC_DATA=true. /health, /ready, /openapi.json and /docs are public.',
        '',
        'API key scopes: `read` (REST data and universes), `stream` (the WebSocket gateway), `manage` (create, list and revoke API keys). New keys get `read` and `stream`; `manage` only when asked for, so a leaked key cannot mint its own successor. A signed-in session (access token) may do everything.',
      ].join('\n'),
    },
    // Relative: the API answers on whatever origin served this document (`npm start`: http://127.0.0.1:3000, API_PORT).
    servers: [{ url: '/', description: 'The origin that served this document' }],
    security: [{ bearerAuth: [] }, { apiKeyAuth: [] }],
    tags: [{ name: 'patterns' }, { name: 'symbols' }, { name: 'universes' }, { name: 'auth' }, { name: 'operations' }],
  });
  // The reference UI comes from the installed @scalar/api-reference, served by the API itself: no CDN, no unpinned
  // script, nothing loaded from another origin (its default fonts come from a CDN, so they are off).
  app.get(DOCS_SCRIPT_PATH, async (c) => {
    const script = await docsScript();
    return c.body(script, 200, { 'content-type': 'text/javascript; charset=utf-8', 'cache-control': 'public, max-age=86400' });
  });
  // No developer toolbar and no "Ask AI" agent: both reach Scalar's services from the reader's browser.
  const docsConfiguration = {
    url: '/openapi.json',
    pageTitle: 'Tickflow API',
    cdn: DOCS_SCRIPT_PATH,
    withDefaultFonts: false,
    showDeveloperTools: 'never',
    agent: { disabled: true },
  };
  app.get('/docs', Scalar(docsConfiguration as Parameters<typeof Scalar>[0]));
}

const DOCS_SCRIPT_PATH = '/docs/scalar-api-reference.js';

/**
 * Where the build (build.ts) puts the reference UI's browser bundle, beside the compiled api/: the one file of
 * @scalar/api-reference the API serves. The package itself is a dev dependency: it brings ~200 MB of Vue, bundlers
 * and TypeScript (optional peers that `npm ci --omit=dev` would install) that production never loads.
 */
export const DOCS_SCRIPT_BUILT = 'vendor/scalar-api-reference.js';

/** The standalone bundle in the installed @scalar/api-reference (the package exports no path to it; it sits beside its entry point). */
export function docsScriptSource(): string {
  return join(dirname(createRequire(import.meta.url).resolve('@scalar/api-reference')), 'browser', 'standalone.js');
}

let docsScriptText: Promise<string> | undefined;
/** The reference UI's script, read once on the first /docs visit: the installed package's from source, the build's copy compiled. */
function docsScript(): Promise<string> {
  docsScriptText ??= readFile(
    import.meta.url.endsWith('.ts') ? docsScriptSource() : fileURLToPath(new URL(`./${DOCS_SCRIPT_BUILT}`, import.meta.url)),
    'utf8',
  );
  return docsScriptText;
}
