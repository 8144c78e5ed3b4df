import { afterEach, describe, expect, it } from 'vitest';
import { Counter } from 'prom-client';
import { createMetricsRegistry } from './metrics.js';
import { runChecks, startOpsServer } from './ops-server.js';

describe('ops server', () => {
  const closers: (() => Promise<void>)[] = [];
  afterEach(async () => {
    await Promise.all(closers.splice(0).map((close) => close()));
  });

  it('serves health, readiness and Prometheus metrics', async () => {
    const registry = createMetricsRegistry('unit', { collectDefaults: true });
    const counter = new Counter({ name: 'tickflow_unit_events_total', help: 'events', registers: [registry] });
    counter.inc(3);
    const ops = await startOpsServer({ port: 0, registry, checks: [{ name: 'db', check: async () => ({ latencyMs: 1 }) }] });
    closers.push(ops.close);
    const base = `http://127.0.0.1:${ops.port}`;
    expect(await (await fetch(`${base}/health`)).json()).toEqual({ status: 'ok' });
    const ready = await fetch(`${base}/ready`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ok', checks: { db: { ok: true, details: { latencyMs: 1 } } } });
    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).toContain('tickflow_unit_events_total{stage="unit"} 3');
    expect(metrics).toContain('tickflow_process_resident_memory_bytes');
    expect((await fetch(`${base}/nothing`)).status).toBe(404);
  });

  it('reports down (503) when a required check fails and degraded when an optional one does', async () => {
    const registry = createMetricsRegistry('unit2', { collectDefaults: false });
    const ops = await startOpsServer({
      port: 0,
      registry,
      checks: [
        {
          name: 'db',
          check: async () => {
            throw new Error('connection refused');
          },
        },
      ],
    });
    closers.push(ops.close);
    const response = await fetch(`http://127.0.0.1:${ops.port}/ready`);
    expect(response.status).toBe(503);
    expect(await response.json()).toEqual({ status: 'down', checks: { db: { ok: false, error: 'connection refused' } } });

    const degraded = await runChecks([
      { name: 'db', check: async () => true },
      { name: 'redis', optional: true, check: () => Promise.reject(new Error('down')) },
    ]);
    expect(degraded.status).toBe('degraded');
  });
});
