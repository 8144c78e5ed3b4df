import { join } from 'node:path';
import type { Figure } from '../../harness.js';

/**
 * Where the gateway bench runs the gateway's server process (`--set runtimes=node20,node24`):
 * - `node20`: this machine's Node (20, Debian 12): the trufflesuite uWS build;
 * - `node24`: the Node the Dockerfile pins (24) in a Debian 13 rootfs (deploy/trixie-run.sh: chroot, the checkout at
 *   its own path, the host's network): the official uWS build, which needs Debian 13's glibc.
 * Both run the same server script (./server-process.ts) through tsx, each in its own process.
 */
export const GATEWAY_RUNTIMES = ['node20', 'node24'] as const;
export type GatewayRuntime = (typeof GATEWAY_RUNTIMES)[number];

/** The Node major each runtime must report: a different one is a broken setup, never a figure. */
const NODE_MAJOR: Readonly<Record<GatewayRuntime, number>> = { node20: 20, node24: 24 };

/** `--set runtimes=...`: undefined when unset (the gateway runs inside the bench process, as before). */
export function parseGatewayRuntimes(value: string | undefined): GatewayRuntime[] | undefined {
  if (value === undefined) return undefined;
  const names = value.split(',').map((name) => name.trim());
  for (const name of names)
    if (!(GATEWAY_RUNTIMES as readonly string[]).includes(name))
      throw new Error(`runtimes: unknown runtime "${name}"; expected a comma-separated list of ${GATEWAY_RUNTIMES.join(', ')}`);
  if (names.length !== new Set(names).size) throw new Error(`runtimes: "${value}" names a runtime twice`);
  return names as GatewayRuntime[];
}

export interface ServerCommand {
  readonly command: string;
  readonly args: readonly string[];
  readonly cwd: string;
  readonly env: Readonly<Record<string, string | undefined>>;
}

export interface HostFacts {
  /** The checkout's root. */
  readonly repo: string;
  /** This process's Node: path and version. */
  readonly execPath: string;
  readonly nodeVersion: string;
  readonly env: Readonly<Record<string, string | undefined>>;
}

/** How to start the server script under `runtime`: never with the `ws` emulation (a bench of it would be a lie). */
export function gatewayServerCommand(runtime: GatewayRuntime, host: HostFacts): ServerCommand {
  const script = join(host.repo, 'bench', 'suites', 'gateway', 'server-process.ts');
  const env = { ...host.env, GATEWAY_ALLOW_WS_EMULATION: 'false' };
  const node = ['--import', 'tsx', script];
  if (runtime === 'node20') {
    if (majorOf(host.nodeVersion) !== NODE_MAJOR.node20)
      throw new Error(`runtimes: node20 runs the gateway on this machine's Node, which is ${host.nodeVersion}`);
    return { command: host.execPath, args: node, cwd: host.repo, env };
  }
  return { command: join(host.repo, 'deploy', 'trixie-run.sh'), args: ['node', ...node], cwd: host.repo, env };
}

/** What the server process says it runs on, once its gateway listens. */
export interface ServerRuntime {
  readonly node: string;
  readonly glibc: string | undefined;
  readonly build: string;
  readonly native: boolean;
}

/** Throws unless the server runs the runtime's Node on a native uWS build: the bench fails rather than degrade. */
export function checkServerRuntime(runtime: GatewayRuntime, server: ServerRuntime): void {
  if (majorOf(server.node) !== NODE_MAJOR[runtime])
    throw new Error(`runtimes: ${runtime} started the gateway on Node ${server.node}, not Node ${NODE_MAJOR[runtime]}`);
  if (!server.native) throw new Error(`runtimes: ${runtime} (Node ${server.node}) serves on ${server.build}, not a native uWS build`);
}

/** One line for a figure's note: what ran. */
export function describeServerRuntime(runtime: GatewayRuntime, server: ServerRuntime): string {
  const where = runtime === 'node24' ? 'Debian 13 rootfs' : 'this machine';
  return `Node ${server.node} (${where}, glibc ${server.glibc ?? 'none'}), ${server.build}`;
}

function majorOf(version: string): number {
  return Number(version.replace(/^v/, '').split('.')[0]);
}

/** The figures' name for the gateway under `runtime`: `uWS gateway (node24): fan-out delivered`. */
export function runtimeSystemName(runtime: GatewayRuntime): string {
  return `uWS gateway (${runtime})`;
}

/** Figures about the machine or the producer, the same whatever runtime serves: not compared. */
const NOT_THE_RUNTIME = /machine stall|broker ack/;

/**
 * Each later runtime against the first, side by side: for every figure of the first runtime that is about the
 * gateway, the ratio of the other runtime's value to it (`uWS gateway node24 vs node20: fan-out delivered`, 1.25 =
 * node24's figure is 25 % higher; for latencies and CPU lower is better).
 */
export function runtimeComparison(figures: readonly Figure[], runtimes: readonly GatewayRuntime[]): Figure[] {
  const [first, ...others] = runtimes;
  if (first === undefined) return [];
  const prefix = (runtime: GatewayRuntime) => `${runtimeSystemName(runtime)}: `;
  const comparison: Figure[] = [];
  for (const base of figures.filter((figure) => figure.name.startsWith(prefix(first)))) {
    const metric = base.name.slice(prefix(first).length);
    if (NOT_THE_RUNTIME.test(metric)) continue;
    for (const other of others) {
      const match = figures.find((figure) => figure.name === prefix(other) + metric);
      if (!match || base.value === 0) continue;
      comparison.push({
        name: `uWS gateway ${other} vs ${first}: ${metric}`,
        value: match.value / base.value,
        unit: `× ${first}`,
        note: `${other} ${round(match.value)} ${match.unit}, ${first} ${round(base.value)} ${base.unit}`,
      });
    }
  }
  return comparison;
}

function round(value: number): string {
  return Math.abs(value) >= 1000 ? Math.round(value).toLocaleString('en-US') : String(Number(value.toPrecision(4)));
}
