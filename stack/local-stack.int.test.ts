import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatStatus, LocalStack, portOpen } from './local-stack.js';

describe('the local stack', () => {
  it('shows the four servers up with versions and addresses', async () => {
    const statuses = await new LocalStack().status();
    expect(statuses.map((server) => [server.name, server.up])).toEqual([
      ['kafka', true],
      ['registry', true],
      ['postgres', true],
      ['redis', true],
    ]);
    const registry = statuses.find((server) => server.name === 'registry')!;
    expect(registry.version).toMatch(/^Apicurio Registry 3\./);
    expect(statuses.find((server) => server.name === 'postgres')!.version).toMatch(/^PostgreSQL 1\d/);
    expect(statuses.find((server) => server.name === 'redis')!.version).toMatch(/^Redis 7\./);
    expect(formatStatus(statuses)).toContain('kafka     up');
  });

  it('names a server that cannot be reached, with the command that starts it', async () => {
    const statuses = await new LocalStack({ REDIS_URL: 'redis://127.0.0.1:1/0', DATABASE_URL: 'postgres://postgres@127.0.0.1:1/x' }).status();
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
    const env = {
      STACK_STATE_DIR: stateDir,
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
      expect(first.filter((server) => server.name === 'kafka' || server.name === 'registry').every((server) => server.up && server.managed)).toBe(true);
      expect(lines.some((line) => line.startsWith('kafka: formatted storage'))).toBe(true);

      const again: string[] = [];
      await stack.up((line) => again.push(line));
      expect(again).toEqual([
        'kafka: already running at 127.0.0.1:19092',
        'registry: already running at http://127.0.0.1:18081/apis/ccompat/v7',
      ]);

      const stopped: string[] = [];
      await stack.down((line) => stopped.push(line));
      expect(stopped.map((line) => line.replace(/ \(pid \d+\)/, ''))).toEqual(['registry: stopped', 'kafka: stopped']);
      expect(await portOpen('127.0.0.1', 19092)).toBe(false);
      // The shared stack the other tests use is untouched.
      expect(await portOpen('127.0.0.1', 9092)).toBe(true);

      const nothing: string[] = [];
      await stack.down((line) => nothing.push(line));
      expect(nothing).toEqual(['registry: not started by tickflow, left alone', 'kafka: not started by tickflow, left alone']);
    });
  });
});
