import type { Context } from 'hono';

/*
 * Why the API wraps Hono's header middleware (cors.ts, compress.ts): @hono/node-server writes a handler's response
 * straight to the socket while it is still the lightweight object `c.body()` made. Touching `c.res` before the
 * handler runs, or calling `c.header()` after it (as hono/cors and hono/compress do on every request), makes Hono
 * rebuild the response from its body: an undici Response over a web ReadableStream, which the server then has to
 * stream. Headers set with `c.header()` before the handler, or on `c.res.headers` after it, keep the fast path.
 */

/** Sets a response header whether or not the handler has already answered (see above). */
export function setResponseHeader(c: Context, name: string, value: string): void {
  if (c.finalized) c.res.headers.set(name, value);
  else c.header(name, value);
}
