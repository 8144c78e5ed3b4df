import type { MiddlewareHandler } from 'hono';
import { routePath } from 'hono/route';
import { Counter, Histogram, type Logger, type Registry } from '../../platform/index.js';
import type { ApiEnv } from '../context.js';

/**
 * Starts each request's variables (arrival time, no user yet), then counts and times it by method, route and
 * status, and logs it at debug level.
 */
export function requestMetrics(registry: Registry, logger: Logger): MiddlewareHandler<ApiEnv> {
  const requests = new Counter({
    name: 'tickflow_api_requests_total',
    help: 'HTTP requests by method, route and status',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'tickflow_api_request_duration_seconds',
    help: 'HTTP request duration by method and route',
    labelNames: ['method', 'route'] as const,
    buckets: [0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  });
  return async (c, next) => {
    c.set('startedAt', performance.now());
    c.set('userId', undefined);
    c.set('scopes', undefined);
    await next();
    const route = routePath(c, -1) || 'unmatched';
    const seconds = (performance.now() - c.get('startedAt')) / 1000;
    requests.inc({ method: c.req.method, route, status: String(c.res.status) });
    duration.observe({ method: c.req.method, route }, seconds);
    logger.debug(
      { requestId: c.get('requestId'), method: c.req.method, path: c.req.path, status: c.res.status, ms: seconds * 1000 },
      'request',
    );
  };
}
