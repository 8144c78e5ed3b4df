import type { Redis } from 'ioredis';
import type pg from 'pg';
import type { ApiKeyScope, InFlight, Logger, Registry, TokenService } from '../platform/index.js';
import type { ProjectionNotice, RedisKeys } from '../contracts/redis-keys.js';
import type { Accounts } from '../store/accounts/accounts.js';
import type { ReadThroughCache } from './cache.js';
import type { ApiConfig } from './config.js';
import type { MarketClock } from './market-clock.js';
import type { Queryable } from '../store/queryable.js';
import { ApiError } from './errors.js';

/** Per-request values set by the middleware. */
export interface ApiEnv {
  Variables: {
    requestId: string;
    /** The authenticated user, if the request carried a valid access token or API key. */
    userId: string | undefined;
    /** The scopes of the API key the request carried; undefined for an access token (a signed-in session may do anything). */
    scopes: readonly ApiKeyScope[] | undefined;
    /** performance.now() when the request arrived (for the timings in responses). */
    startedAt: number;
  };
}

/** Kafka records the projections have not applied yet, summed over partitions. */
export interface ProjectionLag {
  readonly records: number;
  readonly partitions: number;
}

/** Everything createApp needs; servers are injected, so tests pass their own (isolated) ones. */
export interface ApiDependencies {
  readonly db: pg.Pool;
  /** Where reads whose plan their shape fixes run, as prepared statements (prepared.ts); absent: on `db`. */
  readonly preparedDb?: Queryable | undefined;
  /** Absent: no cache and in-memory rate limits. A disconnected client degrades the same way at run time. */
  readonly redis?: Redis | undefined;
  readonly tokens: TokenService;
  readonly config: ApiConfig;
  readonly logger: Logger;
  readonly registry: Registry;
  /** Key builders of the projections' Redis read model (version counters the cache depends on). */
  readonly readModelKeys: RedisKeys;
  /** Lag of the projections behind Kafka, for /ready; absent: not reported. */
  readonly projectionLag?: (() => Promise<ProjectionLag>) | undefined;
  readonly now?: (() => number) | undefined;
  /** Projection notices (the projections' pub/sub channel); when given, hot cache entries are refreshed ahead. */
  readonly notices?: ((listener: (notice: ProjectionNotice) => void) => void) | undefined;
  /** Counted rows beyond which a scan's total is reported as capped (default API_SCAN_COUNT_CAP). */
  readonly scanCountCap?: number | undefined;
  /** Where the cache's background refreshes are tracked, so that a stop lets them finish before closing Redis. */
  readonly inFlight?: InFlight | undefined;
  /** Wall time for which a read of the market clock is reused (default MARKET_CLOCK_REFRESH_MS). */
  readonly marketClockRefreshMs?: number | undefined;
  /** Also serve /metrics on the public port (default true; production serves it on API_OPS_PORT instead). */
  readonly publicMetrics?: boolean | undefined;
  /** True once a stop has begun: /ready answers 503 before the drain, so a load balancer stops sending first. */
  readonly draining?: (() => boolean) | undefined;
}

export interface ApiServices {
  readonly deps: ApiDependencies;
  readonly cache: ReadThroughCache;
  readonly accounts: Accounts;
  readonly now: () => number;
  readonly cachePrefix: string;
  readonly scanCountCap: number;
  /** Event time as the projections have it: what pattern ages and expiries are measured against (market-clock.ts). */
  readonly marketClock: MarketClock;
  /** Per-account limit on failed logins (password guessing spread over many IPs). */
  readonly loginGuard: LoginGuard;
}

/** Counts failed logins per account: `check` refuses (429) once an account has too many recent failures. */
export interface LoginGuard {
  check(email: string): Promise<void>;
  failed(email: string): Promise<void>;
  succeeded(email: string): Promise<void>;
}

export function requireUser(userId: string | undefined): string {
  if (userId === undefined)
    throw new ApiError('unauthorized', 'sign in: send an access token (Authorization: Bearer) or an API key (X-API-Key)');
  return userId;
}

/** Key management needs a signed-in session, or an API key its owner created with the `manage` scope. */
export function requireScope(scopes: readonly ApiKeyScope[] | undefined, scope: ApiKeyScope): void {
  if (scopes !== undefined && !scopes.includes(scope)) {
    throw new ApiError(
      'forbidden',
      `this API key lacks the ${scope} scope${scope === 'manage' ? ': sign in, or use a key created with it' : ''}`,
      undefined,
      {
        'WWW-Authenticate': `Bearer error="insufficient_scope", scope="${scope}"`,
      },
    );
  }
}

export function timings(startedAt: number, dbMs: number | null, cache: 'hit' | 'stale' | 'miss' | 'bypass') {
  return { total_ms: round(performance.now() - startedAt), db_ms: dbMs === null ? null : round(dbMs), cache };
}

const round = (ms: number) => Math.round(ms * 1000) / 1000;
