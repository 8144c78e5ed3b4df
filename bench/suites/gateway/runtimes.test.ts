import { describe, expect, it } from 'vitest';
import {
  checkServerRuntime,
  describeServerRuntime,
  gatewayServerCommand,
  parseGatewayRuntimes,
  runtimeComparison,
  runtimeSystemName,
} from './runtimes.js';

const host = { repo: '/src/tickflow', execPath: '/usr/bin/node', nodeVersion: 'v20.20.2', env: { PATH: '/usr/bin', HOME: '/root' } };

describe('gateway bench runtimes', () => {
  it('parses the list, and leaves the in-process gateway when unset', () => {
    expect(parseGatewayRuntimes(undefined)).toBeUndefined();
    expect(parseGatewayRuntimes('node20,node24')).toEqual(['node20', 'node24']);
    expect(parseGatewayRuntimes(' node24 ')).toEqual(['node24']);
    expect(() => parseGatewayRuntimes('node20,node22')).toThrow(
      'unknown runtime "node22"; expected a comma-separated list of node20, node24',
    );
    expect(() => parseGatewayRuntimes('node24,node24')).toThrow('names a runtime twice');
  });

  it("runs node20 on this machine's Node and node24 in the Debian 13 rootfs, both through tsx from the checkout", () => {
    const script = '/src/tickflow/bench/suites/gateway/server-process.ts';
    expect(gatewayServerCommand('node20', host)).toMatchObject({
      command: '/usr/bin/node',
      args: ['--import', 'tsx', script],
      cwd: '/src/tickflow',
    });
    expect(gatewayServerCommand('node24', host)).toMatchObject({
      command: '/src/tickflow/deploy/trixie-run.sh',
      args: ['node', '--import', 'tsx', script],
      cwd: '/src/tickflow',
    });
  });

  it('never lets the server fall back to the ws emulation, whatever the environment says', () => {
    const env = { ...host.env, GATEWAY_ALLOW_WS_EMULATION: 'true' };
    for (const runtime of ['node20', 'node24'] as const) {
      const command = gatewayServerCommand(runtime, { ...host, env });
      expect(command.env).toEqual({ PATH: '/usr/bin', HOME: '/root', GATEWAY_ALLOW_WS_EMULATION: 'false' });
    }
  });

  it("refuses node20 when this machine's Node is another major", () => {
    expect(() => gatewayServerCommand('node20', { ...host, nodeVersion: 'v22.1.0' })).toThrow(
      "node20 runs the gateway on this machine's Node, which is v22.1.0",
    );
  });

  it('fails unless the server runs the Node of its runtime on a native uWS build', () => {
    const native = { node: '24.22.3', glibc: '2.41', build: '@btc-vision/uwebsockets.js', native: true };
    expect(() => checkServerRuntime('node24', native)).not.toThrow();
    expect(() => checkServerRuntime('node20', native)).toThrow('node20 started the gateway on Node 24.22.3, not Node 20');
    expect(() => checkServerRuntime('node24', { ...native, build: 'ws emulation', native: false })).toThrow(
      'serves on ws emulation, not a native uWS build',
    );
    expect(describeServerRuntime('node24', native)).toBe('Node 24.22.3 (Debian 13 rootfs, glibc 2.41), @btc-vision/uwebsockets.js');
  });

  it('compares each runtime with the first, figure by figure, leaving out what is not about the runtime', () => {
    const figures = [
      { name: 'broker alone: record handed to the producer -> broker ack p99 (diagnostic)', value: 4, unit: 'ms' },
      { name: `${runtimeSystemName('node20')}: fan-out delivered`, value: 400_000, unit: 'events/s' },
      { name: `${runtimeSystemName('node20')}: end-to-end latency p99`, value: 16, unit: 'ms' },
      { name: `${runtimeSystemName('node20')}: machine stall, an idle process's wake-up lateness p99 (diagnostic)`, value: 3, unit: 'ms' },
      { name: `${runtimeSystemName('node24')}: fan-out delivered`, value: 500_000, unit: 'events/s' },
      { name: `${runtimeSystemName('node24')}: end-to-end latency p99`, value: 12, unit: 'ms' },
      { name: `${runtimeSystemName('node24')}: machine stall, an idle process's wake-up lateness p99 (diagnostic)`, value: 2, unit: 'ms' },
      { name: 'Socket.IO: fan-out delivered', value: 50_000, unit: 'events/s', baseline: true },
    ];
    expect(runtimeComparison(figures, ['node20', 'node24'])).toEqual([
      {
        name: 'uWS gateway node24 vs node20: fan-out delivered',
        value: 1.25,
        unit: '× node20',
        note: 'node24 500,000 events/s, node20 400,000 events/s',
      },
      { name: 'uWS gateway node24 vs node20: end-to-end latency p99', value: 0.75, unit: '× node20', note: 'node24 12 ms, node20 16 ms' },
    ]);
    expect(runtimeComparison(figures, ['node24'])).toEqual([]);
    expect(runtimeComparison(figures, [])).toEqual([]);
  });
});
