import { existsSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { InvalidArgumentError, type Command } from 'commander';
import { recordResults, type BenchSuite } from './harness.js';

const suitesDir = join(dirname(fileURLToPath(import.meta.url)), 'suites');

/** Every suite in bench/suites/ (each file default-exports a BenchSuite). */
async function loadSuites(): Promise<BenchSuite[]> {
  // The build leaves the suites out (they load dev dependencies): benchmarks run from a checkout.
  if (!existsSync(suitesDir))
    throw new Error('the benchmarks run from a source checkout (`npx tickflow bench`), not from the compiled build');
  const files = readdirSync(suitesDir)
    .filter((file) => file.endsWith('.ts') && !file.endsWith('.test.ts'))
    .sort();
  const suites: BenchSuite[] = [];
  for (const file of files) {
    const module = (await import(pathToFileURL(join(suitesDir, file)).href)) as { default: BenchSuite };
    suites.push(module.default);
  }
  return suites;
}

export function registerBenchCommands(program: Command): void {
  program
    .command('bench')
    .description('run a benchmark (or `all`); prints a table and writes bench/results/<name>.json')
    .argument('[name]', 'suite name, `all` (every suite not marked by name only), or `list`', 'list')
    .option('--scale <n>', 'scale factor (1 = full run)', '1')
    .option('--set <key=value...>', 'suite settings')
    .option('--json', 'list: print JSON')
    .action(async (name: string, options: { scale: string; set?: string[]; json?: boolean }) => {
      const suites = await loadSuites();
      if (name === 'list' && options.json) {
        console.log(
          JSON.stringify(
            suites.map((suite) => ({ name: suite.name, description: suite.description, inAll: !suite.onlyByName })),
            null,
            2,
          ),
        );
        return;
      }
      if (name === 'list') {
        for (const suite of suites)
          console.log(`${suite.name.padEnd(24)} ${suite.onlyByName ? '(by name only) ' : ''}${suite.description}`);
        return;
      }
      const chosen = name === 'all' ? suites.filter((suite) => !suite.onlyByName) : suites.filter((suite) => suite.name === name);
      if (chosen.length === 0) throw new InvalidArgumentError(`no benchmark named ${name}; try \`tickflow bench list\``);
      const settings = Object.fromEntries((options.set ?? []).map((pair) => pair.split('=', 2) as [string, string]));
      for (const suite of chosen) {
        const command = `npx tickflow bench ${suite.name} --scale ${options.scale}${options.set ? ` --set ${options.set.join(' ')}` : ''}`;
        const figures = await suite.run({ scale: Number(options.scale), settings });
        recordResults(suite.name, command, figures);
      }
    });
}
