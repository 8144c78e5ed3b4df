import type { Context, MiddlewareHandler } from 'hono';
import { ApiError } from '../errors.js';

/**
 * PostgreSQL text cannot hold NUL (U+0000): refuses it in the path or a query parameter up front, naming the
 * parameter (400), rather than fail in a query (500). NULs in a JSON body are mapped by the error handler.
 */
export function nulGuard(): MiddlewareHandler {
  return async (c, next) => {
    const field = nulParameter(c);
    if (field) throw new ApiError('validation', `${field} contains a NUL character`, [{ field, message: 'contains a NUL character' }]);
    await next();
  };
}

/** The first query parameter (or `path`) holding a NUL character, if any. */
function nulParameter(c: Context): string | undefined {
  let path: string;
  try {
    path = decodeURIComponent(c.req.path);
  } catch {
    path = c.req.path;
  }
  if (path.includes('\u0000')) return 'path';
  for (const [name, values] of Object.entries(c.req.queries())) if (values.some((value) => value.includes('\u0000'))) return name;
  return undefined;
}
