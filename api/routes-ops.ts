import { createRoute, z, type OpenAPIHono } from '@hono/zod-openapi';
import { runChecks, type HealthCheck } from '../platform/index.js';
import type { ApiEnv, ApiServices } from './context.js';

const CheckSchema = z.object({ ok: z.boolean(), details: z.unknown().optional(), error: z.string().optional() });
const ReadySchema = z
  .object({ status: z.enum(['ok', 'degraded', 'down']), checks: z.record(z.string(), CheckSchema) })
  .openapi('Readiness');

/** Checks behind /ready: PostgreSQL is required; Redis and projection lag only degrade. */
function readinessChecks(services: ApiServices): HealthCheck[] {
  const { deps } = services;
  const checks: HealthCheck[] = [
    {
      name: 'shutdown',
      check: () => (deps.draining?.() ? Promise.reject(new Error('draining: the API is stopping')) : Promise.resolve('running')),
    },
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
        if (current.records > deps.config.API_MAX_PROJECTION_LAG)
          throw new Error(`projections are ${current.records} records behind (max ${deps.config.API_MAX_PROJECTION_LAG})`);
        return current;
      },
    });
  }
  return checks;
}

/** /health (liveness), /ready (readiness) and, unless `publicMetrics` is false, /metrics (Prometheus). */
export function registerOpsRoutes(app: OpenAPIHono<ApiEnv>, services: ApiServices): void {
  const checks = readinessChecks(services);
  app.openapi(
    createRoute({
      method: 'get',
      path: '/health',
      operationId: 'getHealth',
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
      operationId: 'getReadiness',
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
  // In production /metrics is on the ops port only (API_OPS_PORT), not on the public one.
  if (services.deps.publicMetrics === false) return;
  app.openapi(
    createRoute({
      method: 'get',
      path: '/metrics',
      operationId: 'getMetrics',
      tags: ['operations'],
      security: [],
      summary: 'Prometheus metrics',
      responses: { 200: { description: 'Prometheus text format', content: { 'text/plain': { schema: z.string() } } } },
    }),
    async (c) => c.text(await services.deps.registry.metrics(), 200, { 'content-type': services.deps.registry.contentType }),
  );
}
