import type { Socket } from 'node:net';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger, loadPlatformConfig } from '../platform/index.js';
import { patternEvents } from '../test/record-fixtures.js';
import { migrate, redisKeys, startProjector, type ProjectorHandle } from '../projections/index.js';
import { produce } from '../projections/testing.js';
import { createTestTopics, type TestKafka } from '../test/kafka.js';
import { createTestDatabase, uniqueRedisPrefix, type TestDatabase } from '../test/postgres.js';
import { recordFigure } from './figures.js';
import { waitFor } from './pipeline.js';

/**
 * Regression: Redis restarted without persistence (as in CI: --save "" --appendonly no) lost the read model and
 * its progress hash; the Redis projection carried on from its in-memory position, so every event before the
 * restart was missing from Redis for good. It now notices the vanished progress and rebuilds from the log start.
 * Losing the data is simulated by deleting the pipeline's keys (the full server restart is in server-faults).
 */
describe('the Redis read model after Redis lost its data', () => {
  let kafka: TestKafka;
  let database: TestDatabase;
  let projector: ProjectorHandle;
  let redis: Redis;
  const prefix = uniqueRedisPrefix('chaos-redis-loss');
  const keys = redisKeys(prefix);

  beforeAll(async () => {
    [kafka, database] = await Promise.all([
      createTestTopics('chaos-redis-loss', ['patterns', 'minuteAggregates', 'dailyAggregates', 'symbols', 'fundamentals']),
      createTestDatabase('chaos_redis_loss'),
    ]);
    await migrate(database.url, { timescale: 'off', log: () => {} });
    redis = new Redis(loadPlatformConfig().REDIS_URL);
    projector = await startProjector({
      databaseUrl: database.url,
      brokers: kafka.brokers,
      registryUrl: kafka.registryUrl,
      topicPrefix: kafka.prefix,
      redisUrl: loadPlatformConfig().REDIS_URL,
      redisKeyPrefix: prefix,
      groupPrefix: `${kafka.prefix}projections.`,
      logger: createLogger('chaos-redis-loss', { level: 'silent' }),
    });
  });

  afterAll(async () => {
    await projector?.stop();
    const left = await redis.keys(`${prefix}*`);
    if (left.length > 0) await redis.del(...left);
    redis.disconnect();
    await database?.drop();
    await kafka?.cleanup();
  });

  const heldEventIds = async (symbols: readonly string[]) => {
    const ids = new Set<string>();
    for (const symbol of symbols)
      for (const member of await redis.zrange(keys.symbolEvents(symbol), '0', '-1'))
        ids.add((JSON.parse(member) as { eventId: string }).eventId);
    return ids;
  };

  it('rebuilds every event from the log once its keys are gone', async () => {
    // 40 + 80 events over 12 symbols: each symbol's list stays under the 50-event cap, so all of them must be there.
    // The second wave touches every symbol (so every partition): an idle partition is only rebuilt once it gets
    // traffic again (see RELIABILITY.md).
    const first = patternEvents(40, 31);
    const second = patternEvents(80, 32);
    const secondSymbols = new Set(second.map((event) => event.symbol));
    expect(first.every((event) => secondSymbols.has(event.symbol))).toBe(true);
    const symbols = [...new Set([...first, ...second].map((event) => event.symbol))];
    await produce(
      kafka.kafka,
      kafka.codec,
      kafka.prefix,
      'patterns',
      first.map((value) => ({ key: value.symbol, value })),
    );
    await waitFor('the first events in Redis', async () => (await heldEventIds(symbols)).size === first.length, 120_000);
    const lost = await redis.keys(`${prefix}*`);
    await redis.del(...lost);
    await produce(
      kafka.kafka,
      kafka.codec,
      kafka.prefix,
      'patterns',
      second.map((value) => ({ key: value.symbol, value })),
    );
    const expected = new Set([...first, ...second].map((event) => event.eventId));
    await waitFor(
      'every event back in Redis',
      async () => {
        const held = await heldEventIds(symbols);
        return [...expected].every((id) => held.has(id));
      },
      120_000,
    );
    const held = await heldEventIds(symbols);
    expect([...held].filter((id) => !expected.has(id))).toEqual([]);
    recordFigure({
      suite: 'faults',
      case: 'Redis lost its data (keys deleted) under a running projector',
      keysDeleted: lost.length,
      eventsExpected: expected.size,
      eventsInRedis: held.size,
      outcome: 'pass',
    });
  });

  // Regression: a partition that got no new message after Redis came back empty was never rebuilt. Redis coming
  // back is simulated without touching the shared server: delete the keys, then drop the projector's connections
  // (CLIENT KILL by their local address); nothing new is produced.
  it('rebuilds partitions without new messages once the connection to Redis comes back', async () => {
    const third = patternEvents(30, 33);
    await produce(
      kafka.kafka,
      kafka.codec,
      kafka.prefix,
      'patterns',
      third.map((value) => ({ key: value.symbol, value })),
    );
    const symbols = [...new Set(third.map((event) => event.symbol))];
    const expected = new Set(third.map((event) => event.eventId));
    await waitFor(
      'the third wave in Redis',
      async () => {
        const held = await heldEventIds(symbols);
        return [...expected].every((id) => held.has(id));
      },
      120_000,
    );
    const lost = await redis.keys(`${prefix}*`);
    await redis.del(...lost);
    const mine = (redis as unknown as { stream?: Socket }).stream?.localPort;
    const handles = (process as unknown as { _getActiveHandles(): unknown[] })._getActiveHandles();
    const projectorPorts = handles
      .filter((handle): handle is Socket => typeof handle === 'object' && handle !== null && (handle as Socket).remotePort === 6379)
      .map((socket) => socket.localPort)
      .filter((port): port is number => port !== undefined && port !== mine);
    expect(projectorPorts.length).toBeGreaterThan(0);
    for (const port of projectorPorts) await redis.client('KILL', 'ADDR', `127.0.0.1:${port}`).catch(() => 0);
    await waitFor(
      'every event back in Redis without new traffic',
      async () => {
        const held = await heldEventIds(symbols);
        return [...expected].every((id) => held.has(id));
      },
      120_000,
    );
    recordFigure({
      suite: 'faults',
      case: 'Redis lost its data and the connection dropped; no new events',
      keysDeleted: lost.length,
      connectionsKilled: projectorPorts.length,
      eventsExpected: expected.size,
      outcome: 'pass',
    });
  });
});
