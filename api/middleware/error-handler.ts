import type { Context, ErrorHandler, NotFoundHandler } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { AuthError, type Logger } from '../../platform/index.js';
import { AccountError } from '../accounts.js';
import type { ApiEnv } from '../context.js';
import { HttpProblem, problemResponse } from '../problem.js';
import { accountProblem } from '../routes-users.js';
import { ScanInputError } from '../scan.js';

/** Every error a request ends in, as problem+json; anything unexpected is a logged 500. */
export function errorHandler(logger: Logger): ErrorHandler<ApiEnv> {
  return (error, c) => {
    if (error instanceof HttpProblem) return problemResponse(c, error.status, error.detail, error.errors, error.headers);
    if (error instanceof ScanInputError) return problemResponse(c, 400, error.message, [{ field: error.field, message: error.message }]);
    if (error instanceof AccountError) {
      const problem = accountProblem(error);
      return problemResponse(c, problem.status, problem.detail, problem.errors, problem.headers);
    }
    // A write past a table's CHECK (the universe cap, scopes) that slipped by the handler's own check.
    if ((error as { code?: string }).code === '23514') return problemResponse(c, 400, 'the request breaks a limit of the stored data');
    if (error instanceof AuthError) {
      return problemResponse(c, 401, error.message, undefined, { 'WWW-Authenticate': `Bearer error="invalid_token", error_description="${error.code}"` });
    }
    if (error instanceof HTTPException) return problemResponse(c, error.status as ContentfulStatusCode, error.message);
    if ((error as { code?: string }).code === '57014') {
      logger.warn({ requestId: c.get('requestId'), path: c.req.path }, 'query cancelled by the statement timeout');
      return problemResponse(c, 503, 'the query took too long; narrow the filters or retry', undefined, { 'Retry-After': '1' });
    }
    // A body string PostgreSQL cannot store (NUL in text or jsonb) is the client's error.
    if (isUnstorableText(error)) return problemResponse(c, 400, 'the request contains a NUL character, which cannot be stored');
    logger.error({ err: error, requestId: c.get('requestId'), path: c.req.path }, 'request failed');
    return problemResponse(c, 500, 'internal error; quote the request id when reporting it');
  };
}

/** A 404 problem naming the method and path no route matched. */
export const routeNotFound: NotFoundHandler = (c: Context) => problemResponse(c, 404, `no route ${c.req.method} ${c.req.path}`);

/** PostgreSQL's "invalid byte sequence" (22021) and "untranslatable character" (22P05, \u0000 in jsonb). */
function isUnstorableText(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === '22021' || code === '22P05';
}
