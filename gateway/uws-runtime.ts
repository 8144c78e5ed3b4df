import { createRequire } from 'node:module';

/**
 * The one place that loads uWebSockets.js. Two builds are installed, because no single one covers every runtime:
 *
 * - `@btc-vision/uwebsockets.js`: the official uWS.js v20.57 binaries, republished on npm; Node ABIs 115/127/137/141
 *   (Node 20, 22, 24, 25), linked against glibc 2.38 or newer (Debian 13, Ubuntu 24.04; not Debian 12).
 * - `@trufflesuite/uws-js-unofficial` 20.30: binaries for ABIs 93/108/115 (Node 16, 18, 20); runs on glibc 2.36.
 *   Its own entry point falls back to an emulation on `ws` with only a console warning, so this loader requires its
 *   binaries directly and never that entry point, except for the explicit opt-in to the emulation.
 *
 * The first build that loads natively wins. When none does, the gateway refuses to start (`UwsUnavailableError`
 * names the ABI, the glibc version and what would work) unless the operator opted in to the emulation
 * (GATEWAY_ALLOW_WS_EMULATION), which then runs loudly: an ERROR line, /ready says so, a metric.
 */
export type Uws = typeof import('@btc-vision/uwebsockets.js');
export type UwsApp = import('@btc-vision/uwebsockets.js').TemplatedApp;
export type UwsListenSocket = import('@btc-vision/uwebsockets.js').us_listen_socket;
export type UwsResponse = import('@btc-vision/uwebsockets.js').HttpResponse;
export type UwsSocket<UserData> = import('@btc-vision/uwebsockets.js').WebSocket<UserData>;

/** The runtime facts a build depends on. */
export interface RuntimeFacts {
  readonly node: string;
  /** process.versions.modules: the Node ABI a native add-on is built for. */
  readonly abi: number;
  readonly platform: string;
  readonly arch: string;
  /** glibc of the running process; undefined on musl, macOS or Windows. */
  readonly glibc: string | undefined;
}

/** A uWS build the gateway may use, and what it needs. */
export interface UwsBuild {
  readonly name: string;
  readonly abis: readonly number[];
  /** Lowest glibc its Linux binaries link against. */
  readonly minGlibc: string;
  /** The Node versions of those ABIs, for messages. */
  readonly nodeVersions: string;
}

/** Tried in this order: the official build first (current uWS, every current Node), then the older one. */
export const UWS_BUILDS: readonly UwsBuild[] = [
  { name: '@btc-vision/uwebsockets.js', abis: [115, 127, 137, 141], minGlibc: '2.38', nodeVersions: 'Node 20, 22, 24, 25' },
  { name: '@trufflesuite/uws-js-unofficial', abis: [93, 108, 115], minGlibc: '2.28', nodeVersions: 'Node 16, 18, 20' },
];

export interface UwsRuntime {
  readonly uws: Uws;
  /** The build that loaded, or `ws emulation`. */
  readonly build: string;
  readonly native: boolean;
  readonly runtime: RuntimeFacts;
  /** Why each build that did not load failed (empty when the first one loaded). */
  readonly failures: readonly string[];
}

/** Thrown when no native build loads and the emulation was not allowed. */
export class UwsUnavailableError extends Error {
  override name = 'UwsUnavailableError';
}

/** The refusal: what this runtime is, why each build did not load, and which runtimes would work. */
export function refusalMessage(runtime: RuntimeFacts, failures: readonly string[]): string {
  const glibc = runtime.glibc ? `glibc ${runtime.glibc}` : 'no glibc (musl or not Linux)';
  const works = UWS_BUILDS.map((build) => `${build.nodeVersions} with glibc >= ${build.minGlibc} (${build.name})`).join('; or ');
  return [
    `gateway refuses to start: no native uWebSockets.js build loads on Node ${runtime.node} (ABI ${runtime.abi}, ${runtime.platform}-${runtime.arch}, ${glibc}).`,
    ...failures.map((failure) => `  ${failure}`),
    `What works: ${works}; e.g. Node 24 on Debian 13 / Ubuntu 24.04, or Node 20 on Debian 12.`,
    'GATEWAY_ALLOW_WS_EMULATION=true runs the slow emulation on `ws` instead (logged at ERROR, shown by /ready and a metric).',
  ].join('\n');
}

export function currentRuntime(): RuntimeFacts {
  const header = (process.report.getReport() as { header?: { glibcVersionRuntime?: string } }).header;
  return {
    node: process.versions.node,
    abi: Number(process.versions.modules),
    platform: process.platform,
    arch: process.arch,
    glibc: header?.glibcVersionRuntime,
  };
}

const require = createRequire(import.meta.url);

/** Requires `build`'s binary for this runtime, never a fallback. */
function requireNative(build: UwsBuild, runtime: RuntimeFacts): Uws {
  const binary = `uws_${runtime.platform}_${runtime.arch}_${runtime.abi}.node`;
  if (build.name === '@trufflesuite/uws-js-unofficial') return require(`@trufflesuite/uws-js-unofficial/binaries/${binary}`) as Uws;
  return require(build.name) as Uws; // its entry point throws when its binary does not load
}

/** The last line of a load error (the dynamic linker's reason), without the package's boilerplate. */
function reasonOf(error: unknown): string {
  const lines = (error instanceof Error ? error.message : String(error)).split('\n').filter((line) => line.trim() !== '');
  return lines.at(-1) ?? 'unknown error';
}

let loaded: UwsRuntime | undefined;

/**
 * Loads the first native build that works here; otherwise the `ws` emulation when `allowEmulation`, else throws
 * `UwsUnavailableError`. The native result is kept for the process (a native add-on loads once).
 */
export function loadUws(options: { readonly allowEmulation: boolean; readonly runtime?: RuntimeFacts }): UwsRuntime {
  if (options.runtime) return chooseUws(options.allowEmulation, options.runtime);
  if (!loaded?.native) loaded = chooseUws(options.allowEmulation, currentRuntime());
  return loaded;
}

function chooseUws(allowEmulation: boolean, runtime: RuntimeFacts): UwsRuntime {
  const failures: string[] = [];
  for (const build of UWS_BUILDS) {
    if (!build.abis.includes(runtime.abi)) {
      failures.push(`${build.name}: no binary for ABI ${runtime.abi} (has ${build.abis.join(', ')})`);
      continue;
    }
    try {
      return { uws: requireNative(build, runtime), build: build.name, native: true, runtime, failures };
    } catch (error) {
      failures.push(`${build.name}: ${reasonOf(error)}`);
    }
  }
  if (!allowEmulation) throw new UwsUnavailableError(refusalMessage(runtime, failures));
  return { uws: require('@trufflesuite/uws-js-unofficial/dist/index') as Uws, build: 'ws emulation', native: false, runtime, failures };
}
