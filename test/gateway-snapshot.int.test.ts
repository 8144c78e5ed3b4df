import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { topicName } from '../platform/index.js';
import { REDIS_PROJECTION, redisKeys, startProjector, type ProjectorHandle } from '../projections/index.js';
import { minuteBars, patternEvents } from './record-fixtures.js';
import { patternState } from '../contracts/redis-model.js';
import { uniqueRedisPrefix } from './postgres.js';
import type { ServerFrame } from '../gateway/client/protocol.js';
import { decodeCursor } from '../gateway/cursor.js';
import { createGatewayTestEnv, RawClient, type GatewayTestEnv, type TestUser } from '../gateway/testing.js';

type Frame<T extends ServerFrame['type']> = Extract<ServerFrame, { type: T }>;

let env: GatewayTestEnv;
let user: TestUser;
let projector: ProjectorHandle;
let redis: Redis;
const prefix = uniqueRedisPrefix('gw-snapshot');
const PATTERNS = patternEvents(300, 17);
const BARS = minuteBars(['AAPL', 'MSFT'], 4);

beforeAll(async () => {
  env = await createGatewayTestEnv('gw-snapshot', ['patterns', 'minuteAggregates', 'dailyAggregates']);
  user = await env.createUser();
  redis = new Redis('redis://127.0.0.1:6379/0');
  await env.produce(
    'patterns',
    PATTERNS.map((value) => ({ key: value.symbol, value })),
  );
  await env.produce(
    'bars',
    BARS.map((value) => ({ key: value.symbol, value })),
  );
  projector = await startProjector({
    databaseUrl: env.db.url,
    brokers: env.kafka.brokers,
    registryUrl: env.kafka.registryUrl,
    topicPrefix: env.kafka.prefix,
    redisUrl: 'redis://127.0.0.1:6379/0',
    redisKeyPrefix: prefix,
    projections: ['redis'],
    logger: env.logger,
  });
  // Wait until the read model has projected every pattern record.
  const offsetsKey = redisKeys(prefix).offsets(REDIS_PROJECTION);
  const topic = topicName('patterns', env.kafka.prefix);
  const deadline = Date.now() + 60_000;
  for (;;) {
    const stored = await redis.hgetall(offsetsKey);
    const projected = Object.entries(stored)
      .filter(([field]) => field.startsWith(`${topic}:`))
      .reduce((sum, [, value]) => sum + Number(value), 0);
    if (projected >= PATTERNS.length) break;
    if (Date.now() > deadline) throw new Error(`read model reached ${projected} of ${PATTERNS.length}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
});

afterAll(async () => {
  await projector?.stop();
  const keys = await redis?.keys(`${prefix}*`);
  if (keys?.length) await redis.del(...keys);
  redis?.disconnect();
  await env?.cleanup();
});

describe('snapshots from the Redis read model', () => {
  it("sends the active patterns at the read model's offsets, then continues live from exactly there", async () => {
    const gateway = await env.start({ redisUrl: 'redis://127.0.0.1:6379/0', redisKeyPrefix: prefix });
    const client = await RawClient.connect(gateway.url, { token: user.token });
    client.send({
      type: 'subscribe',
      id: 'snap',
      stream: 'patterns',
      from: 'snapshot',
      filter: { symbols: ['AAPL', 'MSFT', 'NVDA'] },
      credits: 1000,
    });
    const subscribed = await client.next<Frame<'subscribed'>>((frame) => frame.type === 'subscribed');
    const snapshot = await client.next<Frame<'snapshot'>>((frame) => frame.type === 'snapshot');
    expect(snapshot.source).toBe('redis');
    const last = new Map<string, (typeof PATTERNS)[number]>();
    for (const value of PATTERNS) last.set(value.patternId, value);
    const active = [...last.values()].filter((value) => value.kind !== 'EXPIRED' && ['AAPL', 'MSFT', 'NVDA'].includes(value.symbol));
    expect(snapshot.items.map((item) => item.data.patternId).sort()).toEqual(active.map((value) => value.patternId).sort());
    // Items are states in their own shape (asyncapi.yaml SnapshotItem/PatternState), not log records.
    for (const item of snapshot.items)
      expect(item).toEqual({
        key: item.data.symbol,
        ts: item.data.detectedAtMs,
        data: patternState(last.get(item.data.patternId as string)!),
      });
    // The cursor is the read model's: every record is already in the snapshot, nothing is replayed.
    expect(Object.values(decodeCursor(snapshot.cursor).next).reduce((sum, offset) => sum + offset, 0)).toBe(PATTERNS.length);
    expect(subscribed.backlog).toBe(0);
    const more = patternEvents(20, 18).map((value) => ({ ...value, symbol: 'AAPL' }));
    await env.produce(
      'patterns',
      more.map((value) => ({ key: value.symbol, value })),
    );
    await client.until(() => client.events('snap').length === more.length);
    expect(client.events('snap').map((event) => event.data.eventId)).toEqual(more.map((value) => value.eventId));
  });

  it('sends bar snapshots for the named symbols', async () => {
    const gateway = await env.start({ redisUrl: 'redis://127.0.0.1:6379/0', redisKeyPrefix: prefix });
    const client = await RawClient.connect(gateway.url, { token: user.token });
    const deadline = Date.now() + 30_000;
    // The read model projects bars on their own topic; wait until its snapshot hashes are there.
    while ((await redis.exists(redisKeys(prefix).snapshot('MSFT'))) === 0 && Date.now() < deadline)
      await new Promise((resolve) => setTimeout(resolve, 100));
    client.send({ type: 'subscribe', id: 'bars', stream: 'bars', from: 'snapshot', filter: { symbols: ['AAPL', 'MSFT', 'ZZZZ'] } });
    const snapshot = await client.next<Frame<'snapshot'>>((frame) => frame.type === 'snapshot');
    expect(snapshot.source).toBe('redis');
    expect(snapshot.items.map((item) => item.key).sort()).toEqual(['AAPL', 'MSFT']);
    const lastAapl = BARS.filter((bar) => bar.symbol === 'AAPL').at(-1)!;
    expect(snapshot.items.find((item) => item.key === 'AAPL')).toEqual({
      key: 'AAPL',
      ts: lastAapl.windowStartMs,
      data: expect.objectContaining({ symbol: 'AAPL', close: lastAapl.close, barStartMs: lastAapl.windowStartMs }),
    });
    // Without symbols there is no key list to read: the in-memory snapshot answers.
    client.send({ type: 'subscribe', id: 'all-bars', stream: 'bars', from: 'snapshot' });
    expect(await client.next((frame) => frame.type === 'snapshot' && frame.id === 'all-bars')).toMatchObject({ source: 'kafka' });
  });
});
