import type { MiddlewareHandler } from 'hono';
import { etag, RETAINED_304_HEADERS } from 'hono/etag';
import { CORS_RESPONSE_HEADERS } from './cors.js';

/**
 * Weak ETags and 304 answers to If-None-Match. The 304 is a new response that keeps only the listed headers: without
 * the CORS ones and the exposed ones a browser refuses a cross-origin revalidation ("Failed to fetch"), although
 * If-None-Match is an allowed request header.
 */
export function weakEtags(exposedHeaders: readonly string[]): MiddlewareHandler {
  return etag({ weak: true, retainedHeaders: [...RETAINED_304_HEADERS, ...CORS_RESPONSE_HEADERS, ...exposedHeaders] });
}
