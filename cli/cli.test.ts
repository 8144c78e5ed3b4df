import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { collect, runTickflow, spawnTickflow, waitForLine } from '../test/tickflow-cli.js';
import { EXIT } from './exit-codes.js';

// The `tickflow` command as a user meets it (issue 22 item 5), without servers: the version, one line and exit 2 for
// a bad argument or env value, exit 1 for a runtime failure, a quiet end on a closed pipe, `--json`, and Ctrl-C.
// The commands that need the stack (`stack status`, `topics describe`) are in cli.int.test.ts.

const packageVersion = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;

/** stderr is exactly one line, with no stack trace. */
function oneLine(stderr: string): string {
  const lines = stderr.trimEnd().split('\n');
  expect(lines, stderr).toHaveLength(1);
  expect(stderr).not.toMatch(/^\s+at /m);
  return lines[0]!;
}

// Each run starts tsx: seconds apiece on a loaded machine.
describe('the tickflow command', { timeout: 90_000 }, () => {
  it('prints the package version with --version and exits 0', async () => {
    const run = await runTickflow(['--version']);
    expect(run.code).toBe(EXIT.ok);
    expect(run.stdout.trim()).toBe(packageVersion);
  });

  it('names an invalid argument and what is allowed, in one line, exit 2', async () => {
    const run = await runTickflow(['rebuild', 'foo']);
    expect(run.code).toBe(EXIT.usage);
    expect(oneLine(run.stderr)).toMatch(/^tickflow: .*'foo'.*'projection'.*patterns, bars, reference, redis/);
  });

  it('names an invalid option value and what is allowed, in one line, exit 2', async () => {
    const run = await runTickflow(['replay', '--topic', 'patterns', '--format', 'xml']);
    expect(run.code).toBe(EXIT.usage);
    expect(oneLine(run.stderr)).toMatch(/^tickflow: .*--format.*'xml'.*jsonl, csv/);
  });

  it('names an invalid env value and what is allowed, in one line, exit 2, after listing every variable', async () => {
    const run = await runTickflow(['config'], { env: { API_PORT: 'abc' } });
    expect(run.code).toBe(EXIT.usage);
    expect(oneLine(run.stderr)).toMatch(/^tickflow: invalid configuration: API_PORT: .*expected number/);
    expect(run.stdout).toContain('API_PORT');
  });

  it('names an invalid env value an option reads, in one line, exit 2, before starting anything', async () => {
    const run = await runTickflow(['simulator'], { env: { SIMULATOR_PORT: 'abc' } });
    expect(run.code).toBe(EXIT.usage);
    expect(oneLine(run.stderr)).toMatch(/^tickflow: .*'abc'.*SIMULATOR_PORT.*port number 0-65535/);
  });

  it('refuses the ingest lease with a producer library that cannot fence, in one line, exit 2, before connecting to anything', async () => {
    const run = await runTickflow(['ingest', '--source', 'simulator'], {
      env: { INGEST_LEASE: 'true', INGEST_KAFKA_CLIENT: 'platformatic' },
    });
    expect(run.code).toBe(EXIT.usage);
    expect(oneLine(run.stderr)).toMatch(/^tickflow: .*INGEST_LEASE.*INGEST_KAFKA_CLIENT=kafkajs/);
  });

  it('ends quietly when its reader has gone (tickflow config | head -1)', async () => {
    const child = spawnTickflow(['config']);
    child.stdout!.destroy(); // the reader's end closes before the first line is written
    const run = await collect(child);
    expect(run.code).toBe(EXIT.ok);
    expect(run.stderr).toBe('');
  });

  it('fails a runtime failure (a server it cannot reach) with one line, exit 1', async () => {
    const run = await runTickflow(['migrate'], { env: { DATABASE_URL: 'postgres://postgres@127.0.0.1:1/tickflow' } });
    expect(run.code).toBe(EXIT.failure);
    expect(oneLine(run.stderr)).toMatch(/^tickflow: .*ECONNREFUSED 127\.0\.0\.1:1/);
  });

  describe('prints JSON with --json', () => {
    it('config: every declared variable with its stage, description and default', async () => {
      const run = await runTickflow(['config', '--json']);
      expect(run.code).toBe(EXIT.ok);
      const rows = JSON.parse(run.stdout) as {
        name: string;
        stage: string;
        description: string;
        defaultValue?: string;
        required: boolean;
      }[];
      // That it lists every declared one (and loads no stage for it) is cli/lazy-stages.test.ts's check.
      const names = rows.map((row) => row.name);
      expect(names).toEqual(expect.arrayContaining(['KAFKA_BROKERS', 'INGEST_SOURCE', 'PROCESSOR_GROUP_ID', 'GATEWAY_PORT', 'API_PORT']));
      expect(new Set(names).size).toBe(names.length);
      expect(rows.find((row) => row.name === 'API_PORT')).toEqual({
        stage: 'api',
        name: 'API_PORT',
        description: expect.any(String) as string,
        defaultValue: '3000',
        required: false,
      });
    });

    it('patterns: the catalog, each with its name, version, tiers, directions and summary', async () => {
      const run = await runTickflow(['patterns', '--json']);
      expect(run.code).toBe(EXIT.ok);
      const catalog = JSON.parse(run.stdout) as { name: string }[];
      expect(catalog.map((entry) => entry.name)).toEqual(expect.arrayContaining(['doji', 'hammer']));
      for (const entry of catalog)
        expect(entry).toEqual({
          name: expect.any(String) as string,
          version: expect.any(Number) as number,
          tiers: expect.any(Array) as string[],
          directions: expect.any(Array) as string[],
          summary: expect.any(String) as string,
        });
    });

    it('bench list: each suite with its name and description', async () => {
      const run = await runTickflow(['bench', 'list', '--json']);
      expect(run.code).toBe(EXIT.ok);
      const suites = JSON.parse(run.stdout) as { name: string; description: string; inAll: boolean }[];
      expect(suites.map((suite) => suite.name)).toEqual(expect.arrayContaining(['api', 'gateway', 'ingest', 'processors', 'projections']));
      for (const suite of suites)
        expect(suite).toEqual({
          name: expect.any(String) as string,
          description: expect.any(String) as string,
          inAll: expect.any(Boolean) as boolean,
        });
      // `bench all` leaves out the suites that run only by name (an hour long, a browser, clusters of their own).
      expect(suites.filter((suite) => !suite.inAll).map((suite) => suite.name)).toEqual(['bars-year', 'dashboard', 'replication']);
    });
  });

  describe('on Ctrl-C (SIGINT) during a long-running command', () => {
    // The simulator is a stage with no server to reach; DRAIN_DELAY_MS holds its stop open long enough for a
    // second signal to arrive while it is stopping.
    const startSimulator = async (env: Record<string, string>) => {
      const child = spawnTickflow(['simulator', '--port', '0'], { env: { LOG_LEVEL: 'info', ...env } });
      const ended = collect(child);
      await waitForLine(child, 'stdout', /simulator running/);
      return { child, ended };
    };

    it('stops cleanly on the first and exits 0', async () => {
      const { child, ended } = await startSimulator({});
      child.kill('SIGINT');
      const run = await ended;
      expect(run.code).toBe(EXIT.ok);
      expect(run.stdout).toMatch(/"msg":"stopped"/);
    });

    it('exits 130 (interrupted) on a second one while stopping', async () => {
      const { child, ended } = await startSimulator({ DRAIN_DELAY_MS: '120000' });
      child.kill('SIGINT');
      await waitForLine(child, 'stdout', /"msg":"shutting down"/);
      child.kill('SIGINT');
      const run = await ended;
      expect(run.code).toBe(EXIT.interrupted);
      expect(run.stdout).toMatch(/second signal, exiting now/);
    });
  });
});
