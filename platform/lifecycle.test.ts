import { describe, expect, it } from 'vitest';
import { Writable } from 'node:stream';
import { createLogger } from './logger.js';
import { Lifecycle } from './lifecycle.js';

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

describe('logger', () => {
  it('redacts secrets wherever they appear in a log object', () => {
    const { logger, lines } = capture();
    logger.info({ password: 'hunter2', user: { token: 'abc', apiKey: 'tfk_x' }, req: { headers: { authorization: 'Bearer xyz' } } }, 'login');
    const text = JSON.stringify(lines);
    expect(text).not.toContain('hunter2');
    expect(text).not.toContain('Bearer xyz');
    expect(text).not.toContain('tfk_x');
    expect(lines[0]).toMatchObject({ stage: 'test', msg: 'login', password: '[redacted]' });
  });
});
