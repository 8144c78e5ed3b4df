import { describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Runs the real `tickflow` binary (tsx under plain Node ESM, not vitest's transform) as a user would. */
async function tickflow(...args: string[]): Promise<string> {
  const { stdout } = await run(process.execPath, ['bin/tickflow.js', ...args], {
    env: { ...process.env, LOG_LEVEL: 'warn' },
    timeout: 60_000,
  });
  return stdout;
}

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
});
