import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyTopics, overCap, readTrackedStructures, topicName } from '../platform/index.js';
import { patternEvents } from '../test/record-fixtures.js';
import { DISCONNECTS, type ServerFrame } from './client/protocol.js';
import type { GatewayHandle } from './index.js';
import { KafkaLogSource, OffsetOutOfRangeError, avroDecoder } from './kafka-log.js';
import { createGatewayTestEnv, RawClient, type GatewayTestEnv, type TestUser } from './testing.js';

type Frame<T extends ServerFrame['type']> = Extract<ServerFrame, { type: T }>;

let env: GatewayTestEnv;
let user: TestUser;
const clients: RawClient[] = [];
const EVENTS = patternEvents(16_000, 3);

async function metric(gateway: GatewayHandle, name: string): Promise<number> {
  const text = await gateway.registry.metrics();
  return text
    .split('\n')
    .filter((line) => line.startsWith(name))
    .reduce((sum, line) => sum + Number(line.split(' ').at(-1)), 0);
}

beforeAll(async () => {
  env = await createGatewayTestEnv('gw-limits');
  user = await env.createUser();
  await env.produce(
    'patterns',
    EVENTS.map((value) => ({ key: value.symbol, value })),
  );
});

afterAll(async () => {
  for (const client of clients) client.close();
  await env?.cleanup();
});

async function connect(gateway: GatewayHandle, auth = true): Promise<RawClient> {
  const client = await RawClient.connect(gateway.url, auth ? { token: user.token } : undefined);
  clients.push(client);
  return client;
}

