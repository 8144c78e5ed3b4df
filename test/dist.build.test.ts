import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createKafka, createLogger, loadPlatformConfig } from '../platform/index.js';
import { uniquePrefix } from './kafka.js';
import { createTestDatabase, type TestDatabase } from './postgres.js';

/**
 * The compiled build as the production image runs it (project `build`, run by .ci/run after lint): `npm run build`'s
 * script into a temporary directory, beside it the production dependencies only (`npm ci --omit=dev`, as the
 * Dockerfile's runtime stage), then the compiled CLI with plain Node: no tsx, no esbuild, no dev dependency.
 */
const run = promisify(execFile);
const root = new URL('..', import.meta.url).pathname;
const app = mkdtempSync(join(tmpdir(), 'tickflow-dist-'));
const cli = join(app, 'dist', 'bin', 'tickflow.js');
const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string };
const prefix = uniquePrefix('dist');
const children: ChildProcess[] = [];
let database: TestDatabase;

/** The environment of every compiled command: this test's database and topics, no dev tooling on the path. */
const commandEnv = (extra: Record<string, string> = {}) => ({
  PATH: process.env.PATH ?? '',
  HOME: process.env.HOME ?? '',
  NODE_ENV: 'test',
  LOG_LEVEL: 'warn',
  DATABASE_URL: database.url,
  TOPIC_PREFIX: prefix,
  ...extra,
});

const tickflow = (args: string[], extra: Record<string, string> = {}) =>
  run(process.execPath, [cli, ...args], { cwd: app, env: commandEnv(extra), timeout: 120_000 });

