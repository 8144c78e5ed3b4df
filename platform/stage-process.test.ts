import { afterEach, describe, expect, it } from 'vitest';
import { startStageProcess } from './stage-process.js';

describe('a stage process', () => {
  const listeners = { SIGTERM: process.listeners('SIGTERM'), SIGINT: process.listeners('SIGINT') };
  afterEach(() => {
    // The handlers it installs belong to a real stage process, not to the test worker.
    for (const signal of ['SIGTERM', 'SIGINT'] as const) {
      for (const listener of process.listeners(signal)) if (!listeners[signal].includes(listener)) process.off(signal, listener);
    }
  });

  it('installs the signal handlers, and serves ops whose server the shutdown closes', async () => {
    const before = process.listenerCount('SIGTERM');
    const stage = startStageProcess('unit-stage', { logLevel: 'silent' });
    expect(process.listenerCount('SIGTERM')).toBe(before + 1);
    expect(stage.registry).toBe(stage.registry);
    const port = await stage.serveOps({ port: 0, checks: [{ name: 'unit', check: async () => ({ fine: true }) }] });
    const base = `http://127.0.0.1:${port}`;
    expect(await (await fetch(`${base}/ready`)).json()).toEqual({
      status: 'ok',
      checks: { shutdown: { ok: true, details: 'running' }, unit: { ok: true, details: { fine: true } } },
    });
    expect(await (await fetch(`${base}/metrics`)).text()).toContain('stage="unit-stage"');
    await stage.lifecycle.shutdown('test');
    await expect(fetch(`${base}/health`)).rejects.toThrow();
  });

  it('binds the ops server to OPS_HOST', async () => {
    const stage = startStageProcess('unit-stage-host', { logLevel: 'silent', env: { OPS_HOST: '0.0.0.0' } });
    const port = await stage.serveOps({ port: 0 });
    // Bound to every address: reachable through a non-loopback spelling of this host too.
    expect((await fetch(`http://127.0.0.2:${port}/health`)).status).toBe(200);
    await stage.lifecycle.shutdown('test');
  });

  it('logs at LOG_LEVEL when no level is given', () => {
    const stage = startStageProcess('unit-stage-default');
    expect(stage.logger.level).toBe(process.env.LOG_LEVEL ?? 'info');
  });
});
