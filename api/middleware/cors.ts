import type { MiddlewareHandler } from 'hono';
import { cors } from 'hono/cors';

/** CORS headers of a simple (not preflight) response, which every answer must keep (a 304 included: etag.ts). */
export const CORS_RESPONSE_HEADERS = ['Access-Control-Allow-Origin', 'Access-Control-Expose-Headers', 'Access-Control-Allow-Credentials'];

export interface CorsOptions {
  /** Allowed origins; '*' allows any. */
  readonly origins: readonly string[];
  readonly allowMethods: readonly string[];
  readonly allowHeaders: readonly string[];
  readonly exposeHeaders: readonly string[];
  readonly maxAge: number;
}

/**
 * CORS as hono/cors answers it, with the headers set before the handler runs so the response keeps its fast path
 * (response-headers.ts); preflights (OPTIONS) are answered by hono/cors itself.
 */
export function corsHeaders(options: CorsOptions): MiddlewareHandler {
  const allowAll = options.origins.includes('*');
  const preflight = cors({
    origin: allowAll ? '*' : [...options.origins],
    allowMethods: [...options.allowMethods],
    allowHeaders: [...options.allowHeaders],
    exposeHeaders: [...options.exposeHeaders],
    maxAge: options.maxAge,
  });
  const expose = options.exposeHeaders.join(',');
  return async (c, next) => {
    if (c.req.method === 'OPTIONS') return preflight(c, next);
    const origin = c.req.header('origin') ?? '';
    const allowed = allowAll ? '*' : options.origins.includes(origin) ? origin : undefined;
    if (allowed !== undefined) c.header('Access-Control-Allow-Origin', allowed);
    if (expose.length > 0) c.header('Access-Control-Expose-Headers', expose);
    if (!allowAll) c.header('Vary', 'Origin', { append: true });
    await next();
  };
}
