import type { Context, MiddlewareHandler, Next } from 'hono';
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import { Counter } from '../../platform/index.js';
import type { ApiDependencies, ApiEnv } from '../context.js';
import { ApiError } from '../errors.js';
import { clientIp } from './client-ip.js';
import { setResponseHeader } from './response-headers.js';

/** A limiter of `points` per `duration` seconds, shared by every API instance through Redis when there is one. */
export function rateLimiter(
  deps: Pick<ApiDependencies, 'config' | 'redis'>,
  name: string,
  points: number,
  duration = 60,
): RateLimiterAbstract {
  const memory = new RateLimiterMemory({ keyPrefix: `${deps.config.API_REDIS_PREFIX}rl:${name}`, points, duration });
  if (!deps.redis) return memory;
  // Counters are shared by every API instance through Redis; when Redis fails, each instance limits on its own.
  return new RateLimiterRedis({
    storeClient: deps.redis,
    keyPrefix: `${deps.config.API_REDIS_PREFIX}rl:${name}`,
    points,
    duration,
    insuranceLimiter: memory,
  });
}

/** Endpoints that take a password or a refresh token: limited per IP under the strict auth limit. */
const CREDENTIAL_PATHS = new Set(['/api/auth/register', '/api/auth/login', '/api/auth/refresh', '/api/auth/logout']);

export interface RateLimits {
  /** Per request: credential endpoints per IP under the auth limit, everything else per user (or IP) under the data limit. */
  readonly middleware: MiddlewareHandler<ApiEnv>;
  /** Charges a bad credential to the caller's IP under the auth limit; past it, throws 429. */
  chargeBadCredential(c: Context<ApiEnv>): Promise<void>;
  /** Clients whose headroom is remembered (at most HEADROOM_CLIENTS; for /metrics). */
  readonly headroomClients: () => number;
}

/** Clients whose points left are remembered (about 100 bytes each: 10,000 ≈ 1 MiB); the least recent is dropped. */
export const HEADROOM_CLIENTS = 10_000;

/**
 * The data and auth limits (API_RATE_LIMIT_PER_MINUTE, API_AUTH_RATE_LIMIT_PER_MINUTE). Every answer carries
 * X-RateLimit-Limit and X-RateLimit-Remaining; a refusal is 429 with Retry-After.
 */
export function rateLimits(deps: ApiDependencies): RateLimits {
  const dataLimiter = rateLimiter(deps, 'data', deps.config.API_RATE_LIMIT_PER_MINUTE);
  const authLimiter = rateLimiter(deps, 'auth', deps.config.API_AUTH_RATE_LIMIT_PER_MINUTE);
  const rateLimited = new Counter({
    name: 'tickflow_api_rate_limited_total',
    help: 'Requests refused by the rate limiter',
    labelNames: ['limiter'] as const,
    registers: [deps.registry],
  });
  const hops = deps.config.API_TRUST_PROXY_HOPS;
  /** Points each recent client had left at its last request (bounded), which decides whether its reads may overlap the limiter. */
  const headroom = new Map<string, number>();
  const recordHeadroom = (key: string, remaining: number) => {
    headroom.delete(key);
    headroom.set(key, remaining);
    if (headroom.size > HEADROOM_CLIENTS) headroom.delete(headroom.keys().next().value as string);
  };
  /** Takes a point from the limiter and returns the points left, or ends the request with 429 and Retry-After. */
  const consume = async (name: string, limiter: RateLimiterAbstract, key: string): Promise<number> => {
    try {
      const result = await limiter.consume(key);
      recordHeadroom(`${name}:${key}`, result.remainingPoints);
      return result.remainingPoints;
    } catch (rejection) {
      if (!(rejection instanceof RateLimiterRes)) throw rejection;
      recordHeadroom(`${name}:${key}`, 0);
      rateLimited.inc({ limiter: name });
      const retryAfter = String(Math.max(1, Math.ceil(rejection.msBeforeNext / 1000)));
      throw new ApiError('rate-limited', `rate limit of ${limiter.points} requests per minute exceeded`, undefined, {
        'Retry-After': retryAfter,
        'X-RateLimit-Limit': String(limiter.points),
        'X-RateLimit-Remaining': '0',
      });
    }
  };
  /**
   * Set before the handler runs or after it answered, never while it runs: a header set between the handler building
   * its response and Hono taking it is lost (an in-memory limiter answers within those microtasks).
   */
  const announce = (c: Context<ApiEnv>, limiter: RateLimiterAbstract, remaining: number) => {
    setResponseHeader(c, 'X-RateLimit-Limit', String(limiter.points));
    setResponseHeader(c, 'X-RateLimit-Remaining', String(remaining));
  };
  const limited = async (c: Context<ApiEnv>, next: Next, name: string, limiter: RateLimiterAbstract, key: string) => {
    const taking = consume(name, limiter, key);
    // A read changes nothing, so for a client well within its limit (over a tenth of its points left at its
    // last request) the limiter's round trip overlaps the handler's instead of preceding it: a cache hit then
    // waits for one Redis round trip, not two. A refused read still answers 429; a client near or over its
    // limit is checked first, so it cannot make the API do work it will refuse.
    const read = c.req.method === 'GET' || c.req.method === 'HEAD';
    if (!read || (headroom.get(`${name}:${key}`) ?? 0) <= limiter.points / 10) {
      announce(c, limiter, await taking);
      return next();
    }
    const outcome = taking.then(
      (remaining) => remaining,
      (error: unknown) => ({ error }),
    );
    await next();
    const remaining = await outcome;
    if (typeof remaining !== 'number') throw remaining.error;
    announce(c, limiter, remaining);
  };
  return {
    // Credential endpoints are limited per IP whoever the caller claims to be: they are where passwords are guessed.
    // /me and key management are ordinary authenticated calls, limited with the data (per user) so that a few logins
    // do not lock them out.
    middleware: async (c, next) => {
      if (CREDENTIAL_PATHS.has(c.req.path)) return limited(c, next, 'auth', authLimiter, `ip:${clientIp(c, hops)}`);
      const userId = c.get('userId');
      return limited(c, next, 'data', dataLimiter, userId ? `user:${userId}` : `ip:${clientIp(c, hops)}`);
    },
    headroomClients: () => headroom.size,
    chargeBadCredential: async (c) => announce(c, authLimiter, await consume('auth', authLimiter, `ip:${clientIp(c, hops)}`)),
  };
}
