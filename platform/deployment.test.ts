import { describe, expect, it } from 'vitest';
import { loadAuthConfig } from './auth.js';
import { ConfigError } from './config.js';
import { isProduction, metricsOnPublicPort, requireExplicitInProduction } from './deployment.js';
import { Lifecycle } from './lifecycle.js';
import { createLogger } from './logger.js';
import { runChecks } from './ops-server.js';
import { stoppingCheck } from './stage-process.js';

const production = { TICKFLOW_ENV: 'production' };

describe('production mode', () => {
  it('follows TICKFLOW_ENV, else NODE_ENV', () => {
    expect(isProduction({})).toBe(false);
    expect(isProduction({ NODE_ENV: 'production' })).toBe(true);
    expect(isProduction({ NODE_ENV: 'production', TICKFLOW_ENV: 'development' })).toBe(false);
    expect(isProduction(production)).toBe(true);
    expect(() => isProduction({ TICKFLOW_ENV: 'prod' })).toThrow(ConfigError);
  });

  it('moves /metrics off the public ports in production unless told otherwise', () => {
    expect(metricsOnPublicPort({})).toBe(true);
    expect(metricsOnPublicPort(production)).toBe(false);
    expect(metricsOnPublicPort({ ...production, METRICS_ON_PUBLIC_PORT: 'true' })).toBe(true);
    expect(metricsOnPublicPort({ METRICS_ON_PUBLIC_PORT: 'false' })).toBe(false);
  });

  it('refuses the default or a short JWT_SECRET in production only', () => {
    expect(loadAuthConfig({}).JWT_SECRET).toMatch(/^tickflow-dev-secret/);
    expect(() => loadAuthConfig(production)).toThrow(/JWT_SECRET: the published development default is refused in production/);
    expect(() => loadAuthConfig({ ...production, JWT_SECRET: 'x'.repeat(31) })).toThrow(/JWT_SECRET: 31 characters is too short/);
    expect(loadAuthConfig({ ...production, JWT_SECRET: 'x'.repeat(32) }).JWT_SECRET).toHaveLength(32);
  });

  it('requires a variable with a development default to be set in production', () => {
    expect(() => requireExplicitInProduction({}, 'INGEST_SOURCE', 'massive or simulator')).not.toThrow();
    expect(() => requireExplicitInProduction(production, 'INGEST_SOURCE', 'massive or simulator')).toThrow(
      'INGEST_SOURCE: must be set explicitly in production (massive or simulator)',
    );
    expect(() => requireExplicitInProduction({ ...production, INGEST_SOURCE: 'massive' }, 'INGEST_SOURCE', '')).not.toThrow();
  });

  it('reports unready from the stop signal on, before the hooks drain (DRAIN_DELAY_MS later)', async () => {
    const lifecycle = new Lifecycle(createLogger('test', { level: 'silent' }), 1_000, 50);
    let drainedWhileReady = true;
    lifecycle.onShutdown('work', async () => {
      drainedWhileReady = (await runChecks([stoppingCheck(lifecycle)])).status === 'ok';
    });
    expect((await runChecks([stoppingCheck(lifecycle)])).status).toBe('ok');
    const stopped = lifecycle.shutdown('SIGTERM');
    expect(await runChecks([stoppingCheck(lifecycle)])).toEqual({
      status: 'down',
      checks: { shutdown: { ok: false, error: 'draining: the process is stopping' } },
    });
    await stopped;
    expect(drainedWhileReady).toBe(false);
  });
});
