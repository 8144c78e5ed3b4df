import { describe, expect, it } from 'vitest';
import { runTickflow } from '../test/tickflow-cli.js';
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
});
