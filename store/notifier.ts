import type { Redis } from 'ioredis';
import type { Logger } from '../platform/logger.js';
import { Counter, type Registry } from '../platform/metrics.js';
import { batchScopes, type PatternChange } from '../contracts/pattern-scopes.js';
import type { ProjectionNotice, RedisKeys } from '../contracts/redis-keys.js';

/** What the notifier counts: notices that could not reach Redis (part of the projector's metrics). */
export interface NoticeMetrics {
  readonly noticeFailures: Counter<'projection'>;
}

export function createNoticeMetrics(registry: Registry): NoticeMetrics {
  return {
    noticeFailures: new Counter({
      name: 'tickflow_projection_notice_failures_total',
      help: 'Version bumps / notices that could not reach Redis',
      labelNames: ['projection'],
      registers: [registry],
    }),
  };
}

/**
 * Announces that a projection advanced: bumps the version counters (per symbol, patterns, the projection's
 * own) and publishes a ProjectionNotice. Best effort: the tables are the truth, so a Redis outage is counted
 * and logged, never allowed to stop the database projection.
 */
export class Notifier {
  constructor(
    private readonly redis: Redis,
    private readonly keys: RedisKeys,
    private readonly logger: Logger,
    private readonly metrics: NoticeMetrics,
  ) {}

  /**
   * `changes` (optional): the new state of each pattern the batch wrote. With it, only the pattern scopes those
   * states fall in are bumped, so cached broad scans they cannot enter stay valid; without it (or when
   * `patternsChanged` is false), the unscoped patterns version is bumped and every broad scan is invalidated.
   */
  announce(
    projection: string,
    symbols: readonly string[],
    patternsChanged: boolean,
    changes?: readonly PatternChange[],
  ): Promise<ProjectionNotice | undefined> {
    return this.announceScopes(
      projection,
      symbols,
      patternsChanged,
      patternsChanged && changes !== undefined ? batchScopes(changes) : undefined,
    );
  }

  /** As `announce`, with the pattern scopes already computed (the outbox stores them); `undefined`: unscoped. */
  async announceScopes(
    projection: string,
    symbols: readonly string[],
    patternsChanged: boolean,
    patternScopes: readonly string[] | undefined,
  ): Promise<ProjectionNotice | undefined> {
    try {
      const scopes = patternsChanged ? patternScopes : undefined;
      const multi = this.redis.multi();
      for (const symbol of symbols) multi.incr(this.keys.symbolVersion(symbol));
      if (patternsChanged) multi.incr(this.keys.patternsVersion());
      if (patternsChanged && scopes === undefined) multi.incr(this.keys.patternsUnscopedVersion());
      for (const scope of scopes ?? []) multi.incr(this.keys.patternScopeVersion(scope));
      multi.incr(this.keys.projectionVersion(projection));
      const results = await multi.exec();
      const last = results?.[results.length - 1];
      if (!last || last[0]) throw last?.[0] ?? new Error('version bump was discarded');
      const notice: ProjectionNotice = {
        projection,
        version: Number(last[1]),
        symbols,
        patternsChanged,
        ...(scopes === undefined ? {} : { scopes }),
      };
      await this.redis.publish(this.keys.channel(), JSON.stringify(notice));
      return notice;
    } catch (error) {
      this.metrics.noticeFailures.inc({ projection });
      this.logger.warn({ err: error, projection }, 'could not announce the projection; caches may serve stale data until the next notice');
      return undefined;
    }
  }
}

/**
 * Subscribes a dedicated connection to the projection-notice channel and keeps trying until it holds. ioredis
 * resubscribes after a reconnect only what was once subscribed, so a SUBSCRIBE that failed (Redis away at start,
 * a command timeout) must be retried here, or its listener would never hear a notice. Returns the cancel.
 */
export function subscribeToNotices(subscriber: Redis, channel: string, logger: Logger, retryMs = 1000): () => void {
  let cancelled = false;
  let retry: NodeJS.Timeout | undefined;
  const subscribe = (): void => {
    subscriber.subscribe(channel).catch((error: unknown) => {
      if (cancelled) return;
      logger.warn({ err: error, retryMs }, 'could not subscribe to projection notices; retrying');
      retry = setTimeout(subscribe, retryMs);
    });
  };
  subscribe();
  return () => {
    cancelled = true;
    clearTimeout(retry);
  };
}
