import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { Redis } from 'ioredis';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { withOpsServer } from '../test/ops.js';
import { createLogger } from '../platform/logger.js';
import { topicName } from '../platform/topics.js';
import { createTopicsRetrying, type TestKafka } from '../test/kafka.js';
import { createTestDatabase, type TestDatabase } from '../test/postgres.js';
import { patternEvents } from '../test/record-fixtures.js';
import { migrate } from '../store/migrate.js';
import { startProjector, type ProjectorHandle } from './projector.js';
import { redisKeys } from '../contracts/redis-keys.js';
import { endOffsets, offsetsReached, produce } from './testing.js';

const logger = createLogger('projections-redis-outage-test', { level: 'silent' });

async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  server.close();
  await once(server, 'close');
  return port;
}

/**
 * The shared Redis of the stack cannot be stopped (other tests use it), so this test runs its own
 * redis-server on a free port: absent at first, started later.
 */
describe('with Redis down', () => {
  let topics: TestKafka;
  let db: TestDatabase;
  let pool: pg.Pool;
  let port: number;
  let server: ChildProcess | undefined;
  let projector: (ProjectorHandle & { readonly opsPort: number }) | undefined;
  const keys = redisKeys('outage:');
  const events = patternEvents(200, 21);

  beforeAll(async () => {
    [topics, db, port] = await Promise.all([
      createTopicsRetrying('outage', ['patterns', 'minuteAggregates', 'dailyAggregates']),
      createTestDatabase('outage'),
      freePort(),
    ]);
    await migrate(db.url);
    pool = new pg.Pool({ connectionString: db.url, max: 1 });
  });

  afterAll(async () => {
    await projector?.stop();
    await pool?.end();
    if (server && server.exitCode === null) {
      server.kill('SIGTERM');
      await once(server, 'exit');
    }
    await Promise.all([topics?.cleanup(), db?.drop()]);
  });

  it('keeps the database current, then catches Redis up from its own offsets', async () => {
    await produce(
      topics.kafka,
      topics.codec,
      topics.prefix,
      'patterns',
      events.map((event) => ({ key: event.symbol, value: event })),
    );
    // With the ops server projections/main.ts serves.
    projector = await withOpsServer(
      await startProjector({
        databaseUrl: db.url,
        brokers: topics.brokers,
        registryUrl: topics.registryUrl,
        topicPrefix: topics.prefix,
        redisUrl: `redis://127.0.0.1:${port}/0`,
        redisKeyPrefix: 'outage:',
        projections: ['patterns', 'redis'],
        logger,
      }),
    );
    const ends = await endOffsets(topics.kafka, [topicName('patterns', topics.prefix)]);
    await vi.waitFor(async () => expect(await offsetsReached(pool, 'patterns', ends)).toBe(true), { timeout: 60_000, interval: 250 });
    expect((await pool.query('SELECT count(*)::int AS n FROM pattern_events')).rows[0].n).toBe(events.length);
    const ready = await (await fetch(`http://127.0.0.1:${projector.opsPort}/ready`)).json();
    expect(ready.status).toBe('degraded');
    // The committed batches' notices could not reach Redis: they wait in the outbox.
    expect((await pool.query('SELECT count(*)::int AS n FROM projection_notices')).rows[0].n).toBeGreaterThan(0);

    server = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
      stdio: 'ignore',
    });
    const redis = new Redis(port, '127.0.0.1', { retryStrategy: () => 100, maxRetriesPerRequest: 1 });
    redis.on('error', () => {});
    try {
      await vi.waitFor(async () => expect(await redis.ping().catch(() => 'down')).toBe('PONG'), { timeout: 30_000, interval: 100 });
      const active = new Map<string, boolean>();
      for (const event of events) active.set(event.patternId, event.kind !== 'EXPIRED');
      const activeCount = [...active.values()].filter(Boolean).length;
      await vi.waitFor(async () => expect(await redis.zcard(keys.scan({ kind: 'all' }, 'detected_at'))).toBe(activeCount), {
        timeout: 90_000,
        interval: 250,
      });
      const offsets = await redis.hgetall(keys.offsets('redis'));
      const stored = Object.values(offsets).reduce((sum, value) => sum + Number(value), 0);
      expect(stored).toBe([...ends.values()].flatMap((partitions) => [...partitions.values()]).reduce((sum, high) => sum + high, 0));
      // The database's notices, recorded while Redis was down, are announced once it is back (no new batch needed).
      await vi.waitFor(async () => expect((await pool.query('SELECT count(*)::int AS n FROM projection_notices')).rows[0].n).toBe(0), {
        timeout: 30_000,
        interval: 200,
      });
      expect(Number(await redis.get(keys.projectionVersion('db.patterns')))).toBeGreaterThan(0);
    } finally {
      redis.disconnect();
    }
  });
});
