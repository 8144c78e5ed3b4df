import type { Redis } from 'ioredis';
import type { Logger } from '../platform/index.js';
import { parseProjectionNotice, type ProjectionNotice } from '../contracts/redis-keys.js';
import { subscribeToNotices } from '../store/notifier.js';

export interface ProjectionNotices {
  /** Adds a listener of every notice from now on (the cache's refresh-ahead). */
  listen(listener: (notice: ProjectionNotice) => void): void;
  /** Stops subscribing (the connection stays open until `close`). */
  unsubscribe(): void;
  close(): Promise<unknown>;
}

/**
 * The projections' notices, on a subscriber connection of their own (a subscribed Redis connection can run no other
 * command). Its SUBSCRIBE may wait for the connection (no command timeout, no pipelining) and is retried until it
 * holds: without it, refresh-ahead never hears of a change (answers stay exact, through the version reads).
 */
export function projectionNotices(redis: Redis, channel: string, logger: Logger): ProjectionNotices {
  const subscriber = redis.duplicate({ enableOfflineQueue: true, commandTimeout: undefined, enableAutoPipelining: false });
  subscriber.on('error', (error) => logger.debug({ err: error }, 'redis subscriber error'));
  const listeners: ((notice: ProjectionNotice) => void)[] = [];
  subscriber.on('message', (_channel: string, message: string) => {
    try {
      const notice = parseProjectionNotice(message);
      for (const listener of listeners) listener(notice);
    } catch (error) {
      logger.warn({ err: error }, 'ignored a malformed projection notice');
    }
  });
  const unsubscribe = subscribeToNotices(subscriber, channel, logger);
  return {
    listen: (listener) => listeners.push(listener),
    unsubscribe,
    close: () => subscriber.quit(),
  };
}
