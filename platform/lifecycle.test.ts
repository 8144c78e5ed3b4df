import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it, vi } from 'vitest';
import { Writable } from 'node:stream';
import { createLogger } from './logger.js';
import { Lifecycle, SUPERVISED_ENV } from './lifecycle.js';

function capture() {
  const lines: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      callback();
    },
  });
  return { lines, logger: createLogger('test', { level: 'debug', destination }) };
}

describe('Lifecycle', () => {
  it('runs hooks once, last registered first', async () => {
    const { logger } = capture();
    const lifecycle = new Lifecycle(logger);
    const order: string[] = [];
    lifecycle.onShutdown('consumer', () => {
      order.push('consumer');
    });
    lifecycle.onShutdown('server', async () => {
      order.push('server');
    });
    expect(lifecycle.isStopping).toBe(false);
    const first = lifecycle.shutdown('test');
    const second = lifecycle.shutdown('again');
    expect(second).toBe(first);
    await first;
    expect(order).toEqual(['server', 'consumer']);
    expect(lifecycle.isStopping).toBe(true);
  });

  it('keeps going when a hook fails or hangs', async () => {
    const { logger, lines } = capture();
    const lifecycle = new Lifecycle(logger, 20);
    const order: string[] = [];
    lifecycle.onShutdown('last', () => {
      order.push('last');
    });
    lifecycle.onShutdown('hangs', () => new Promise<void>(() => {}));
    lifecycle.onShutdown('fails', () => {
      throw new Error('boom');
    });
    await lifecycle.shutdown('test');
    expect(order).toEqual(['last']);
    expect(lines.some((line) => line.msg === 'shutdown hook failed' && line.hook === 'fails')).toBe(true);
    expect(lines.some((line) => line.msg === 'shutdown hook timed out' && line.hook === 'hangs')).toBe(true);
  });

  it('stops on SIGTERM and exits 0, and a second signal exits at once', async () => {
    const { logger } = capture();
    const lifecycle = new Lifecycle(logger);
    const codes: number[] = [];
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    lifecycle.onShutdown('slow', () => released);
    const exited = new Promise<void>((resolve) => {
      lifecycle.installSignalHandlers((code) => {
        codes.push(code);
        if (code === 0) resolve();
      });
    });
    process.emit('SIGTERM', 'SIGTERM');
    process.emit('SIGINT', 'SIGINT');
    expect(codes).toEqual([130]);
    release();
    await exited;
    expect(codes).toEqual([130, 0]);
    process.removeAllListeners('SIGTERM');
    process.removeAllListeners('SIGINT');
  });
});

describe('Lifecycle under a supervisor', () => {
  const stage = fileURLToPath(new URL('../test/fixtures/supervised-stage.ts', import.meta.url));
  const run = (supervised: boolean) => {
    const child = fork(stage, [], {
      execArgv: ['--import', 'tsx'],
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      env: { ...process.env, [SUPERVISED_ENV]: supervised ? '1' : '' },
    });
    let output = '';
    child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const ready = new Promise<void>((resolve) => child.once('message', () => resolve()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    return { child, ready, exited, output: () => output };
  };

  it("stops cleanly when the supervisor's channel closes (the supervisor died)", async () => {
    const { child, ready, exited, output } = run(true);
    await ready;
    child.disconnect();
    expect(await exited).toBe(0);
    expect(output()).toContain('"reason":"supervisor gone"');
    expect(output()).toContain('"msg":"stopped"');
  }, 20_000);

  it('stops, and exits, when the supervisor is killed and its stdout pipe is gone', async () => {
    const parent = fork(fileURLToPath(new URL('../test/fixtures/dying-supervisor.mjs', import.meta.url)), [stage], {
      stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
    });
    let printed = '';
    parent.stdout!.on('data', (chunk: Buffer) => (printed += chunk.toString()));
    await new Promise((resolve) => parent.once('exit', resolve));
    const pid = Number(printed.trim());
    expect(pid).toBeGreaterThan(0);
    const alive = () => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    };
    try {
      await vi.waitFor(() => expect(alive()).toBe(false), { timeout: 15_000, interval: 50 });
    } finally {
      if (alive()) process.kill(pid, 'SIGKILL');
    }
  }, 30_000);

  it("leaves another parent's channel alone", async () => {
    const { child, ready, exited, output } = run(false);
    await ready;
    child.disconnect();
    await vi.waitFor(() => expect(output()).toContain('channel closed'), { timeout: 10_000, interval: 20 });
    // The channel was not its supervisor's: it runs on, and SIGTERM stops it as usual.
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(output()).toContain('"reason":"SIGTERM"');
    expect(output()).not.toContain('supervisor gone');
  }, 20_000);
});

describe('logger', () => {
  it('redacts secrets wherever they appear in a log object', () => {
    const { logger, lines } = capture();
    logger.info(
      { password: 'hunter2', user: { token: 'abc', apiKey: 'tfk_x' }, req: { headers: { authorization: 'Bearer xyz' } } },
      'login',
    );
    const text = JSON.stringify(lines);
    expect(text).not.toContain('hunter2');
    expect(text).not.toContain('Bearer xyz');
    expect(text).not.toContain('tfk_x');
    expect(lines[0]).toMatchObject({ stage: 'test', msg: 'login', password: '[redacted]' });
  });
});