function bytesIn(path: string): number {
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.size;
  return readdirSync(path).reduce((sum, entry) => sum + bytesIn(join(path, entry)), 0);
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Starts a compiled stage; resolves once `url` answers 200. */
async function startStage(args: string[], url: string, extra: Record<string, string> = {}): Promise<ChildProcess> {
  const child = spawn(process.execPath, [cli, ...args], { cwd: app, env: commandEnv(extra), stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  await vi.waitFor(
    async () => {
      if (child.exitCode !== null) throw new Error(`${args[0]} exited (${child.exitCode}):\n${output}`);
      expect((await fetch(url)).status).toBe(200);
    },
    { timeout: 60_000, interval: 250 },
  );
  return child;
}

async function stopStage(child: ChildProcess): Promise<number | null> {
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  child.kill('SIGTERM');
  return exited;
}

beforeAll(async () => {
  const tsx = createRequire(import.meta.url).resolve('tsx/cli');
  await run(process.execPath, [tsx, join(root, 'build.ts'), '--out', join(app, 'dist')], { cwd: root, timeout: 600_000 });
  for (const file of ['package.json', 'package-lock.json']) cpSync(join(root, file), join(app, file));
  await run('npm', ['ci', '--omit=dev', '--no-audit', '--no-fund', '--prefer-offline'], { cwd: app, timeout: 600_000 });
  // What the image adds to its base (the runtime stage's two COPYs); printed for the record, not asserted.
  const mib = (path: string) => (bytesIn(path) / 2 ** 20).toFixed(1);
  console.log(`compiled build: dist/ ${mib(join(app, 'dist'))} MiB, production node_modules ${mib(join(app, 'node_modules'))} MiB`);
  database = await createTestDatabase('dist');
}, 900_000);

afterAll(async () => {
  await Promise.all(children.filter((child) => child.exitCode === null).map((child) => stopStage(child)));
  const kafka = createKafka({
    brokers: loadPlatformConfig().KAFKA_BROKERS,
    clientId: 'test-dist',
    logger: createLogger('test-dist', { level: 'error' }),
  });
  const admin = kafka.admin();
  await admin.connect();
  const topics = (await admin.listTopics()).filter((topic) => topic.startsWith(prefix));
  if (topics.length > 0) await admin.deleteTopics({ topics });
  await admin.disconnect();
  await database?.drop();
  rmSync(app, { recursive: true, force: true });
});

describe('the compiled build with production dependencies only', () => {
  it('has no dev tooling installed: the run below cannot fall back to tsx or esbuild', () => {
    for (const tool of ['tsx', 'esbuild', 'typescript', 'vitest', '@scalar/api-reference']) {
      expect(() => statSync(join(app, 'node_modules', tool)), tool).toThrow();
    }
  });

  it('runs the CLI: help, version and the configuration table', async () => {
    expect((await tickflow(['--help'])).stdout).toContain('Usage: tickflow');
    // `--version` comes with issue 22 item 5; until then commander refuses the option.
    const version = await tickflow(['--version']).catch((error: { stderr: string }) => ({ stdout: '', stderr: error.stderr }));
    if (!/unknown option/.test(version.stderr)) expect(version.stdout.trim()).toBe(manifest.version);
    expect((await tickflow(['config', '--markdown'])).stdout).toContain('| `KAFKA_BROKERS` | platform |');
  });

  it('sets up a fresh database and topics: migrations and Avro schemas read from dist/', async () => {
    const { stdout } = await tickflow(['setup']);
    expect(stdout).toMatch(/migrations applied: /);
    const client = new pg.Client({ connectionString: database.url });
    await client.connect();
    try {
      const { rows } = await client.query<{ name: string }>('SELECT name FROM pgmigrations ORDER BY id');
      // Grouped by the part of the schema they own (store/migrations/<group>/); recorded by file name alone.
      const shipped = readdirSync(join(app, 'dist', 'store', 'migrations'), { recursive: true, encoding: 'utf8' })
        .filter((file) => file.endsWith('.sql'))
        .map((file) => basename(file));
      expect(rows.map((row) => `${row.name}.sql`)).toEqual(shipped.sort());
    } finally {
      await client.end();
    }
  });

  it('serves the API and the gateway (prebuilt SDK bundle, / redirecting to the dashboard) and stops them cleanly on SIGTERM', async () => {
    const apiPort = await freePort();
    const api = await startStage(['api', '--port', String(apiPort)], `http://127.0.0.1:${apiPort}/health`);
    const document = (await (await fetch(`http://127.0.0.1:${apiPort}/openapi.json`)).json()) as { info: { version: string } };
    expect(document.info.version).toBe(manifest.version);
    const docsScript = await fetch(`http://127.0.0.1:${apiPort}/docs/scalar-api-reference.js`);
    expect(docsScript.status).toBe(200);
    expect((await docsScript.text()).length).toBeGreaterThan(100_000);

    const gatewayPort = await freePort();
    const gateway = await startStage(['gateway', '--port', String(gatewayPort)], `http://127.0.0.1:${gatewayPort}/health`);
    const sdk = await fetch(`http://127.0.0.1:${gatewayPort}/sdk.js`);
    expect(sdk.status).toBe(200);
    expect(await sdk.text()).toBe(readFileSync(join(app, 'dist', 'gateway', 'client', 'dist', 'tickflow-client.min.js'), 'utf8'));
    const root = await fetch(`http://127.0.0.1:${gatewayPort}/`, { redirect: 'manual' });
    expect(root.status).toBe(302);
    expect(root.headers.get('location')).toMatch(/\/app\/live$/);

    expect(await stopStage(gateway)).toBe(0);
    expect(await stopStage(api)).toBe(0);
  });

  it('installs the gateway SDK as a package (copied, not linked) that Node imports and TypeScript types', async () => {
    const consumer = join(app, 'consumer');
    mkdirSync(consumer);
    writeFileSync(join(consumer, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
    const sdk = join(app, 'dist', 'gateway', 'client');
    await run('npm', ['install', '--install-links', '--no-audit', '--no-fund', sdk], { cwd: consumer, timeout: 120_000 });
    const imported = await run(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        "import { TickflowClient, DISCONNECTS } from '@tickflow/client'; console.log(typeof TickflowClient, typeof DISCONNECTS)",
      ],
      { cwd: consumer },
    );
    expect(imported.stdout.trim()).toBe('function object');
    writeFileSync(
      join(consumer, 'use.ts'),
      `import { TickflowClient, type WireEvent } from '@tickflow/client';
       const client = new TickflowClient({ url: 'ws://127.0.0.1:3001/ws', auth: { apiKey: 'tfk_example' } });
       const patterns = client.subscribe({ stream: 'patterns', filter: { universe: 'market_leaders' }, window: 100 });
       export async function first(): Promise<WireEvent | undefined> {
         await client.connect();
         for await (const event of patterns) return event;
         return undefined;
       }
       // @ts-expect-error: not a stream of the protocol
       client.subscribe({ stream: 'quotes' });
      `,
    );
    const program = ts.createProgram([join(consumer, 'use.ts')], {
      strict: true,
      noEmit: true,
      target: ts.ScriptTarget.ES2022,
      module: ts.ModuleKind.NodeNext,
      moduleResolution: ts.ModuleResolutionKind.NodeNext,
      lib: ['lib.es2023.d.ts', 'lib.dom.d.ts'],
      types: [],
      skipLibCheck: true,
    });
    expect(ts.getPreEmitDiagnostics(program).map((diagnostic) => ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n'))).toEqual(
      [],
    );
  });
});
