import type { Context, MiddlewareHandler } from 'hono';
import { compress } from 'hono/compress';
import { cors } from 'hono/cors';

/*
 * Why these wrap Hono's middleware: @hono/node-server writes a handler's response straight to the socket while it
 * is still the lightweight object `c.body()` made. Touching `c.res` before the handler runs, or calling `c.header()`
 * after it (as hono/cors and hono/compress do on every request), makes Hono rebuild the response from its body:
 * an undici Response over a web ReadableStream, which the server then has to stream. Headers set with `c.header()`
 * before the handler, or on `c.res.headers` after it, keep the fast path.
 */

export interface CorsOptions {
  /** Allowed origins; '*' allows any. */
  readonly origins: readonly string[];
  readonly allowMethods: readonly string[];
  readonly allowHeaders: readonly string[];
  readonly exposeHeaders: readonly string[];
  readonly maxAge: number;
}

/** CORS as hono/cors answers it; preflights (OPTIONS) are answered by hono/cors itself. */
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

/**
 * hono/compress for clients that accept gzip or deflate. `Vary: Accept-Encoding` goes on every response before
 * the handler runs, so caches keep compressed and plain answers apart without a rebuild afterwards.
 */
export function compressWhenAccepted(): MiddlewareHandler {
  const compressor = compress();
  return async (c, next) => {
    c.header('Vary', 'Accept-Encoding', { append: true });
    const accepted = c.req.header('accept-encoding');
    if (accepted !== undefined && /gzip|deflate|\*/i.test(accepted)) return compressor(c, next);
    await next();
  };
}

/** Sets a response header whether or not the handler has already answered (see above). */
export function setResponseHeader(c: Context, name: string, value: string): void {
  if (c.finalized) c.res.headers.set(name, value);
  else c.header(name, value);
}
