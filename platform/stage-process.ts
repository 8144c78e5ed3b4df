import type { Registry } from 'prom-client';
import { defineEnv, env, type EnvSource } from './config.js';
import { loadDeploymentConfig } from './deployment.js';
import { Lifecycle } from './lifecycle.js';
import { createLogger, type Logger } from './logger.js';
import { createMetricsRegistry } from './metrics.js';
import { startOpsServer, type HealthCheck } from './ops-server.js';

/** Where the ops servers of ingest, the processors and the projector listen (one setting for the three). */
const loadOpsSettings = defineEnv('platform', {
  OPS_HOST: env.string(
    'Address the ops servers of ingest, processors and projector bind (/health, /ready, /metrics): 127.0.0.1 on a host, 0.0.0.0 in a container so probes and scrapers reach them',
    '127.0.0.1',
  ),
});

/** What every long-running stage process gets from its `main`: one logger, one metrics registry, one lifecycle. */
export interface StageProcess {
  readonly logger: Logger;
  readonly registry: Registry;
  readonly lifecycle: Lifecycle;
  /**
   * Starts the process's ops server (/health, /ready with `checks`, /metrics of `registry`), closed last-but-one
   * at shutdown (hooks run in reverse); returns its port.
   */
  serveOps(options: { readonly port: number; readonly checks?: readonly HealthCheck[] }): Promise<number>;
}

/**
 * The one way a stage's `main` starts its process: logger, metrics registry, and the lifecycle with SIGTERM/SIGINT
 * (and supervisor) handlers installed; stages register their stop hooks on `lifecycle` and serve ops via `serveOps`.
 */
export function startStageProcess(stage: string, options: { readonly logLevel?: string; readonly env?: EnvSource } = {}): StageProcess {
  const { OPS_HOST } = loadOpsSettings(options.env);
  const logger = options.logLevel === undefined ? createLogger(stage) : createLogger(stage, { level: options.logLevel });
  const lifecycle = new Lifecycle(logger, undefined, loadDeploymentConfig().DRAIN_DELAY_MS);
  lifecycle.installSignalHandlers();
  // Created on first use: stages that serve their own /metrics (gateway, api) never start a second collector.
  let registry: Registry | undefined;
  const registryOf = () => (registry ??= createMetricsRegistry(stage));
  return {
    logger,
    get registry() {
      return registryOf();
    },
    lifecycle,
    serveOps: async ({ port, checks }) => {
      const ops = await startOpsServer({
        port,
        host: OPS_HOST,
        registry: registryOf(),
        checks: [stoppingCheck(lifecycle), ...(checks ?? [])],
      });
      lifecycle.onShutdown('ops-server', () => ops.close());
      return ops.port;
    },
  };
}

/** Unready from the stop signal on, before any hook drains work, so a load balancer stops sending first. */
export function stoppingCheck(lifecycle: Pick<Lifecycle, 'isStopping'>): HealthCheck {
  return {
    name: 'shutdown',
    check: () => (lifecycle.isStopping ? Promise.reject(new Error('draining: the process is stopping')) : Promise.resolve('running')),
  };
}
