import { OpenAPIHono } from '@hono/zod-openapi';
import { requestId } from 'hono/request-id';
import { Accounts } from '../store/accounts/accounts.js';
import { versionKeysChangedBy } from './cache-key.js';
import { createCacheMetrics, ReadThroughCache } from './cache.js';
import type { ApiDependencies, ApiEnv, ApiServices } from './context.js';
import { loginGuard } from './login-guard.js';
import { MarketClock } from './market-clock.js';
import { authentication } from './middleware/authentication.js';
import { limitRequestBodies } from './middleware/body-limit.js';
import { compressWhenAccepted } from './middleware/compress.js';
import { corsHeaders } from './middleware/cors.js';
import { registerDashboardRoutes } from './routes-dashboard.js';
import { errorHandler, routeNotFound } from './middleware/error-handler.js';
import { weakEtags } from './middleware/etag.js';
import { nulGuard } from './middleware/nul-guard.js';
import { HEADROOM_CLIENTS, rateLimits } from './middleware/rate-limit.js';
import { trackStructures } from '../platform/tracked-structures.js';
import { requestMetrics } from './middleware/request-metrics.js';
import { fieldErrors, problemResponse } from './problem.js';
import { registerAuthRoutes } from './routes-auth.js';
import { registerDocsRoutes } from './routes-docs.js';
import { registerOpsRoutes } from './routes-ops.js';
import { registerPatternRoutes } from './routes-patterns.js';
import { registerSymbolRoutes } from './routes-symbols.js';
import { registerUserRoutes } from './routes-users.js';

/** Largest request body accepted (a universe of 5000 symbols is ~40 KB). */
const MAX_BODY_BYTES = 256 * 1024;
/** Response headers a browser script may read (rate limits, ETag for revalidation, the request id to quote). */
const EXPOSED_HEADERS = ['X-Request-Id', 'ETag', 'Retry-After', 'X-RateLimit-Limit', 'X-RateLimit-Remaining'];

/**
 * The API as a Hono app: pure wiring of the injected servers and of the middleware in middleware/, testable with
 * `app.request()`. Middleware order: request id -> metrics/log -> CORS -> compression -> ETag -> body limit ->
 * NUL guard -> authentication -> rate limit -> routes. Each is one function call per request: the cached scan's
 * p95 is measured in milliseconds, so no layer is added lightly.
 */
export function createApp(deps: ApiDependencies): OpenAPIHono<ApiEnv> {
  const now = deps.now ?? Date.now;
  const cacheMetrics = createCacheMetrics(deps.registry);
  const services: ApiServices = {
    deps,
    cache: new ReadThroughCache(
      deps.redis,
      {
        ttlSeconds: deps.config.API_CACHE_TTL_SECONDS,
        hotEntries: deps.config.API_CACHE_REFRESH_AHEAD,
        localValues: deps.config.API_CACHE_LOCAL_VALUES,
        knownDependencies: deps.config.API_CACHE_KNOWN_DEPENDENCIES,
        now,
        ...(deps.inFlight ? { inFlight: deps.inFlight } : {}),
      },
      cacheMetrics,
      deps.logger,
    ),
    accounts: new Accounts(deps.db, {
      refreshTtlSeconds: deps.config.API_REFRESH_TOKEN_TTL_SECONDS,
      refreshGraceSeconds: deps.config.API_REFRESH_GRACE_SECONDS,
      apiKeyCacheSeconds: deps.config.API_KEY_CACHE_SECONDS,
      now,
    }),
    now,
    cachePrefix: deps.config.API_REDIS_PREFIX,
    scanCountCap: deps.scanCountCap ?? deps.config.API_SCAN_COUNT_CAP,
    marketClock: new MarketClock(deps.db, now, deps.marketClockRefreshMs, (error) =>
      deps.logger.warn({ err: error }, 'market clock read failed; ages use the last value or the wall clock'),
    ),
    loginGuard: loginGuard(deps),
  };
  deps.notices?.((notice) => {
    void services.cache.refreshAffected(versionKeysChangedBy(notice, deps.readModelKeys));
  });
  const limits = rateLimits(deps);
  trackStructures(deps.registry, [
    ...services.cache.trackedStructures(),
    { name: 'api.rate-limit.headroom', entries: limits.headroomClients, cap: HEADROOM_CLIENTS },
  ]);

  const app = new OpenAPIHono<ApiEnv>({
    defaultHook: (result, c) => {
      if (!result.success) return problemResponse(c, 400, 'request validation failed', fieldErrors(result.error.issues));
      return undefined;
    },
  });

  app.use('*', requestId({ limitLength: 128 }));
  app.use('*', requestMetrics(deps.registry, deps.logger));
  app.use(
    '*',
    corsHeaders({
      origins: deps.config.API_CORS_ORIGINS,
      allowMethods: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'],
      allowHeaders: ['Authorization', 'Content-Type', 'X-API-Key', 'X-Request-Id', 'If-None-Match'],
      exposeHeaders: EXPOSED_HEADERS,
      maxAge: 600,
    }),
  );
  app.use('*', compressWhenAccepted());
  app.use('/api/*', weakEtags(EXPOSED_HEADERS));
  app.use('/api/*', limitRequestBodies(MAX_BODY_BYTES));
  app.use('/api/*', nulGuard());
  app.use(
    '/api/*',
    authentication({
      tokens: deps.tokens,
      verifyApiKey: (key) => services.accounts.authenticateApiKey(key),
      publicData: deps.config.API_PUBLIC_DATA,
      onBadCredential: limits.chargeBadCredential,
    }),
  );
  app.use('/api/*', limits.middleware);

  registerPatternRoutes(app, services);
  registerSymbolRoutes(app, services);
  registerAuthRoutes(app, services);
  registerUserRoutes(app, services);
  registerOpsRoutes(app, services);
  registerDocsRoutes(app);
  registerDashboardRoutes(app, deps.config);

  app.notFound(routeNotFound);
  app.onError(errorHandler(deps.logger));
  return app;
}
