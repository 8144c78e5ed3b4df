import { afterAll, describe, expect, it, vi } from 'vitest';
import { deleteTopicsUnder, uniquePrefix } from '../test/kafka.js';
import { collect, runTickflow, spawnTickflow, waitForLine } from '../test/tickflow-cli.js';
import { EXIT } from './exit-codes.js';

/** `tickflow …` as a user runs it; its output, failing the test on a non-zero exit. */
async function tickflow(...args: string[]): Promise<string> {
  const run = await runTickflow(args);
  expect(run.code, run.stderr).toBe(EXIT.ok);
  return run.stdout;
}

// On the shared stack: read-only commands only (never `stack up` or `down`); `setup` is idempotent.
describe('the tickflow command', () => {
  it('lists a subcommand per stage', async () => {
    const help = await tickflow('--help');
    for (const command of ['stack', 'topics', 'replay', 'setup', 'config', 'bench']) expect(help).toContain(command);
  });

  it('shows the stack, the topics and the configuration', async () => {
    expect(await tickflow('stack', 'status')).toMatch(/kafka\s+up[\s\S]*registry\s+up[\s\S]*postgres\s+up[\s\S]*redis\s+up/);
    await tickflow('setup');
    const described = await tickflow('topics', 'describe');
    expect(described).toContain('patterns.events.v1  partitions=6');
    expect(described).toContain('reference.symbols.v1  partitions=3');
    const table = await tickflow('config', '--markdown');
    expect(table).toContain('| `KAFKA_BROKERS` | platform | `127.0.0.1:9092` |');
  });

  it('prints the stack and the topics as JSON with --json', async () => {
    const servers = JSON.parse(await tickflow('stack', 'status', '--json')) as {
      name: string;
      up: boolean;
      address: string;
      managed: boolean;
    }[];
    expect(servers.map((server) => server.name)).toEqual(expect.arrayContaining(['kafka', 'registry', 'postgres', 'redis']));
    for (const server of servers)
      expect(server).toMatchObject({ up: true, address: expect.any(String) as string, managed: expect.any(Boolean) as boolean });

    await tickflow('setup');
    const topics = JSON.parse(await tickflow('topics', 'describe', '--json')) as {
      topic: string;
      partitions: { partition: number; low: string; high: string; leader: number }[];
      configs: Record<string, string>;
      groups: { groupId: string; lag: number }[];
    }[];
    const patterns = topics.find((topic) => topic.topic === 'patterns.events.v1');
    expect(patterns?.partitions).toHaveLength(6);
    expect(patterns?.partitions[0]).toEqual({
      partition: 0,
      low: expect.stringMatching(/^\d+$/) as string,
      high: expect.stringMatching(/^\d+$/) as string,
      leader: expect.any(Number) as number,
    });
    expect(patterns?.configs['cleanup.policy']).toBeDefined();
    expect(Array.isArray(patterns?.groups)).toBe(true);
  });

  describe('ingest under its lease (INGEST_LEASE)', () => {
    const prefix = uniquePrefix('cli-lease');
    afterAll(() => deleteTopicsUnder(prefix));

    it('starts alone as the lease holder, says so in /ready, and stops cleanly', async () => {
      const child = spawnTickflow(['ingest', '--source', 'simulator'], {
        env: {
          LOG_LEVEL: 'info',
          TOPIC_PREFIX: prefix,
          INGEST_LEASE: 'true',
          INGEST_LEASE_ID: `${prefix}ingest`,
          INGEST_OPS_PORT: '0',
          SIMULATOR_PORT: '0',
          SIMULATOR_SYMBOLS: '5',
        },
      });
      const ended = collect(child, 120_000);
      const output = await waitForLine(child, 'stdout', /"msg":"ingest running"/, 120_000);
      const { opsPort } = JSON.parse(output.split('\n').find((line) => line.includes('"msg":"ingest running"'))!) as { opsPort: number };
      // The only member of its group: the lease is its as soon as the group has formed.
      await vi.waitFor(
        async () => {
          const ready = await fetch(`http://127.0.0.1:${opsPort}/ready`);
          const body = (await ready.json()) as { checks: { lease?: { details?: { role?: string } } } };
          expect(body.checks.lease?.details?.role).toBe('active');
        },
        { timeout: 60_000, interval: 200 },
      );
      child.kill('SIGTERM');
      const run = await ended;
      expect(run.code, run.stderr).toBe(EXIT.ok);
    });
  });
});
