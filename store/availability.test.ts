import { describe, expect, it, vi } from 'vitest';
import { createLogger } from '../platform/logger.js';
import { DatabaseOutage, isDatabaseUnavailable } from './availability.js';

const withCode = (message: string, code: string) => Object.assign(new Error(message), { code });

describe('isDatabaseUnavailable', () => {
  it('recognises a server that is down, restarting or gone from under a connection', () => {
    expect(isDatabaseUnavailable(new Error('Connection terminated unexpectedly'))).toBe(true);
    expect(isDatabaseUnavailable(withCode('connect ECONNREFUSED 127.0.0.1:5432', 'ECONNREFUSED'))).toBe(true);
    expect(isDatabaseUnavailable(withCode('the database system is starting up', '57P03'))).toBe(true);
    expect(isDatabaseUnavailable(withCode('terminating connection due to administrator command', '57P01'))).toBe(true);
    expect(isDatabaseUnavailable(withCode('connection failure', '08006'))).toBe(true);
    expect(isDatabaseUnavailable(new AggregateError([withCode('refused', 'ECONNREFUSED')], 'all failed'))).toBe(true);
    expect(isDatabaseUnavailable(new Error('timeout', { cause: new Error('Connection terminated due to connection timeout') }))).toBe(true);
  });

  it('leaves statement errors and bugs to the caller', () => {
    expect(isDatabaseUnavailable(withCode('duplicate key value violates unique constraint', '23505'))).toBe(false);
    expect(isDatabaseUnavailable(withCode('relation "x" does not exist', '42P01'))).toBe(false);
    expect(isDatabaseUnavailable(new TypeError('x is undefined'))).toBe(false);
    expect(isDatabaseUnavailable('Connection terminated')).toBe(false);
    expect(isDatabaseUnavailable(new AggregateError([new Error('bad')], 'all failed'))).toBe(false);
  });
});

describe('DatabaseOutage', () => {
  it('logs WARN once per outage, reports it to /ready, and announces the recovery once', () => {
    const logger = createLogger('availability-test', { level: 'silent' });
    const warn = vi.spyOn(logger, 'warn');
    const info = vi.spyOn(logger, 'info');
    const onRecovered = vi.fn();
    let now = 1000;
    const outage = new DatabaseOutage(logger, { onRecovered, now: () => now });
    expect(outage.check()).toEqual({ down: false });
    outage.succeeded(outage.begin());
    expect(onRecovered).not.toHaveBeenCalled();
    outage.failed(new Error('Connection terminated unexpectedly'));
    now = 4000;
    outage.failed(withCode('connect ECONNREFUSED', 'ECONNREFUSED'));
    expect(warn).toHaveBeenCalledTimes(1);
    expect(outage.down).toBe(true);
    expect(() => outage.check()).toThrow('PostgreSQL unreachable for 3 s: connect ECONNREFUSED');
    outage.succeeded(outage.begin());
    outage.succeeded(outage.begin());
    expect(outage.down).toBe(false);
    expect(info).toHaveBeenCalledTimes(1);
    expect(info.mock.calls[0]![0]).toEqual({ downMs: 3000 });
    expect(onRecovered).toHaveBeenCalledTimes(1);
    outage.failed('down again');
    expect(warn).toHaveBeenCalledTimes(2);
    expect(() => outage.check()).toThrow('down again');
  });

  // The server-restart test's second WARN (issue 20): a batch that was under way when the server died (its COMMIT's
  // answer read after the crash, then its post-commit read's failure swallowed) reported a success between two
  // failures of the same outage, which ended it and began a new one.
  it('is not ended by work that began before it: one WARN and one INFO for one outage', () => {
    const logger = createLogger('availability-test', { level: 'silent' });
    const warn = vi.spyOn(logger, 'warn');
    const info = vi.spyOn(logger, 'info');
    const outage = new DatabaseOutage(logger);
    const underWay = outage.begin();
    const other = outage.begin();
    outage.failed(new Error('Connection terminated unexpectedly'));
    outage.succeeded(underWay);
    expect(outage.down).toBe(true);
    outage.failed(withCode('connect ECONNREFUSED', 'ECONNREFUSED'));
    expect(warn).toHaveBeenCalledTimes(1);
    // A retry begun during the outage ends it; the one under way before it ends nothing, now or later.
    outage.succeeded(outage.begin());
    expect(outage.down).toBe(false);
    expect(info).toHaveBeenCalledTimes(1);
    outage.failed('down again');
    outage.succeeded(other);
    expect(outage.down).toBe(true);
    expect(warn).toHaveBeenCalledTimes(2);
  });
});
