import { fileURLToPath } from 'node:url';
import { ESLint } from 'eslint';
import { beforeAll, describe, expect, it } from 'vitest';

// The layer rule of eslint.config.js, run through ESLint's Node API on small virtual files placed in the repository.
const repoRoot = fileURLToPath(new URL('..', import.meta.url));

// Generous timeout: the cycle check parses the modules the file reaches, slow on a busy two-core machine.
describe('the dependency rule (npm run lint)', { timeout: 120_000 }, () => {
  let eslint: ESLint;
  beforeAll(() => {
    eslint = new ESLint({ cwd: repoRoot });
  });

  async function problems(filePath: string, code: string): Promise<string[]> {
    const [result] = await eslint.lintText(code, { filePath });
    return (result?.messages ?? [])
      .filter((message) => message.ruleId?.startsWith('import-x/'))
      .map((message) => `${message.ruleId}: ${message.message}`);
  }

  it('fails a stage importing another stage', async () => {
    const found = await problems(
      'gateway/wrong-way.ts',
      "import { BUILTIN_UNIVERSES } from '../api/universes.js';\nexport const keys = BUILTIN_UNIVERSES.length;\n",
    );
    expect(found).toHaveLength(1);
    expect(found[0]).toMatch(/no-restricted-paths: .*gateway\/ may not import api\/: stages do not import each other/);
    const nested = await problems('ingest/simulator/wrong-way.ts', "export type { BarInput } from '../../processors/engine.js';\n");
    expect(nested[0]).toMatch(/ingest\/ may not import processors\//);
  });

  it('lets a stage import the shared layers and its own files', async () => {
    const code =
      "import { BUILTIN_UNIVERSES } from '../contracts/universes.js';\nimport { migrate } from '../store/migrate.js';\nimport { createLogger } from '../platform/index.js';\nimport { matches } from './filter.js';\nexport const all = [BUILTIN_UNIVERSES, migrate, createLogger, matches];\n";
    expect(await problems('gateway/right-way.ts', code)).toEqual([]);
  });

  it('keeps the shared layers below the stages', async () => {
    expect(await problems('contracts/wrong-way.ts', "export { startProjector } from '../projections/index.js';\n")).toHaveLength(1);
    expect(await problems('store/wrong-way.ts', "export { createApp } from '../api/index.js';\n")).toHaveLength(1);
    expect(await problems('platform/wrong-way.ts', "export { redisKeys } from '../contracts/redis-keys.js';\n")).toHaveLength(1);
  });

  it('lets tests beside a stage import test/, but not the code itself', async () => {
    const code = "export { createTestDatabase } from '../test/postgres.js';\n";
    expect(await problems('api/helper.test.ts', code)).toEqual([]);
    expect(await problems('api/helper.ts', code)).toHaveLength(1);
    expect(await problems('api/helper.test.ts', "export { startProjector } from '../projections/index.js';\n")).toHaveLength(1);
  });

  it('lets cli/ import only a stage public surface, and stack/ not import cli/', async () => {
    expect(await problems('cli/right-way.ts', "export { loadProjectorConfig } from '../projections/index.js';\n")).toEqual([]);
    expect(await problems('cli/wrong-way.ts', "export { loadProjectorConfig } from '../projections/projector.js';\n")).toHaveLength(1);
    expect(await problems('stack/wrong-way.ts', "export { setupPipeline } from '../cli/setup-command.js';\n")).toHaveLength(1);
  });

  it('lets dashboard/ import the gateway SDK only', async () => {
    expect(await problems('dashboard/src/right-way.ts', "export { TickflowClient } from '../../gateway/client/index.js';\n")).toEqual([]);
    expect(await problems('dashboard/src/wrong-way.ts', "export { startGateway } from '../../gateway/index.js';\n")).toHaveLength(1);
    expect(await problems('dashboard/src/wrong-way.ts', "export { createApp } from '../../api/index.js';\n")).toHaveLength(1);
  });

  it('fails an import cycle', async () => {
    // ingest/sink.ts imports ingest/platformatic-producer.ts; importing the sink back from there closes a cycle.
    const found = await problems(
      'ingest/platformatic-producer.ts',
      "import { KafkaSink } from './sink.js';\nexport const sink = KafkaSink;\n",
    );
    expect(found.some((message) => message.startsWith('import-x/no-cycle'))).toBe(true);
  });
});
