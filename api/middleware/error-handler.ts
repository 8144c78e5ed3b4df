import type { Context, ErrorHandler, NotFoundHandler } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { AuthError, type Logger } from '../../platform/index.js';
import { isDatabaseUnavailable } from '../../store/availability.js';
import { AccountError } from '../../store/accounts/accounts.js';
import type { ApiEnv } from '../context.js';
import { ApiError, type FailureKind, type ProblemParts } from '../errors.js';
import { problemResponse } from '../problem.js';
import { ScanInputError } from '../scan.js';

/** Every error a request ends in, as problem+json (problemOf); anything unexpected is a logged 500. */
export function errorHandler(logger: Logger): ErrorHandler<ApiEnv> {
  return (error, c) => {
    const problem = problemOf(error);
    if (problem === undefined) {
      logger.error({ err: error, requestId: c.get('requestId'), path: c.req.path }, 'request failed');
      return problemResponse(c, 500, 'internal error; quote the request id when reporting it');
    }
    if (postgresCode(error) === STATEMENT_TIMEOUT)
      logger.warn({ requestId: c.get('requestId'), path: c.req.path }, 'query cancelled by the statement timeout');
    else if (problem.status === 503) logger.warn({ err: error, requestId: c.get('requestId'), path: c.req.path }, 'PostgreSQL unreachable');
    return problemResponse(c, problem.status, problem.detail, problem.errors, problem.headers);
  };
}

/** A 404 problem naming the method and path no route matched. */
export const routeNotFound: NotFoundHandler = (c: Context) => problemResponse(c, 404, `no route ${c.req.method} ${c.req.path}`);

/**
 * The one mapping from what a request can fail with to the problem it answers: the API's own failures, the domain
 * modules' coded errors, Hono's validator and PostgreSQL errors the client caused. Undefined: a bug (500).
 */
export function problemOf(error: unknown): ProblemParts | undefined {
  if (error instanceof ApiError) return error;
  if (error instanceof ScanInputError) return new ApiError('validation', error.message, [{ field: error.field, message: error.message }]);
  if (error instanceof AccountError) return accountProblem(error);
  if (error instanceof AuthError)
    return new ApiError('unauthorized', error.message, undefined, {
      'WWW-Authenticate': `Bearer error="invalid_token", error_description="${error.code}"`,
    });
  // The validators' malformed JSON (400) and undeclared media type (415).
  if (error instanceof HTTPException) return { status: error.status as ContentfulStatusCode, detail: error.message };
  // The database down or restarting (a connection refused or lost): the pool replaces the connection, a retry can work.
  if (isDatabaseUnavailable(error))
    return new ApiError('unavailable', 'the database is unavailable; retry shortly', undefined, { 'Retry-After': '1' });
  switch (postgresCode(error)) {
    // A write past a table's CHECK (the universe cap, scopes) that slipped by the handler's own check.
    case '23514':
      return new ApiError('validation', 'the request breaks a limit of the stored data');
    case STATEMENT_TIMEOUT:
      return new ApiError('unavailable', 'the query took too long; narrow the filters or retry', undefined, { 'Retry-After': '1' });
    // A body string PostgreSQL cannot store: "invalid byte sequence" (22021), "untranslatable character" (22P05, \u0000 in jsonb).
    case '22021':
    case '22P05':
      return new ApiError('validation', 'the request contains a NUL character, which cannot be stored');
    default:
      return undefined;
  }
}

/** query_canceled: the statement timeout (API_STATEMENT_TIMEOUT_MS) ended the query. */
const STATEMENT_TIMEOUT = '57014';

function postgresCode(error: unknown): unknown {
  return (error as { code?: unknown } | null)?.code;
}

/** Each account failure's kind. Refresh failures are all 401; the detail says which (expired, reused, invalid). */
const ACCOUNT_FAILURES: Readonly<Record<AccountError['code'], FailureKind>> = {
  email_taken: 'conflict',
  exists: 'conflict',
  limit_reached: 'conflict',
  not_found: 'not-found',
  read_only: 'forbidden',
  too_many_symbols: 'validation',
  user_gone: 'unauthorized',
  bad_credentials: 'unauthorized',
  refresh_invalid: 'unauthorized',
  refresh_expired: 'unauthorized',
  refresh_reused: 'unauthorized',
};

function accountProblem(error: AccountError): ApiError {
  const kind = ACCOUNT_FAILURES[error.code];
  if (kind === 'unauthorized') return new ApiError(kind, error.message, undefined, { 'WWW-Authenticate': `Bearer error="invalid_token"` });
  if (error.code === 'too_many_symbols') {
    // The message starts with the field it is about: "add_symbols: the universe would hold ...".
    const field = error.message.split(':')[0]!;
    return new ApiError(kind, error.message, [{ field, message: error.message.slice(field.length + 2) }]);
  }
  return new ApiError(kind, error.message);
}
