import { afterAll, describe, expect, it } from 'vitest';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatStatus, LocalStack, portOpen } from './local-stack.js';

describe('the local stack', () => {
  it('shows the five servers up with versions and addresses', async () => {
    const statuses = await new LocalStack().status();
    expect(statuses.map((server) => [server.name, server.up])).toEqual([
      ['kafka', true],
      ['registry', true],
      ['postgres', true],
      ['timescaledb', true],
      ['redis', true],
    ]);
    // The machine's server has the extension's files (built into it) but serves the plain path; the stack's own
    // cluster preloads the library.
    expect(statuses.find((server) => server.name === 'postgres')!.detail).toMatch(
      /^timescaledb 2\.28\.3 installed, not preloaded|^timescaledb not installed/,
    );
    expect(statuses.find((server) => server.name === 'timescaledb')).toMatchObject({
      version: expect.stringMatching(/^PostgreSQL 15\./),
      detail: 'timescaledb 2.28.3 preloaded',
    });
    const registry = statuses.find((server) => server.name === 'registry')!;
    expect(registry.version).toMatch(/^Apicurio Registry 3\./);
    expect(statuses.find((server) => server.name === 'postgres')!.version).toMatch(/^PostgreSQL 1\d/);
    expect(statuses.find((server) => server.name === 'redis')!.version).toMatch(/^Redis 7\./);
    expect(formatStatus(statuses)).toContain('kafka       up');
  });

  it('names a server that cannot be reached, with the command that starts it', async () => {
    const statuses = await new LocalStack({
      REDIS_URL: 'redis://127.0.0.1:1/0',
      DATABASE_URL: 'postgres://postgres@127.0.0.1:1/x',
    }).status();
    const redis = statuses.find((server) => server.name === 'redis')!;
    const postgres = statuses.find((server) => server.name === 'postgres')!;
    expect(redis.up).toBe(false);
    expect(redis.startCommand).toContain('redis-server');
    expect(postgres.up).toBe(false);
    expect(postgres.startCommand).toContain('pg_ctlcluster');
    expect(formatStatus(statuses)).toMatch(/redis\s+DOWN[\s\S]*start it with: redis-server/);
  });

  describe('a second stack on other ports', () => {
    const stateDir = mkdtempSync(join(tmpdir(), 'tickflow-stack-'));
    // The postgres OS user runs the TimescaleDB cluster: it must be able to reach its data folder.
    chmodSync(stateDir, 0o755);
    const env = {
      STACK_STATE_DIR: stateDir,
      STACK_TIMESCALE_PORT: '15433',
      KAFKA_BROKERS: '127.0.0.1:19092',
      SCHEMA_REGISTRY_URL: 'http://127.0.0.1:18081/apis/ccompat/v7',
      STACK_KAFKA_HEAP: '384m',
      STACK_REGISTRY_HEAP: '256m',
    };
    const stack = new LocalStack(env);
    afterAll(async () => {
      await stack.down();
      rmSync(stateDir, { recursive: true, force: true });
    });

    // Two JVMs starting on the shared cores while other test files run: allow more than the default 120 s.
    it('comes up, does no harm when brought up twice, and `down` stops only what it started', { timeout: 240_000 }, async () => {
      const lines: string[] = [];
      const first = await stack.up((line) => lines.push(line));
      expect(
        first.filter((server) => ['kafka', 'registry', 'timescaledb'].includes(server.name)).every((server) => server.up && server.managed),
      ).toBe(true);
      expect(lines.some((line) => line.startsWith('kafka: formatted storage'))).toBe(true);
      // The extension is built once per machine: this second stack reuses it and only creates its own cluster.
      expect(lines.filter((line) => line.startsWith('timescaledb:')).map((line) => line.replace(/ \(pid \d+\).*/, ''))).toEqual([
        `timescaledb: created the cluster in ${join(stateDir, 'data', 'timescaledb')}`,
        'timescaledb: started PostgreSQL 15 with timescaledb preloaded at 127.0.0.1:15433',
      ]);

      const again: string[] = [];
      await stack.up((line) => again.push(line));
      expect(again).toEqual([
        'kafka: already running at 127.0.0.1:19092',
        'registry: already running at http://127.0.0.1:18081/apis/ccompat/v7',
        'timescaledb: already running at 127.0.0.1:15433',
      ]);

      const stopped: string[] = [];
      await stack.down((line) => stopped.push(line));
      expect(stopped.map((line) => line.replace(/ \(pid \d+\)/, ''))).toEqual([
        'registry: stopped',
        'kafka: stopped',
        `timescaledb: stopped (${join(stateDir, 'data', 'timescaledb')})`,
      ]);
      expect(await portOpen('127.0.0.1', 19092)).toBe(false);
      expect(await portOpen('127.0.0.1', 15433)).toBe(false);
      // The shared stack the other tests use is untouched, the machine's PostgreSQL and the first TimescaleDB too.
      expect(await portOpen('127.0.0.1', 9092)).toBe(true);
      expect(await portOpen('127.0.0.1', 5432)).toBe(true);
      expect(await portOpen('127.0.0.1', 5433)).toBe(true);

      const nothing: string[] = [];
      await stack.down((line) => nothing.push(line));
      expect(nothing).toEqual([
        'registry: not started by tickflow, left alone',
        'kafka: not started by tickflow, left alone',
        'timescaledb: not running from this stack, left alone',
      ]);
    });
  });
});
