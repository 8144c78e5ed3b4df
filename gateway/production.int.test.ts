import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { metricsOnPublicPort } from '../platform/index.js';
import { createGatewayTestEnv, type GatewayTestEnv } from './testing.js';

let env: GatewayTestEnv;

beforeAll(async () => {
  env = await createGatewayTestEnv('gw-prod', ['minuteAggregates']);
});

afterAll(async () => {
  await env?.cleanup();
});

describe('the gateway in production (issue 22 item 4)', () => {
  it('serves /metrics on the ops port only, says which uWS build serves, and turns unready before a drain', async () => {
    let draining = false;
    const gateway = await env.start({
      streams: ['bars'],
      // What gateway/main.ts passes in production.
      publicMetrics: metricsOnPublicPort({ TICKFLOW_ENV: 'production' }),
      draining: () => draining,
    });
    const base = `http://127.0.0.1:${gateway.port}`;
    expect((await fetch(`${base}/metrics`)).status).toBe(404);
    const ready = (await (await fetch(`${base}/ready`)).json()) as { status: string; transport: { native: boolean; build: string } };
    expect(ready.transport.native).toBe(true);
    const metric = await gateway.registry.getSingleMetricAsString('tickflow_gateway_uws_native');
    expect(metric).toMatch(new RegExp(`tickflow_gateway_uws_native\\{[^}]*build="${ready.transport.build}"[^}]*\\} 1`));

    draining = true;
    const response = await fetch(`${base}/ready`);
    expect(response.status).toBe(503);
    expect(((await response.json()) as { status: string }).status).toBe('draining');
  });

  it('keeps /metrics on the gateway port in development', async () => {
    const gateway = await env.start({ streams: ['bars'], publicMetrics: metricsOnPublicPort({}) });
    expect((await fetch(`http://127.0.0.1:${gateway.port}/metrics`)).status).toBe(200);
  });
});
