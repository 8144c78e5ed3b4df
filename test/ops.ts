import { startOpsServer, type HealthCheck, type Registry } from '../platform/index.js';

/**
 * A stage handle with the ops server its `main` would serve (platform/stage-process.ts `serveOps`), on a free port:
 * /health, /ready with the stage's checks, /metrics of its registry. `stop` stops the stage, then the ops server.
 */
export async function withOpsServer<
  Handle extends { readonly registry: Registry; readonly checks: readonly HealthCheck[]; stop(): Promise<void> },
>(handle: Handle): Promise<Handle & { readonly opsPort: number }> {
  const ops = await startOpsServer({ port: 0, registry: handle.registry, checks: handle.checks });
  return {
    ...handle,
    opsPort: ops.port,
    stop: async () => {
      await handle.stop();
      await ops.close();
    },
  };
}
