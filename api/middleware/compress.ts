import type { MiddlewareHandler } from 'hono';
import { compress } from 'hono/compress';

/**
 * hono/compress for clients that accept gzip or deflate. `Vary: Accept-Encoding` goes on every response before
 * the handler runs, so caches keep compressed and plain answers apart without a rebuild afterwards
 * (response-headers.ts).
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
