import { describe, expect, it } from 'vitest';
import { gatewaySkipReason } from '../test/gateway-runtime.js';
import { runTickflow } from '../test/tickflow-cli.js';
import { UWS_BUILDS, UwsUnavailableError, currentRuntime, loadUws, refusalMessage, type RuntimeFacts } from './uws-runtime.js';

const skipReason = gatewaySkipReason();
const unknownAbi: RuntimeFacts = { node: '99.0.0', abi: 999, platform: 'linux', arch: 'x64', glibc: '2.36' };

describe('uWS runtime', () => {
  it('names the Node ABI, the glibc version, why each build failed and what works', () => {
    const message = refusalMessage(unknownAbi, ['a: no binary for ABI 999']);
    expect(message).toContain('Node 99.0.0 (ABI 999, linux-x64, glibc 2.36)');
    expect(message).toContain('a: no binary for ABI 999');
    for (const build of UWS_BUILDS) expect(message).toContain(`glibc >= ${build.minGlibc} (${build.name})`);
    expect(message).toContain('GATEWAY_ALLOW_WS_EMULATION=true');
    expect(refusalMessage({ ...unknownAbi, glibc: undefined }, [])).toContain('no glibc (musl or not Linux)');
  });

  it('refuses a runtime no build covers, unless the emulation is allowed, which it then says', () => {
    expect(() => loadUws({ allowEmulation: false, runtime: unknownAbi })).toThrow(UwsUnavailableError);
    const emulated = loadUws({ allowEmulation: true, runtime: unknownAbi });
    expect(emulated).toMatchObject({ native: false, build: 'ws emulation' });
    expect(emulated.failures).toHaveLength(UWS_BUILDS.length);
    expect(typeof emulated.uws.App).toBe('function');
  });

  it.skipIf(skipReason !== undefined)('loads a native build on this runtime', () => {
    const runtime = loadUws({ allowEmulation: false });
    expect(runtime.native).toBe(true);
    expect(UWS_BUILDS.map((build) => build.name)).toContain(runtime.build);
    expect(typeof runtime.uws.App).toBe('function');
  });

  // The exact case the suite skips the gateway's tests for (Node 24 on Debian 12): `tickflow gateway` refuses to
  // start, in one message, with the usage/configuration exit code, before connecting anything.
  // A tsx start of the CLI: seconds on a loaded machine.
  it.runIf(skipReason !== undefined)(
    'refuses to start the gateway on this runtime, saying why and what works',
    { timeout: 90_000 },
    async () => {
      const runtime = currentRuntime();
      const failure = await runTickflow(['gateway', '--port', '0']);
      expect(failure.code).toBe(2);
      expect(failure.stderr).toContain(
        `gateway refuses to start: no native uWebSockets.js build loads on Node ${runtime.node} (ABI ${runtime.abi}`,
      );
      expect(failure.stderr).toContain(`glibc ${runtime.glibc}`);
      expect(failure.stderr).toContain('What works:');
      expect(failure.stderr).not.toMatch(/^\s+at /m); // no stack trace
    },
  );
});
