import { describe, expect, it } from 'vitest';
import { InFlight } from './in-flight.js';

function deferred<T>() {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((ok, fail) => {
    resolve = ok;
    reject = fail;
  });
  return { promise, resolve, reject };
}

describe('InFlight', () => {
  it('is settled at once with nothing tracked', async () => {
    const inFlight = new InFlight();
    await expect(inFlight.settled()).resolves.toBeUndefined();
    expect(inFlight.size).toBe(0);
  });

  it('settles only once every tracked piece of work has, fulfilled or rejected', async () => {
    const inFlight = new InFlight();
    const first = deferred<number>();
    const second = deferred<number>();
    expect(inFlight.track(first.promise)).toBe(first.promise);
    void inFlight.track(second.promise).catch(() => {});
    let settled = false;
    const waiting = inFlight.settled().then(() => (settled = true));
    first.resolve(1);
    await first.promise;
    expect(inFlight.size).toBe(1);
    expect(settled).toBe(false);
    second.reject(new Error('gone'));
    await waiting;
    expect(settled).toBe(true);
    expect(inFlight.size).toBe(0);
  });

  it('wakes every waiter, and counts work tracked after a drain afresh', async () => {
    const inFlight = new InFlight();
    const work = deferred<void>();
    inFlight.track(work.promise);
    const waiters = [inFlight.settled(), inFlight.settled()];
    work.resolve();
    await Promise.all(waiters);
    const more = deferred<void>();
    inFlight.track(more.promise);
    expect(inFlight.size).toBe(1);
    let settled = false;
    const waiting = inFlight.settled().then(() => (settled = true));
    await Promise.resolve();
    expect(settled).toBe(false);
    more.resolve();
    await waiting;
    expect(settled).toBe(true);
  });
});
