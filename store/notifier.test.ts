import type { Redis } from 'ioredis';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createLogger } from '../platform/logger.js';
import { subscribeToNotices } from './notifier.js';

const logger = createLogger('notifier-test', { level: 'silent' });

/** The one call the helper makes on its connection, failing the first `failures` times. */
function subscriberFailing(failures: number): { subscriber: Redis; calls: string[] } {
  const calls: string[] = [];
  const subscriber = {
    subscribe: (channel: string) => {
      calls.push(channel);
      return calls.length <= failures ? Promise.reject(new Error('Command timed out')) : Promise.resolve(1);
    },
  } as unknown as Redis;
  return { subscriber, calls };
}

describe('subscribeToNotices', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('retries a failed SUBSCRIBE every retry period until it holds, then stops trying', async () => {
    const { subscriber, calls } = subscriberFailing(2);
    const cancel = subscribeToNotices(subscriber, 'tickflow:notices', logger, 1000);
    await vi.advanceTimersByTimeAsync(999);
    expect(calls).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(calls).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(calls).toEqual(['tickflow:notices', 'tickflow:notices', 'tickflow:notices']);
    cancel();
  });

  it('sends no retry once cancelled', async () => {
    const { subscriber, calls } = subscriberFailing(Infinity);
    const cancel = subscribeToNotices(subscriber, 'tickflow:notices', logger, 1000);
    await vi.advanceTimersByTimeAsync(1000);
    expect(calls).toHaveLength(2);
    cancel();
    await vi.advanceTimersByTimeAsync(10_000);
    expect(calls).toHaveLength(2);
  });
});
