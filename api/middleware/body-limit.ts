import type { MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { problemResponse } from '../problem.js';

/** Methods whose body the API never reads. */
const BODILESS_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * Refuses a request body larger than `maxBytes` with 413. Not on reads: the limit checks the body through the
 * Fetch Request, which @hono/node-server then builds (AbortController included) for every GET: 2.9% of the API
 * process's CPU profile under uncached scans.
 */
export function limitRequestBodies(maxBytes: number): MiddlewareHandler {
  const limitBody = bodyLimit({ maxSize: maxBytes, onError: (c) => problemResponse(c, 413, `request body larger than ${maxBytes} bytes`) });
  return (c, next) => (BODILESS_METHODS.has(c.req.method) ? next() : limitBody(c, next));
}