describe('connection limits', () => {
  it('closes unauthenticated and idle connections, and sends heartbeats with cursor and lag', async () => {
    const gateway = await env.start({
      config: { GATEWAY_AUTH_TIMEOUT_MS: 300, GATEWAY_IDLE_TIMEOUT_MS: 1_500, GATEWAY_HEARTBEAT_MS: 200 },
    });
    const anonymous = await connect(gateway, false);
    const idle = await connect(gateway);
    const busy = await connect(gateway);
    busy.send({ type: 'subscribe', id: 'h', stream: 'patterns', credits: 0, from: 'earliest' });
    const subscribed = await busy.next<Frame<'subscribed'>>((frame) => frame.type === 'subscribed');
    const heartbeat = await busy.next<Frame<'heartbeat'>>((frame) => frame.type === 'heartbeat');
    expect(heartbeat.subscriptions.h).toEqual({ cursor: subscribed.cursor, credits: 0, lagRecords: EVENTS.length });
    expect((await anonymous.waitClosed()).code).toBe(4001);
    expect((await idle.waitClosed()).code).toBe(4000);
    expect(busy.closed).toBeUndefined();
    expect(await metric(gateway, 'tickflow_gateway_closes_total')).toBe(2);
  });

  it('never drops a client that stops reading, and keeps its send buffer bounded', async () => {
    const maxBuffered = 16 * 1024;
    const gateway = await env.start({ config: { GATEWAY_MAX_BUFFERED_BYTES: maxBuffered, GATEWAY_MAX_BATCH: 100 } });
    const client = await connect(gateway);
    client.send({ type: 'subscribe', id: 'slow', stream: 'patterns', credits: 100_000, from: 'earliest' });
    await client.next((frame) => frame.type === 'subscribed');
    client.pauseReading();
    // Fill the kernel's socket buffers, then the gateway's: it must stop sending.
    await waitUntil(async () => (await metric(gateway, 'tickflow_gateway_backpressure_pauses_total')) > 0);
    const frameBytes = 100 * 1_200; // GATEWAY_MAX_BATCH events of at most ~1.2 kB
    expect(gateway.server.sendBuffers().largest).toBeLessThanOrEqual(maxBuffered + frameBytes);
    const delivered = await metric(gateway, 'tickflow_gateway_events_delivered_total');
    expect(delivered).toBeLessThan(EVENTS.length);
    client.resumeReading();
    await client.until(() => client.events('slow').length === EVENTS.length, 60_000);
    const byPartition = new Map<number, number[]>();
    for (const event of client.events('slow')) byPartition.set(event.p, [...(byPartition.get(event.p) ?? []), event.o]);
    for (const offsets of byPartition.values()) expect(offsets).toEqual([...offsets.keys()]);
    expect(client.closed).toBeUndefined();
  });

  it('a client that subscribes with 5,000 symbols and never reads leaves memory within the documented caps', async () => {
    const maxBuffered = 16 * 1024;
    const gateway = await env.start({
      config: {
        GATEWAY_MAX_BUFFERED_BYTES: maxBuffered,
        GATEWAY_MAX_BATCH: 100,
        GATEWAY_RING_CAPACITY: 2_000,
        // 5,000 symbols inline need a large frame (a client would name a universe instead).
        GATEWAY_MAX_FRAME_BYTES: 128 * 1024,
      },
    });
    const client = await connect(gateway);
    // Every symbol of the fixture plus thousands of unknown ones, up to GATEWAY_MAX_SYMBOLS (5,000).
    const known = [...new Set(EVENTS.map((event) => event.symbol))];
    const symbols = [...known, ...Array.from({ length: 5_000 - known.length }, (_, index) => `NOSUCH${index}`)];
    client.send({ type: 'subscribe', id: 'wide', stream: 'patterns', credits: 100_000, from: 'earliest', filter: { symbols } });
    await client.next((frame) => frame.type === 'subscribed');
    client.pauseReading();
    await waitUntil(async () => (await metric(gateway, 'tickflow_gateway_backpressure_pauses_total')) > 0);
    expect(gateway.server.sendBuffers().largest).toBeLessThanOrEqual(maxBuffered + 100 * 1_200);
    const readings = readTrackedStructures(await gateway.registry.metrics());
    expect(readings.map((reading) => reading.structure)).toEqual(
      expect.arrayContaining(['gateway.rings.events', 'gateway.connections', 'gateway.interned.keys']),
    );
    expect(overCap(readings)).toEqual([]);
    // One symbol more than GATEWAY_MAX_SYMBOLS is refused with an error frame, not held.
    const other = await connect(gateway);
    other.send({ type: 'subscribe', id: 'wider', stream: 'patterns', filter: { symbols: [...symbols, 'ONEMORE'] } });
    expect(await other.next((frame) => frame.type === 'error')).toMatchObject({ type: 'error' });
    client.resumeReading();
  });

  it('closes a connection whose buffer stays full past the stall limit (4008)', async () => {
    const gateway = await env.start({ config: { GATEWAY_MAX_BUFFERED_BYTES: 16 * 1024, GATEWAY_STALL_TIMEOUT_MS: 500 } });
    const client = await connect(gateway);
    client.send({ type: 'subscribe', id: 'stuck', stream: 'patterns', credits: 100_000, from: 'earliest' });
    await client.next((frame) => frame.type === 'subscribed');
    client.pauseReading();
    await waitUntil(async () => (await metric(gateway, 'tickflow_gateway_closes_total')) >= 1, 30_000);
    client.resumeReading();
    expect((await client.waitClosed()).code).toBe(4008);
  });

  it('refuses a connection beyond GATEWAY_MAX_CONNECTIONS with 1013, counts it, and admits one once a place is free', async () => {
    const gateway = await env.start({ config: { GATEWAY_MAX_CONNECTIONS: 2 } });
    const held = [await connect(gateway), await connect(gateway, false)];
    const refused = Array.from({ length: 5 }, () => new RawClient(gateway.url));
    clients.push(...refused);
    for (const client of refused)
      expect(await client.waitClosed()).toEqual({ code: DISCONNECTS.full.code, reason: DISCONNECTS.full.reason });
    for (const client of refused) expect(client.frames).toEqual([]); // no welcome
    const closes = (await gateway.registry.getSingleMetric('tickflow_gateway_closes_total')!.get()).values;
    expect(closes.filter((value) => value.labels.reason === DISCONNECTS.full.name).map((value) => value.value)).toEqual([5]);
    const readings = readTrackedStructures(await gateway.registry.metrics());
    expect(readings.find((reading) => reading.structure === 'gateway.connections')).toEqual({
      structure: 'gateway.connections',
      entries: 2,
      cap: 2,
    });
    for (const client of held) expect(client.closed).toBeUndefined();

    held[1]!.close();
    await waitUntil(async () => gateway.server.connectionCount === 1);
    const admitted = await connect(gateway);
    expect(admitted.closed).toBeUndefined();
  });
});

