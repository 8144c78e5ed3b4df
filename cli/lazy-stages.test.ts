import { describe, expect, it } from 'vitest';
import { documentedEnv } from '../platform/config.js';
import '../platform/auth.js';
import '../contracts/calendar-config.js';
import '../stack/local-stack.js';
import '../ingest/config.js';
import '../processors/config.js';
import '../projections/config.js';
import '../gateway/config.js';
import '../api/config.js';
import './start-command.js';
import './soak-core.js';
import { runTickflow } from '../test/tickflow-cli.js';

// Loaded before the CLI: at exit, prints which CommonJS modules of the uWS add-on were required.
const REPORT_NATIVE = `data:text/javascript,${encodeURIComponent(
  "import { createRequire } from 'node:module'; const require = createRequire(process.cwd() + '/'); process.on('exit', () => process.stderr.write('LOADED ' + JSON.stringify(Object.keys(require.cache).filter((path) => path.includes('uws'))) + '\\n'));",
)}`;

/** Runs the real `tickflow` binary and returns its output and the uWS modules it loaded. */
async function tickflow(...args: string[]): Promise<{ stdout: string; uws: string[] }> {
  const { code, stdout, stderr } = await runTickflow(args, { nodeArgs: ['--import', REPORT_NATIVE] });
  expect(code, stderr).toBe(0);
  const line = stderr.split('\n').find((entry) => entry.startsWith('LOADED '));
  expect(line, 'the exit report').toBeDefined();
  return { stdout, uws: JSON.parse(line!.slice('LOADED '.length)) as string[] };
}

// Each run starts tsx: seconds apiece on a loaded machine.
describe('the tickflow command loads a stage only to run it', { timeout: 90_000 }, () => {
  it('prints its help without loading the uWS native add-on', async () => {
    const { stdout, uws } = await tickflow('--help');
    for (const command of ['ingest', 'process', 'project', 'gateway', 'api', 'config']) expect(stdout).toContain(command);
    expect(uws).toEqual([]);
  });

  it('lists every variable every stage declares, without loading any stage', async () => {
    const { stdout, uws } = await tickflow('config', '--markdown');
    expect(uws).toEqual([]);
    const listed = stdout
      .split('\n')
      .filter((line) => line.startsWith('| `'))
      .map((line) => line.split('`')[1]);
    expect(listed).toEqual(documentedEnv().map((entry) => entry.name));
  });
});
