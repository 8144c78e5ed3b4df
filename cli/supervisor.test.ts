import { afterEach, describe, expect, it, vi } from 'vitest';
import { Supervisor } from './supervisor.js';

const node = process.execPath;

describe('Supervisor', () => {
  let supervisor: Supervisor | undefined;
  afterEach(async () => {
    await supervisor?.stop(2000);
    supervisor = undefined;
  });

  it('prefixes output, restarts a crashed stage with backoff and reports the crash', async () => {
    const lines: string[] = [];
    supervisor = new Supervisor(
      [{ name: 'crashy', program: node, args: ['-e', 'console.log("hello"); process.exit(3)'] }],
      (line) => lines.push(line),
      { initialDelayMs: 10, maxDelayMs: 40, healthyAfterMs: 60_000 },
    );
    supervisor.start();
    await vi.waitFor(() => expect(supervisor!.restarts('crashy')).toBeGreaterThanOrEqual(3), { timeout: 20_000, interval: 20 });
    expect(lines).toContain('[crashy]    hello');
    const crashes = lines.filter((line) => line.startsWith('[supervisor] crashy crashed (exit 3)'));
    expect(crashes.length).toBeGreaterThanOrEqual(3);
    expect(crashes[0]).toContain('restart #1 in 10 ms');
    expect(crashes[1]).toContain('restart #2 in 20 ms');
  });

  it('starts a stage with startsAfter once its condition holds (ingest waits for its feed), the others at once', async () => {
    const lines: string[] = [];
    let feedUp: () => void = () => {};
    const feed = new Promise<void>((resolve) => (feedUp = resolve));
    const script = (name: string) => `console.log('${name} ready'); setInterval(() => {}, 1000);`;
    supervisor = new Supervisor(
      [
        { name: 'feed', program: node, args: ['-e', script('feed')] },
        { name: 'reader', program: node, args: ['-e', script('reader')], startsAfter: () => feed },
      ],
      (line) => lines.push(line),
    );
    supervisor.start();
    await vi.waitFor(() => expect(lines).toContain('[feed]      feed ready'), { timeout: 20_000, interval: 20 });
    expect(supervisor.pids().reader).toBeUndefined();
    feedUp();
    await vi.waitFor(() => expect(lines).toContain('[reader]    reader ready'), { timeout: 20_000, interval: 20 });
  });

  it('stops every stage with SIGTERM, last first, and lets them exit cleanly', async () => {
    const lines: string[] = [];
    const script = (name: string) =>
      `process.on('SIGTERM', () => { console.log('${name} got SIGTERM'); process.exit(0); }); console.log('${name} ready'); setInterval(() => {}, 1000);`;
    supervisor = new Supervisor(
      [
        { name: 'first', program: node, args: ['-e', script('first')] },
        { name: 'second', program: node, args: ['-e', script('second')] },
      ],
      (line) => lines.push(line),
    );
    supervisor.start();
    await vi.waitFor(() => expect(lines.filter((line) => line.endsWith('ready'))).toHaveLength(2), { timeout: 20_000, interval: 20 });
    expect(Object.values(supervisor.pids()).every((pid) => typeof pid === 'number')).toBe(true);
    const samples = await supervisor.sample();
    expect(samples).toEqual([
      { stage: 'first', up: true },
      { stage: 'second', up: true },
    ]);
    await supervisor.stop(5000);
    supervisor = undefined;
    const order = lines.filter((line) => line.includes('SIGTERM') || line.includes('stopped'));
    expect(order).toEqual([
      '[second]    second got SIGTERM',
      '[supervisor] second stopped',
      '[first]     first got SIGTERM',
      '[supervisor] first stopped',
    ]);
  });

  it('gives each stage a channel to the supervisor, whose closing tells a stage its supervisor is gone', async () => {
    const lines: string[] = [];
    const script = `console.log('channel', typeof process.send); process.on('disconnect', () => { console.log('supervisor gone'); process.exit(0); });`;
    supervisor = new Supervisor([{ name: 'stage', program: node, args: ['-e', script] }], (line) => lines.push(line));
    supervisor.start();
    await vi.waitFor(() => expect(lines).toContain('[stage]     channel function'), { timeout: 20_000, interval: 20 });
    await supervisor.stop(5000);
    supervisor = undefined;
  });

  it('runs a one-shot command and reports its failure', async () => {
    const lines: string[] = [];
    await expect(Supervisor.runOnce('setup', ['definitely-not-a-command'], (line) => lines.push(line))).rejects.toThrow(
      /exited with code 2/, // a usage error (cli/exit-codes.ts)
    );
    expect(lines.some((line) => line.startsWith('[setup]') && line.includes('unknown command'))).toBe(true);
  });
});
