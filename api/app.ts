import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { OpenAPIHono, createRoute, z } from '@hono/zod-openapi';
import { getConnInfo } from '@hono/node-server/conninfo';
import { Scalar } from '@scalar/hono-api-reference';
import type { Context, MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { etag, RETAINED_304_HEADERS } from 'hono/etag';
import { HTTPException } from 'hono/http-exception';
import { requestId } from 'hono/request-id';
import { routePath } from 'hono/route';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import { AuthError, Counter, Histogram, runChecks, type ApiKeyScope, type HealthCheck } from '../platform/index.js';
import { isDatabaseUnavailable } from '../store/availability.js';
import { Accounts, AccountError } from './accounts.js';
import { versionKeysChangedBy } from './cache-key.js';
import { createCacheMetrics, ReadThroughCache } from './cache.js';
import type { ApiDependencies, ApiEnv, ApiServices, LoginGuard } from './context.js';
import { requireScope } from './context.js';
import { MarketClock } from './market-clock.js';
import { fieldErrors, HttpProblem, problemResponse } from './problem.js';
import { compressWhenAccepted, corsHeaders, setResponseHeader } from './response-headers.js';
import { registerPatternRoutes } from './routes-patterns.js';
import { registerSymbolRoutes } from './routes-symbols.js';
import { accountProblem, registerUserRoutes } from './routes-users.js';
import { ScanInputError } from './scan.js';

export const API_VERSION = '1.0.0';

/** Largest request body accepted (a universe of 5000 symbols is ~40 KB). */
const MAX_BODY_BYTES = 256 * 1024;
/** CORS headers of a simple (not preflight) response, which every answer must keep. */
const CORS_RESPONSE_HEADERS = ['Access-Control-Allow-Origin', 'Access-Control-Expose-Headers', 'Access-Control-Allow-Credentials'];
/** Methods whose body the API never reads. */
const BODILESS_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);


/**
 * The client's IP. Behind `trustedHops` proxies, each appending the address it saw to X-Forwarded-For, the client
 * is the entry `trustedHops` from the right: entries further left were written by the client and prove nothing.
 */
export function clientIpFrom(forwardedFor: string | undefined, socketAddress: string, trustedHops: number): string {
  if (trustedHops <= 0 || forwardedFor === undefined) return socketAddress;
  const entries = forwardedFor
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry.length > 0);
  if (entries.length === 0) return socketAddress;
  // Fewer entries than trusted hops: the leftmost was still written by a trusted proxy.
  return entries[Math.max(0, entries.length - trustedHops)]!;
}

function socketAddress(c: Context): string {
  try {
    return getConnInfo(c).remote.address ?? 'unknown';
  } catch {
    // app.request() in tests has no socket.
    return 'local';
  }
}

function rateLimiter(deps: ApiDependencies, name: string, points: number, duration = 60): RateLimiterAbstract {
  const memory = new RateLimiterMemory({ keyPrefix: `${deps.config.API_REDIS_PREFIX}rl:${name}`, points, duration });
  if (!deps.redis) return memory;
  // Counters are shared by every API instance through Redis; when Redis fails, each instance limits on its own.
  return new RateLimiterRedis({ storeClient: deps.redis, keyPrefix: `${deps.config.API_REDIS_PREFIX}rl:${name}`, points, duration, insuranceLimiter: memory });
}

/** Endpoints that take a password or a refresh token: limited per IP under the strict auth limit. */
const CREDENTIAL_PATHS = new Set(['/api/auth/register', '/api/auth/login', '/api/auth/refresh', '/api/auth/logout']);
/** Market data, licensed per user: a credential is required unless API_PUBLIC_DATA is set. */
const isMarketDataPath = (path: string) => path === '/api/patterns' || path.startsWith('/api/patterns/') || path === '/api/symbols' || path.startsWith('/api/symbols/');
const LOGIN_FAILURE_WINDOW_SECONDS = 15 * 60;