async function waitUntil(condition: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('log changes', () => {
  it('reads Kafka directly: bounds, time look-ups, and an explicit error below the log start', async () => {
    const source = new KafkaLogSource(env.kafka.brokers, 'test-gw-log', avroDecoder(env.kafka.codec));
    try {
      const topic = topicName('patterns', env.kafka.prefix);
      const info = await source.describe(topic);
      expect(info.partitions).toEqual([0, 1, 2, 3, 4, 5]);
      const bounds = await source.bounds(topic);
      const busiest = [...bounds].sort((a, b) => b[1].high - a[1].high)[0]!;
      expect(await source.offsetsForTime(topic, Date.now() + 60_000)).toEqual(
        new Map([...bounds].map(([partition, { high }]) => [partition, high])),
      );
      const admin = env.kafka.kafka.admin();
      await admin.connect();
      await admin.fetchTopicMetadata({ topics: [topic] });
      await admin.deleteTopicRecords({ topic, partitions: [{ partition: busiest[0], offset: '10' }] });
      await admin.disconnect();
      const error = await source
        .read(info, new Map([[busiest[0], 2]]), { maxWaitMs: 0, maxBytesPerPartition: 65_536 })
        .catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(OffsetOutOfRangeError);
      expect((error as OffsetOutOfRangeError).bounds.logStart).toBe(10);
      const read = await source.read(info, new Map([[busiest[0], 10]]), { maxWaitMs: 0, maxBytesPerPartition: 65_536 });
      expect(read.get(busiest[0])!.events[0]!.offset).toBe(10);
      await expect(source.describe(`${topic}.missing`)).rejects.toThrow();
    } finally {
      await source.close();
    }
  });

  it('detects a recreated topic (new epoch) and tells subscribers their positions are void', async () => {
    const gateway = await env.start({ streams: ['patterns'], config: { GATEWAY_POLL_WAIT_MS: 50 } });
    const client = await connect(gateway);
    client.send({ type: 'subscribe', id: 'e', stream: 'patterns', credits: 100 });
    const subscribed = await client.next<Frame<'subscribed'>>((frame) => frame.type === 'subscribed');
    const topic = topicName('patterns', env.kafka.prefix);
    const admin = env.kafka.kafka.admin();
    await admin.connect();
    await admin.deleteTopics({ topics: [topic] });
    await waitUntil(async () => !(await admin.listTopics()).includes(topic));
    await applyTopics(admin, env.kafka.prefix, ['patterns']);
    await admin.disconnect();
    const answer = await client.next<Frame<'unrecoverable'>>((frame) => frame.type === 'unrecoverable', 60_000);
    expect(answer.reason).toBe('epoch');
    expect(answer.oldest).not.toBe(subscribed.cursor);
    const fresh = patternEvents(5, 4);
    await env.produce(
      'patterns',
      fresh.map((value) => ({ key: value.symbol, value })),
    );
    client.send({ type: 'seek', id: 'e', to: { cursor: answer.oldest } });
    await client.until(() => client.events('e').length === fresh.length, 30_000);
    expect(
      client
        .events('e')
        .map((event) => event.data.eventId)
        .sort(),
    ).toEqual(fresh.map((value) => value.eventId).sort());
    // The old cursor is now foreign.
    client.send({ type: 'subscribe', id: 'stale', stream: 'patterns', from: { cursor: subscribed.cursor } });
    expect(await client.next((frame) => frame.type === 'unrecoverable' && frame.id === 'stale')).toMatchObject({ reason: 'epoch' });
  });
});
