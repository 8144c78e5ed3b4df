import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { topicName } from '../platform/index.js';
import { patternEvents } from '../test/record-fixtures.js';
import type { ServerFrame } from './client/protocol.js';
import { decodeCursor, encodeCursor } from './cursor.js';
import { createGatewayTestEnv, RawClient, type GatewayTestEnv, type TestUser } from './testing.js';

type Frame<T extends ServerFrame['type']> = Extract<ServerFrame, { type: T }>;

let env: GatewayTestEnv;
let user: TestUser;
const clients: RawClient[] = [];

beforeAll(async () => {
  env = await createGatewayTestEnv('gw-parts', ['patterns']);
  user = await env.createUser();
});

afterAll(async () => {
  for (const client of clients) client.close();
  await env?.cleanup();
});

async function connect(url: string): Promise<RawClient> {
  const client = await RawClient.connect(url, { token: user.token });
  clients.push(client);
  return client;
}

function lastCursor(client: RawClient, id: string): string {
  const frames = client.frames.filter((frame): frame is Frame<'events'> => frame.type === 'events' && frame.id === id);
  return frames.at(-1)!.cursor;
}

describe('partitions added at runtime', () => {
  it('are tailed without a restart, from their first record, and cursors taken before still resume exactly', async () => {
    const before = patternEvents(12, 2);
    await env.produce(
      'patterns',
      before.map((value) => ({ key: value.symbol, value })),
    );
    const gateway = await env.start({ streams: ['patterns'], config: { GATEWAY_METADATA_REFRESH_MS: 100 } });
    // A second instance that would not re-read metadata for an hour on its own.
    const lagging = await env.start({ streams: ['patterns'], config: { GATEWAY_METADATA_REFRESH_MS: 3_600_000 } });
    const live = await connect(gateway.url);
    live.send({ type: 'subscribe', id: 'all', stream: 'patterns', credits: 1_000, from: 'earliest' });
    await live.until(() => live.events('all').length === before.length);
    const cursorBefore = lastCursor(live, 'all');
    expect(Object.keys(decodeCursor(cursorBefore).next).map(Number)).toEqual([0, 1, 2, 3, 4, 5]);

    const topic = topicName('patterns', env.kafka.prefix);
    const admin = env.kafka.kafka.admin();
    await admin.connect();
    await admin.createPartitions({ topicPartitions: [{ topic, count: 8 }] });
    await admin.disconnect();
    await expect.poll(() => gateway.tails.get('patterns')!.rings.size, { timeout: 30_000, interval: 50 }).toBe(8);

    // A producer that starts now knows the new partitions (the env's producer keeps its old metadata).
    const added = patternEvents(6, 3);
    const encode = await env.kafka.codec.encoderFor<unknown>('patterns');
    const producer = env.kafka.kafka.producer({ allowAutoTopicCreation: false });
    await producer.connect();
    await producer.send({
      topic,
      acks: -1,
      messages: added.map((value, index) => ({ key: value.symbol, value: encode(value), partition: 6 + (index % 2) })),
    });
    await producer.disconnect();
    await live.until(() => live.events('all').length === before.length + added.length, 30_000);
    const fresh = live.events('all').slice(before.length);
    expect(fresh.map((event) => `${event.p}:${event.o}`).sort()).toEqual(['6:0', '6:1', '6:2', '7:0', '7:1', '7:2']);
    expect(fresh.map((event) => (event.data as { eventId: string }).eventId).sort()).toEqual(added.map((value) => value.eventId).sort());
    const cursorAfter = decodeCursor(lastCursor(live, 'all'));
    expect(cursorAfter.next[6]).toBe(3);
    expect(cursorAfter.next[7]).toBe(3);
    expect(cursorAfter.epoch).toBe(decodeCursor(cursorBefore).epoch);

    // A cursor from before the partitions existed resumes with exactly the records added since.
    const resumed = await connect(gateway.url);
    resumed.send({ type: 'subscribe', id: 'r', stream: 'patterns', credits: 1_000, from: { cursor: cursorBefore } });
    const report = await resumed.next<Frame<'resumed'>>((frame) => frame.type === 'resumed' && frame.id === 'r', 30_000);
    expect(
      resumed
        .events('r')
        .map((event) => `${event.p}:${event.o}`)
        .sort(),
    ).toEqual(fresh.map((event) => `${event.p}:${event.o}`).sort());
    expect(report.report.count).toBe(added.length);
    expect(report.report.range['6']).toEqual([0, 3]);

    // The lagging instance, given a cursor that names the new partitions, learns of them and resumes exactly there.
    expect(lagging.tails.get('patterns')!.rings.size).toBe(6);
    const other = await connect(lagging.url);
    other.send({ type: 'subscribe', id: 'o', stream: 'patterns', credits: 1_000, from: { cursor: lastCursor(live, 'all') } });
    await other.next((frame) => frame.type === 'subscribed' && frame.id === 'o');
    expect(lagging.tails.get('patterns')!.rings.size).toBe(8);
    const one = patternEvents(1, 1)[0]!;
    const again = env.kafka.kafka.producer({ allowAutoTopicCreation: false });
    await again.connect();
    await again.send({ topic, acks: -1, messages: [{ key: one.symbol, value: encode(one), partition: 6 }] });
    await again.disconnect();
    await other.until(() => other.events('o').length === 1, 30_000);
    expect(other.events('o').map((event) => `${event.p}:${event.o}`)).toEqual(['6:3']);

    // A cursor naming a partition the topic does not have is refused.
    const forged = encodeCursor({ ...cursorAfter, next: { ...cursorAfter.next, 9: 0 } });
    other.send({ type: 'subscribe', id: 'f', stream: 'patterns', from: { cursor: forged } });
    expect(await other.next((frame) => frame.type === 'error' && frame.id === 'f')).toMatchObject({ code: 'bad_cursor' });
  });
});
