import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';

export interface HealthCheck {
  readonly name: string;
  /** Resolves with details when healthy; throws (or rejects) when not. */
  readonly check: () => Promise<unknown>;
  /** A degraded dependency makes /ready report `degraded` but still 200. */
  readonly optional?: boolean;
}

export interface ReadinessReport {
  readonly status: 'ok' | 'degraded' | 'down';
  readonly checks: Record<string, { ok: boolean; details?: unknown; error?: string }>;
}

export async function runChecks(checks: readonly HealthCheck[]): Promise<ReadinessReport> {
  const results = await Promise.all(
    checks.map(async (entry) => {
      try {
        return [entry, { ok: true, details: await entry.check() }] as const;
      } catch (error) {
        return [entry, { ok: false, error: error instanceof Error ? error.message : String(error) }] as const;
      }
    }),
  );
  const failedRequired = results.some(([entry, result]) => !result.ok && !entry.optional);
  const failedOptional = results.some(([entry, result]) => !result.ok && entry.optional);
  const status = failedRequired ? 'down' : failedOptional ? 'degraded' : 'ok';
  return { status, checks: Object.fromEntries(results.map(([entry, result]) => [entry.name, result])) };
}

/**
 * The operations endpoint of a long-running process: /health (alive), /ready (dependencies) and
 * /metrics (Prometheus). Port 0 picks a free port.
 */
export async function startOpsServer(options: {
  readonly port: number;
  readonly host?: string;
  readonly registry: Registry;
  readonly checks?: readonly HealthCheck[];
}): Promise<{ server: Server; port: number; close: () => Promise<void> }> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const reply = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (path === '/health') return reply(200, { status: 'ok' });
    if (path === '/ready') {
      void runChecks(options.checks ?? []).then((report) => reply(report.status === 'down' ? 503 : 200, report));
      return;
    }
    if (path === '/metrics') {
      void options.registry.metrics().then((text) => {
        res.writeHead(200, { 'content-type': options.registry.contentType });
        res.end(text);
      });
      return;
    }
    reply(404, { error: 'not found' });
  });
  await new Promise<void>((resolve) => server.listen(options.port, options.host ?? '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    server,
    port,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