/** Failed logins per account (lower-cased email) in a 15-minute window, across IPs and API instances. */
function loginGuard(deps: ApiDependencies): LoginGuard {
  const limiter = rateLimiter(deps, 'login-account', deps.config.API_LOGIN_FAILURES_PER_ACCOUNT, LOGIN_FAILURE_WINDOW_SECONDS);
  const keyOf = (email: string) => createHash('sha256').update(email.trim().toLowerCase()).digest('hex');
  return {
    async check(email) {
      const state = await limiter.get(keyOf(email));
      if (state !== null && state.consumedPoints >= limiter.points) {
        const retryAfter = String(Math.max(1, Math.ceil(state.msBeforeNext / 1000)));
        throw new HttpProblem(429, `too many failed logins for this account; retry in ${retryAfter} s`, undefined, { 'Retry-After': retryAfter });
      }
    },
    async failed(email) {
      await limiter.consume(keyOf(email)).catch((rejection: unknown) => {
        if (!(rejection instanceof RateLimiterRes)) throw rejection;
      });
    },
    async succeeded(email) {
      await limiter.delete(keyOf(email));
    },
  };
}

/**
 * The API as a Hono app: pure wiring of the injected servers, testable with `app.request()`.
 * Middleware order: request id -> metrics/log -> CORS -> compression -> ETag -> auth -> rate limit -> routes.
 */
