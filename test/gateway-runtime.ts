import { UWS_BUILDS, UwsUnavailableError, currentRuntime, loadUws } from '../gateway/uws-runtime.js';

/** The test files that start a gateway (directly or through `npm start`). */
export const GATEWAY_TEST_FILES = [
  'gateway/gateway.int.test.ts',
  'gateway/limits.int.test.ts',
  'gateway/page.int.test.ts',
  'gateway/partitions.int.test.ts',
  'gateway/resume.int.test.ts',
  'gateway/transactions.int.test.ts',
  'gateway/production.int.test.ts',
  'test/gateway-snapshot.int.test.ts',
  'test/pipeline.int.test.ts',
  'test/dashboard.int.test.ts',
];

/**
 * The one place that decides whether the tests that need a gateway are skipped: only when no native uWS build loads
 * AND the runtime is the known unsupported one (a Node whose ABI only the official build covers, on glibc older
 * than that build needs: Node 24 on Debian 12). There the gateway refuses to start, which
 * gateway/uws-runtime.test.ts asserts; anywhere else a build that does not load fails the tests, as it should.
 */
export function gatewaySkipReason(): string | undefined {
  const runtime = currentRuntime();
  try {
    loadUws({ allowEmulation: false });
    return undefined;
  } catch (error) {
    if (!(error instanceof UwsUnavailableError)) throw error;
    const official = UWS_BUILDS[0]!;
    const onlyOfficial = !UWS_BUILDS.slice(1).some((build) => build.abis.includes(runtime.abi)) && official.abis.includes(runtime.abi);
    const oldGlibc = runtime.glibc !== undefined && compareVersions(runtime.glibc, official.minGlibc) < 0;
    if (!onlyOfficial || !oldGlibc) return undefined;
    return `the gateway refuses to start on Node ${runtime.node} (ABI ${runtime.abi}) with glibc ${runtime.glibc}: ${official.name} needs glibc >= ${official.minGlibc} (gateway/uws-runtime.test.ts asserts the refusal)`;
  }
}

function compareVersions(a: string, b: string): number {
  const left = a.split('.').map(Number);
  const right = b.split('.').map(Number);
  for (let index = 0; index < Math.max(left.length, right.length); index += 1) {
    const difference = (left[index] ?? 0) - (right[index] ?? 0);
    if (difference !== 0) return difference;
  }
  return 0;
}
