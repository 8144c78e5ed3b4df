import { defineConfig } from 'vitest/config';
import { GATEWAY_TEST_FILES, gatewaySkipReason } from './test/gateway-runtime.js';

// Only on a runtime where the gateway refuses to start (Node 24 on Debian 12: test/gateway-runtime.ts decides), the
// files that need a gateway are left out, saying why; gateway/uws-runtime.test.ts asserts the refusal there.
const gatewaySkip = gatewaySkipReason();
const said = Symbol.for('tickflow.gatewaySkipSaid');
if (gatewaySkip && !(said in globalThis)) {
  Object.assign(globalThis, { [said]: true });
  console.log(`Skipping ${GATEWAY_TEST_FILES.join(', ')}: ${gatewaySkip}`);
}

// Projects: `unit` needs no server; `integration` (files named *.int.test.ts) talks to the real Kafka, registry,
// PostgreSQL and Redis, and its global setup brings the local stack up when it is down; `integration-timescale`
// repeats the projections and API files on the stack's TimescaleDB; `build` runs the compiled build (CI, after lint);
// `chaos` runs alone, on demand.
export default defineConfig({
  test: {
    coverage: {
      provider: 'v8',
      reporter: ['text-summary', 'text', 'json-summary'],
      reportOnFailure: true,
      // The team's floor: 90% of lines overall, 95% for the API and the gateway.
      thresholds: {
        lines: 90,
        'api/**/*.ts': { lines: 95 },
        // Where the gateway's tests cannot run (above), its floor cannot be measured.
        ...(gatewaySkip ? {} : { 'gateway/**/*.ts': { lines: 95 } }),
      },
      include: [
        'platform/**/*.ts',
        'contracts/**/*.ts',
        'store/**/*.ts',
        'stack/**/*.ts',
        'cli/**/*.ts',
        'ingest/**/*.ts',
        'processors/**/*.ts',
        'projections/**/*.ts',
        // Where the gateway cannot run (above), its files are not measured: the run on the machine's Node measures them.
        ...(gatewaySkip ? [] : ['gateway/**/*.ts']),
        'api/**/*.ts',
      ],
      exclude: [
        '**/*.test.ts',
        '**/cli.ts',
        '**/main.ts',
        'cli/replay-command.ts',
        'cli/setup-command.ts',
        'cli/soak-command.ts',
        'bench/**',
        'test/**',
      ],
    },
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          sequence: { groupOrder: 0 },
          include: ['**/*.test.ts'],
          exclude: [
            '**/*.int.test.ts',
            '**/*.chaos.test.ts',
            '**/*.build.test.ts',
            '**/*.cluster.test.ts',
            'node_modules/**',
            '.stack/**',
            'dist/**',
          ],
          testTimeout: 20_000,
        },
      },
      {
        extends: true,
        test: {
          name: 'integration',
          sequence: { groupOrder: 1 },
          include: ['**/*.int.test.ts'],
          exclude: ['node_modules/**', '.stack/**', 'dist/**', ...(gatewaySkip ? GATEWAY_TEST_FILES : [])],
          globalSetup: ['test/global-setup.ts'],
          testTimeout: 120_000,
          hookTimeout: 180_000,
          // Two cores: integration files share one broker; running two at a time keeps them honest and fast enough.
          maxWorkers: 2,
          fileParallelism: true,
        },
      },
      {
        extends: true,
        test: {
          // The same projections and API files again, against the stack's TimescaleDB cluster (TEST_DATABASE=timescale
          // makes createTestDatabase() create its databases there): the production storage path, hypertables and
          // continuous aggregates, next to the plain-partition path of `integration`. Runs after it, not beside it.
          name: 'integration-timescale',
          sequence: { groupOrder: 2 },
          include: [
            'projections/**/*.int.test.ts',
            'api/**/*.int.test.ts',
            'store/**/*.int.test.ts',
            'test/scan-explain.int.test.ts',
            'test/scan-timescale.int.test.ts',
            'test/prepared-rebuild.int.test.ts',
          ],
          exclude: ['node_modules/**', '.stack/**', 'dist/**'],
          env: { TEST_DATABASE: 'timescale' },
          globalSetup: ['test/global-setup.ts'],
          testTimeout: 120_000,
          hookTimeout: 180_000,
          maxWorkers: 2,
          fileParallelism: true,
        },
      },
      {
        extends: true,
        test: {
          // The compiled build (test/dist.build.test.ts): builds into a temporary directory, installs the production
          // dependencies beside it and runs the compiled CLI and stages. Minutes long; .ci/run runs it after lint.
          name: 'build',
          sequence: { groupOrder: 3 },
          include: ['**/*.build.test.ts'],
          exclude: ['node_modules/**', '.stack/**', 'dist/**'],
          globalSetup: ['test/global-setup.ts'],
          testTimeout: 120_000,
          hookTimeout: 900_000,
        },
      },
      {
        extends: true,
        test: {
          // A three-broker Kafka cluster of its own (ports 19092-19100, registry 18081, a temporary state folder) beside
          // the shared stack: four JVMs, so it runs alone and on demand (`npx vitest run --project cluster`).
          name: 'cluster',
          sequence: { groupOrder: 5 },
          include: ['**/*.cluster.test.ts'],
          exclude: ['node_modules/**', '.stack/**', 'dist/**'],
          globalSetup: ['test/global-setup.ts'],
          testTimeout: 300_000,
          hookTimeout: 600_000,
          maxWorkers: 1,
          fileParallelism: false,
        },
      },
      {
        extends: true,
        test: {
          // Fault injection, fuzzing and security (chaos/): restarts shared servers, so it runs alone, one file at a time.
          name: 'chaos',
          sequence: { groupOrder: 4 },
          include: ['chaos/**/*.chaos.test.ts'],
          exclude: ['node_modules/**', '.stack/**', 'dist/**'],
          globalSetup: ['test/global-setup.ts'],
          testTimeout: 600_000,
          hookTimeout: 600_000,
          maxWorkers: 1,
          fileParallelism: false,
        },
      },
    ],
  },
});