export function createApp(deps: ApiDependencies): OpenAPIHono<ApiEnv> {
  const now = deps.now ?? Date.now;
  const cacheMetrics = createCacheMetrics(deps.registry);
  const services: ApiServices = {
    deps,
    cache: new ReadThroughCache(deps.redis, { ttlSeconds: deps.config.API_CACHE_TTL_SECONDS, hotEntries: deps.config.API_CACHE_REFRESH_AHEAD, now, ...(deps.inFlight ? { inFlight: deps.inFlight } : {}) }, cacheMetrics, deps.logger),
    accounts: new Accounts(deps.db, { refreshTtlSeconds: deps.config.API_REFRESH_TOKEN_TTL_SECONDS, refreshGraceSeconds: deps.config.API_REFRESH_GRACE_SECONDS, now }),
    now,
    cachePrefix: deps.config.API_REDIS_PREFIX,
    scanCountCap: deps.scanCountCap ?? deps.config.API_SCAN_COUNT_CAP,
    marketClock: new MarketClock(deps.db, now, deps.marketClockRefreshMs, (error) => deps.logger.warn({ err: error }, 'market clock read failed; ages use the last value or the wall clock')),
    loginGuard: loginGuard(deps),
  };
  deps.notices?.((notice) => {
    void services.cache.refreshAffected(versionKeysChangedBy(notice, deps.readModelKeys));
  });
  const requests = new Counter({
    name: 'tickflow_api_requests_total',
    help: 'HTTP requests by method, route and status',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [deps.registry],
  });
  const duration = new Histogram({
    name: 'tickflow_api_request_duration_seconds',
    help: 'HTTP request duration by method and route',
    labelNames: ['method', 'route'] as const,
    buckets: [0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [deps.registry],
  });
  const rateLimited = new Counter({ name: 'tickflow_api_rate_limited_total', help: 'Requests refused by the rate limiter', labelNames: ['limiter'] as const, registers: [deps.registry] });

  const app = new OpenAPIHono<ApiEnv>({
    defaultHook: (result, c) => {
      if (!result.success) return problemResponse(c, 400, 'request validation failed', fieldErrors(result.error.issues));
      return undefined;
    },
  });

  app.use('*', requestId({ limitLength: 128 }));
  app.use('*', async (c, next) => {
    c.set('startedAt', performance.now());
    c.set('userId', undefined);
    c.set('scopes', undefined);
    await next();
    const route = routePath(c, -1) || 'unmatched';
    const seconds = (performance.now() - c.get('startedAt')) / 1000;
    requests.inc({ method: c.req.method, route, status: String(c.res.status) });
    duration.observe({ method: c.req.method, route }, seconds);
    deps.logger.debug({ requestId: c.get('requestId'), method: c.req.method, path: c.req.path, status: c.res.status, ms: seconds * 1000 }, 'request');
  });
  const origins = deps.config.API_CORS_ORIGINS;
  const exposeHeaders = ['X-Request-Id', 'ETag', 'Retry-After', 'X-RateLimit-Limit', 'X-RateLimit-Remaining'];
  app.use(
    '*',
    corsHeaders({
      origins,
      allowMethods: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'],
      allowHeaders: ['Authorization', 'Content-Type', 'X-API-Key', 'X-Request-Id', 'If-None-Match'],
      exposeHeaders,
      maxAge: 600,
    }),
  );
  app.use('*', compressWhenAccepted());
  // The 304 is a new response that keeps only the listed headers: without the CORS ones a browser refuses a
  // cross-origin revalidation ("Failed to fetch"), although If-None-Match is an allowed request header.
  app.use('/api/*', etag({ weak: true, retainedHeaders: [...RETAINED_304_HEADERS, ...CORS_RESPONSE_HEADERS, ...exposeHeaders] }));
  // Not on reads: the limit checks the body through the Fetch Request, which @hono/node-server then builds
  // (AbortController included) for every GET: 2.9% of the API process's CPU profile under uncached scans.
  const limitBody = bodyLimit({ maxSize: MAX_BODY_BYTES, onError: (c) => problemResponse(c, 413, `request body larger than ${MAX_BODY_BYTES} bytes`) });
  app.use('/api/*', (c, next) => (BODILESS_METHODS.has(c.req.method) ? next() : limitBody(c, next)));

  // PostgreSQL text cannot hold NUL (U+0000): refuse it up front, naming the parameter, rather than fail in a query (500).
  app.use('/api/*', async (c, next) => {
    const field = nulParameter(c);
    if (field) throw new HttpProblem(400, `${field} contains a NUL character`, [{ field, message: 'contains a NUL character' }]);
    await next();
  });

  const dataLimiter = rateLimiter(deps, 'data', deps.config.API_RATE_LIMIT_PER_MINUTE);
  const authLimiter = rateLimiter(deps, 'auth', deps.config.API_AUTH_RATE_LIMIT_PER_MINUTE);
  const ip = (c: Context<ApiEnv>) => clientIpFrom(c.req.header('x-forwarded-for'), socketAddress(c), deps.config.API_TRUST_PROXY_HOPS);
  /** Points each recent client had left at its last request (bounded), which decides whether its reads may overlap the limiter. */
  const headroom = new Map<string, number>();
  const recordHeadroom = (key: string, remaining: number) => {
    headroom.delete(key);
    headroom.set(key, remaining);
    if (headroom.size > 10_000) headroom.delete(headroom.keys().next().value as string);
  };
  /** Takes a point from the limiter, or ends the request with 429 and Retry-After. */
  const consume = async (c: Context<ApiEnv>, name: string, limiter: RateLimiterAbstract, key: string) => {
    try {
      const result = await limiter.consume(key);
      recordHeadroom(`${name}:${key}`, result.remainingPoints);
      // A read's check may end after its handler answered (see `limit`).
      setResponseHeader(c, 'X-RateLimit-Limit', String(limiter.points));
      setResponseHeader(c, 'X-RateLimit-Remaining', String(result.remainingPoints));
    } catch (rejection) {
      if (!(rejection instanceof RateLimiterRes)) throw rejection;
      recordHeadroom(`${name}:${key}`, 0);
      rateLimited.inc({ limiter: name });
      const retryAfter = String(Math.max(1, Math.ceil(rejection.msBeforeNext / 1000)));
      throw new HttpProblem(429, `rate limit of ${limiter.points} requests per minute exceeded`, undefined, { 'Retry-After': retryAfter, 'X-RateLimit-Limit': String(limiter.points), 'X-RateLimit-Remaining': '0' });
    }
  };

  // Authentication is optional per request; a credential that is present must be valid. Failed credentials
  // count against the strict auth limit of the caller's IP, so API keys and tokens cannot be guessed quickly.
  app.use('/api/*', async (c, next) => {
    const apiKey = c.req.header('x-api-key');
    const authorization = c.req.header('authorization');
    if (apiKey !== undefined || authorization !== undefined) {
      try {
        const principal = await authenticate(apiKey, authorization);
        c.set('userId', principal.userId);
        c.set('scopes', principal.scopes);
      } catch (error) {
        if (error instanceof HttpProblem || error instanceof AuthError) await consume(c, 'auth', authLimiter, `ip:${ip(c)}`);
        throw error;
      }
    }
    const path = c.req.path;
    if (isMarketDataPath(path) && !deps.config.API_PUBLIC_DATA && c.get('userId') === undefined) {
      throw new HttpProblem(401, 'market data needs a credential: send an access token (Authorization: Bearer) or an API key (X-API-Key)', undefined, {
        'WWW-Authenticate': 'Bearer realm="tickflow"',
      });
    }
    // A key reaches the REST API's data and universes only with `read`; key management checks `manage` itself.
    if (!path.startsWith('/api/auth/')) requireScope(c.get('scopes'), 'read');
    await next();
  });
  const authenticate = async (apiKey: string | undefined, authorization: string | undefined): Promise<{ userId: string; scopes: readonly ApiKeyScope[] | undefined }> => {
    const bearer = authorization && /^Bearer\s+(\S+)$/i.exec(authorization)?.[1];
    if (authorization !== undefined && !bearer) throw new HttpProblem(401, 'Authorization must be "Bearer <token>"');
    const key = apiKey ?? (bearer?.startsWith('tfk_') ? bearer : undefined);
    if (key === undefined) return { userId: (await deps.tokens.verifyAccessToken(bearer as string)).userId, scopes: undefined };
    const verified = await services.accounts.authenticateApiKey(key);
    if (!verified) throw new HttpProblem(401, 'API key is invalid or revoked');
    return { userId: verified.userId, scopes: verified.scopes };
  };

  const limit =
    (name: string, limiter: RateLimiterAbstract, keyOf: (c: Context<ApiEnv>) => string): MiddlewareHandler<ApiEnv> =>
    async (c, next) => {
      const key = keyOf(c);
      const taking = consume(c, name, limiter, key);
      // A read changes nothing, so for a client well within its limit (over a tenth of its points left at its
      // last request) the limiter's round trip overlaps the handler's instead of preceding it: a cache hit then
      // waits for one Redis round trip, not two. A refused read still answers 429; a client near or over its
      // limit is checked first, so it cannot make the API do work it will refuse.
      const read = c.req.method === 'GET' || c.req.method === 'HEAD';
      if (!read || (headroom.get(`${name}:${key}`) ?? 0) <= limiter.points / 10) {
        await taking;
        return next();
      }
      const refusal = taking.then(
        () => undefined,
        (error: unknown) => error,
      );
      await next();
      const refused = await refusal;
      if (refused !== undefined) throw refused;
    };
  // Credential endpoints are limited per IP whoever the caller claims to be: they are where passwords are guessed.
  // /me and key management are ordinary authenticated calls, limited with the data (per user) so that a few logins
  // do not lock them out.
  app.use('/api/*', async (c, next) => {
    if (CREDENTIAL_PATHS.has(c.req.path)) return limit('auth', authLimiter, () => `ip:${ip(c)}`)(c, next);
    const userId = c.get('userId');
    return limit('data', dataLimiter, () => (userId ? `user:${userId}` : `ip:${ip(c)}`))(c, next);
  });

  registerPatternRoutes(app, services);
  registerSymbolRoutes(app, services);
  registerUserRoutes(app, services);
  registerOpsRoutes(app, services);

  app.openAPIRegistry.registerComponent('securitySchemes', 'bearerAuth', { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' });
  app.openAPIRegistry.registerComponent('securitySchemes', 'apiKeyAuth', { type: 'apiKey', in: 'header', name: 'X-API-Key' });
  app.doc31('/openapi.json', {
    openapi: '3.1.0',
    info: {
      title: 'Tickflow API',
      version: API_VERSION,
      description: [
        'Pattern scans, symbols and bars, user universes and authentication. Errors are application/problem+json (RFC 9457).',
        '',
        'Market data (patterns, stats, symbols, bars) is licensed per user: every data route needs an access token (`Authorization: Bearer`) or an API key (`X-API-Key`, or `Authorization: Bearer tfk_...`) with the `read` scope. A deployment may serve it without a credential with API_PUBLIC_DATA=true. /health, /ready, /openapi.json and /docs are public.',
        '',
        'API key scopes: `read` (REST data and universes), `stream` (the WebSocket gateway), `manage` (create, list and revoke API keys). New keys get `read` and `stream`; `manage` only when asked for, so a leaked key cannot mint its own successor. A signed-in session (access token) may do everything.',
      ].join('\n'),
    },
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
  const docsConfiguration = { url: '/openapi.json', pageTitle: 'Tickflow API', cdn: DOCS_SCRIPT_PATH, withDefaultFonts: false, showDeveloperTools: 'never', agent: { disabled: true } };
  app.get('/docs', Scalar(docsConfiguration as Parameters<typeof Scalar>[0]));

  app.notFound((c) => problemResponse(c, 404, `no route ${c.req.method} ${c.req.path}`));
  app.onError((error, c) => {
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
      deps.logger.warn({ requestId: c.get('requestId'), path: c.req.path }, 'query cancelled by the statement timeout');
      return problemResponse(c, 503, 'the query took too long; narrow the filters or retry', undefined, { 'Retry-After': '1' });
    }
    // The database down or restarting (a connection refused or lost): the pool replaces the connection, a retry can work.
    if (isDatabaseUnavailable(error)) {
      deps.logger.warn({ err: error, requestId: c.get('requestId'), path: c.req.path }, 'PostgreSQL unreachable');
      return problemResponse(c, 503, 'the database is unavailable; retry shortly', undefined, { 'Retry-After': '1' });
    }
    // A body string PostgreSQL cannot store (NUL in text or jsonb) is the client's error.
    if (isUnstorableText(error)) return problemResponse(c, 400, 'the request contains a NUL character, which cannot be stored');
    deps.logger.error({ err: error, requestId: c.get('requestId'), path: c.req.path }, 'request failed');
    return problemResponse(c, 500, 'internal error; quote the request id when reporting it');
  });
  return app;
}

const DOCS_SCRIPT_PATH = '/docs/scalar-api-reference.js';
let docsScriptText: Promise<string> | undefined;
/** The standalone bundle of the installed @scalar/api-reference (read once, on the first /docs visit). */
function docsScript(): Promise<string> {
  // The package exports no path to its browser bundle; it sits beside its entry point (dist/index.js).
  docsScriptText ??= readFile(join(dirname(createRequire(import.meta.url).resolve('@scalar/api-reference')), 'browser', 'standalone.js'), 'utf8');
  return docsScriptText;
}

/** The first query parameter (or `path`) holding a NUL character, if any. */
function nulParameter(c: Context<ApiEnv>): string | undefined {
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

/** PostgreSQL's "invalid byte sequence" (22021) and "untranslatable character" (22P05, \u0000 in jsonb). */
function isUnstorableText(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === '22021' || code === '22P05';
}

const CheckSchema = z.object({ ok: z.boolean(), details: z.unknown().optional(), error: z.string().optional() });
const ReadySchema = z.object({ status: z.enum(['ok', 'degraded', 'down']), checks: z.record(z.string(), CheckSchema) }).openapi('Readiness');

/** Checks behind /ready: PostgreSQL is required; Redis and projection lag only degrade. */
export function readinessChecks(services: ApiServices): HealthCheck[] {
  const { deps } = services;
  const checks: HealthCheck[] = [
    { name: 'postgres', check: async () => (await deps.db.query('SELECT 1')).rowCount },
    {
      name: 'redis',
      optional: true,
      check: async () => {
        if (!deps.redis) throw new Error('not configured: no cache, in-memory rate limits');
        if (deps.redis.status !== 'ready') throw new Error(`not connected (${deps.redis.status}): serving from PostgreSQL`);
        return deps.redis.ping();
      },
    },
  ];
  const lag = deps.projectionLag;
  if (lag) {
    checks.push({
      name: 'projection_lag',
      optional: true,
      check: async () => {
        const current = await lag();
        if (current.records > deps.config.API_MAX_PROJECTION_LAG) throw new Error(`projections are ${current.records} records behind (max ${deps.config.API_MAX_PROJECTION_LAG})`);
        return current;
      },
    });
  }
  return checks;
}

function registerOpsRoutes(app: OpenAPIHono<ApiEnv>, services: ApiServices): void {
  const checks = readinessChecks(services);
  app.openapi(
    createRoute({
      method: 'get',
      path: '/health',
      tags: ['operations'],
      security: [],
      summary: 'Liveness',
      responses: { 200: { description: 'Alive', content: { 'application/json': { schema: z.object({ status: z.literal('ok') }) } } } },
    }),
    (c) => c.json({ status: 'ok' as const }, 200),
  );
  app.openapi(
    createRoute({
      method: 'get',
      path: '/ready',
      tags: ['operations'],
      security: [],
      summary: 'Readiness: PostgreSQL (required), Redis and projection lag (degraded when failing)',
      responses: {
        200: { description: 'Ready (ok or degraded)', content: { 'application/json': { schema: ReadySchema } } },
        503: { description: 'Not ready', content: { 'application/json': { schema: ReadySchema } } },
      },
    }),
    async (c) => {
      const report = await runChecks(checks);
      const body = { status: report.status, checks: report.checks };
      return report.status === 'down' ? c.json(body, 503) : c.json(body, 200);
    },
  );
  app.openapi(
    createRoute({
      method: 'get',
      path: '/metrics',
      tags: ['operations'],
      security: [],
      summary: 'Prometheus metrics',
      responses: { 200: { description: 'Prometheus text format', content: { 'text/plain': { schema: z.string() } } } },
    }),
    async (c) => c.text(await services.deps.registry.metrics(), 200, { 'content-type': services.deps.registry.contentType }),
  );
}

