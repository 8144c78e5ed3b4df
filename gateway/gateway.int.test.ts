import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BROADCAST_COPY_HEADER, topicName } from '../platform/index.js';
import { createTestApiKey } from '../store/accounts/testing.js';
import { minuteBars, patternEvents } from '../test/record-fixtures.js';
import { patternState } from '../contracts/redis-model.js';
import type { ServerFrame } from './client/protocol.js';
import { decodeCursor, encodeCursor } from './cursor.js';
import type { GatewayHandle } from './index.js';
import { createGatewayTestEnv, RawClient, serverFrames, type GatewayTestEnv, type TestUser } from './testing.js';

type Frame<T extends ServerFrame['type']> = Extract<ServerFrame, { type: T }>;

let env: GatewayTestEnv;
let gateway: GatewayHandle;
let alice: TestUser;
let bob: TestUser;
const PATTERNS = patternEvents(120, 7);
const clients: RawClient[] = [];

async function connect(user: TestUser | undefined = alice, via: 'apiKey' | 'token' = 'apiKey'): Promise<RawClient> {
  const client = await RawClient.connect(
    gateway.url,
    user ? (via === 'apiKey' ? { apiKey: user.apiKey } : { token: user.token }) : undefined,
  );
  clients.push(client);
  return client;
}

/** The pattern topic as Kafka holds it: partition -> offsets, read by a plain kafkajs consumer. */
async function topicContents(): Promise<Map<number, { offset: number; key: string }[]>> {
  const topic = topicName('patterns', env.kafka.prefix);
  const admin = env.kafka.kafka.admin();
  await admin.connect();
  const ends = await admin.fetchTopicOffsets(topic);
  await admin.disconnect();
  const total = ends.reduce((sum, entry) => sum + Number(entry.high) - Number(entry.low), 0);
  const consumer = env.kafka.kafka.consumer({ groupId: `check-${Date.now()}` });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  const seen = new Map<number, { offset: number; key: string }[]>();
  let count = 0;
  await new Promise<void>((resolve) => {
    void consumer.run({
      eachMessage: async ({ partition, message }) => {
        seen.set(partition, [...(seen.get(partition) ?? []), { offset: Number(message.offset), key: message.key!.toString() }]);
        count += 1;
        if (count >= total) resolve();
      },
    });
  });
  await consumer.disconnect();
  return seen;
}

beforeAll(async () => {
  env = await createGatewayTestEnv('gateway');
  alice = await env.createUser({ tech: ['AAPL', 'MSFT', 'NVDA'] });
  bob = await env.createUser({ energy: ['XOM'] });
  await env.produce(
    'patterns',
    PATTERNS.map((value) => ({ key: value.symbol, value })),
  );
  gateway = await env.start({ config: { GATEWAY_RING_CAPACITY: 8, GATEWAY_FRAMES_PER_SECOND: 20, GATEWAY_FRAME_BURST: 20 } });
});

afterAll(async () => {
  for (const client of clients) client.close();
  await env?.cleanup();
});

describe('authentication', () => {
  it('accepts an API key and an access token, and refuses anything else with auth_failed', async () => {
    const byKey = await connect(alice, 'apiKey');
    expect(byKey.frames.find((frame) => frame.type === 'authenticated')).toEqual({
      type: 'authenticated',
      userId: alice.id,
      via: 'apiKey',
    });
    const byToken = await connect(alice, 'token');
    expect(byToken.frames.find((frame) => frame.type === 'authenticated')).toMatchObject({ userId: alice.id, via: 'token' });

    const forged = await RawClient.connect(gateway.url, { apiKey: `tfk_${'0'.repeat(12)}_${'A'.repeat(43)}` });
    clients.push(forged);
    expect(forged.frames.at(-1)).toMatchObject({ type: 'error', code: 'auth_failed' });
    expect((await forged.waitClosed()).code).toBe(4003);

    const badToken = await RawClient.connect(gateway.url, { token: 'not.a.jwt' });
    expect(badToken.frames.at(-1)).toMatchObject({ type: 'error', code: 'auth_failed' });
  });

  it('refuses an API key without the stream scope, and a revoked one', async () => {
    const readOnly = await createTestApiKey(env.pool, alice.id, { name: 'read only', scopes: ['read'] });
    const refused = await RawClient.connect(gateway.url, { apiKey: readOnly });
    clients.push(refused);
    expect(refused.frames.at(-1)).toMatchObject({ type: 'error', code: 'auth_failed' });
    const revoked = await createTestApiKey(env.pool, alice.id, { name: 'revoked', revoked: true });
    const gone = await RawClient.connect(gateway.url, { apiKey: revoked });
    clients.push(gone);
    expect(gone.frames.at(-1)).toMatchObject({ type: 'error', code: 'auth_failed' });
  });

  it('refuses a validly signed token whose user no longer exists', async () => {
    const { token } = await env.tokens.issueAccessToken({ userId: randomUUID() });
    const orphan = await RawClient.connect(gateway.url, { token });
    clients.push(orphan);
    expect(orphan.frames.at(-1)).toMatchObject({ type: 'error', code: 'auth_failed' });
  });

  it('refuses a subscription before authentication', async () => {
    const anonymous = await RawClient.connect(gateway.url);
    clients.push(anonymous);
    // welcome advertises what bounds server frames too: events per frame and snapshot items.
    expect(anonymous.frames[0]).toMatchObject({
      type: 'welcome',
      limits: { maxFrameBytes: 16_384, maxEventsPerFrame: 500, maxSnapshotItems: 5_000 },
    });
    anonymous.send({ type: 'subscribe', id: 's', stream: 'patterns' });
    expect(await anonymous.next((frame) => frame.type === 'error')).toMatchObject({ code: 'not_authenticated' });
  });
});

describe('delivery', () => {
  it('delivers the whole topic from the earliest position, with positions, ring and Kafka read-back, and reports the resume', async () => {
    const client = await connect();
    client.send({ type: 'subscribe', id: 'all', stream: 'patterns', from: 'earliest', credits: 10_000 });
    const subscribed = await client.next<Frame<'subscribed'>>((frame) => frame.type === 'subscribed');
    expect(subscribed.backlog).toBe(PATTERNS.length);
    const resumed = await client.next<Frame<'resumed'>>((frame) => frame.type === 'resumed');
    expect(resumed.report.count).toBe(PATTERNS.length);
    // Ring capacity 8 per partition: most records came back from Kafka.
    expect(resumed.report.fromKafka).toBeGreaterThan(0);
    expect(resumed.report.fromKafka + resumed.report.fromRing).toBe(PATTERNS.length);
    const contents = await topicContents();
    const events = client.events('all');
    for (const [partition, records] of contents) {
      expect(events.filter((event) => event.p === partition).map((event) => [event.o, event.key])).toEqual(
        records.map((record) => [record.offset, record.key]),
      );
      expect(resumed.report.range[String(partition)]).toEqual([0, records.length]);
    }
    expect(events[0]!.data).toMatchObject({ eventId: expect.any(String), kind: expect.any(String), symbol: events[0]!.key });
    expect(decodeCursor(resumed.cursor).next).toEqual(
      Object.fromEntries([0, 1, 2, 3, 4, 5].map((partition) => [partition, contents.get(partition)?.length ?? 0])),
    );
  });

  it('paces a slow client by credits: no more than granted, nothing lost', async () => {
    const client = await connect();
    client.send({ type: 'subscribe', id: 'slow', stream: 'patterns', from: 'earliest', credits: 5 });
    await client.next((frame) => frame.type === 'events');
    client.send({ type: 'ping', nonce: 'after-first' });
    await client.next((frame) => frame.type === 'pong');
    // The ping went through the same connection after the grant: had more been sent, it would be here by now.
    expect(client.events('slow')).toHaveLength(5);
    const seen = () => client.events('slow').length;
    let granted = 5;
    while (granted < PATTERNS.length) {
      client.send({ type: 'credit', id: 'slow', n: 7 });
      granted += 7;
      await client.until(() => seen() === Math.min(granted, PATTERNS.length));
    }
    client.send({ type: 'ping', nonce: 'end' });
    await client.next((frame) => frame.type === 'pong');
    expect(seen()).toBe(PATTERNS.length);
    expect(
      client.frames
        .filter((frame) => frame.type === 'events' && frame.id === 'slow')
        .every((frame) => (frame as Frame<'events'>).events.length <= 7),
    ).toBe(true);
    const byPartition = new Map<number, number[]>();
    for (const event of client.events('slow')) byPartition.set(event.p, [...(byPartition.get(event.p) ?? []), event.o]);
    for (const offsets of byPartition.values()) expect(offsets).toEqual([...offsets.keys()]);
  });

  it('filters by symbols, pattern types, tiers and kinds', async () => {
    const client = await connect();
    client.send({
      type: 'subscribe',
      id: 'f',
      stream: 'patterns',
      from: 'earliest',
      credits: 1000,
      filter: { symbols: ['AAPL', 'MSFT'], tiers: ['DAILY', 'INTRADAY'], kinds: ['DETECTED'] },
    });
    await client.next((frame) => frame.type === 'resumed');
    const expected = PATTERNS.filter(
      (value) => ['AAPL', 'MSFT'].includes(value.symbol) && value.tier !== 'COMBO' && value.kind === 'DETECTED',
    );
    expect(
      client
        .events('f')
        .map((event) => event.data.eventId)
        .sort(),
    ).toEqual(expected.map((value) => value.eventId).sort());
    client.send({ type: 'subscribe', id: 'p', stream: 'patterns', from: 'earliest', credits: 1000, filter: { patterns: ['doji'] } });
    await client.next((frame) => frame.type === 'resumed' && frame.id === 'p');
    expect(client.events('p').length).toBe(PATTERNS.filter((value) => value.pattern === 'doji').length);
  });

  it('conflates per symbol, tagging each value with the offset of the last event folded in', async () => {
    const client = await connect();
    client.send({ type: 'subscribe', id: 'c', stream: 'patterns', from: 'earliest', credits: 1000, conflate: true });
    const resumed = await client.next<Frame<'resumed'>>((frame) => frame.type === 'resumed');
    const events = client.events('c');
    expect(events.length).toBeLessThan(PATTERNS.length);
    expect(events.reduce((sum, event) => sum + (event.folded ?? 1), 0)).toBe(PATTERNS.length);
    const contents = await topicContents();
    // The last value delivered per symbol is the symbol's last record in the log.
    for (const records of contents.values()) {
      const last = new Map(records.map((record) => [record.key, record.offset]));
      for (const [key, offset] of last) expect(events.filter((event) => event.key === key).at(-1)!.o).toBe(offset);
    }
    expect(resumed.report.count).toBe(events.length);
  });

  it('seeks by time and by cursor on an open connection', async () => {
    const client = await connect();
    client.send({ type: 'subscribe', id: 'k', stream: 'patterns', credits: 1000 });
    await client.next((frame) => frame.type === 'subscribed');
    expect(client.events('k')).toHaveLength(0);
    client.send({ type: 'seek', id: 'k', to: 'earliest' });
    await client.next((frame) => frame.type === 'resumed');
    const all = client.events('k');
    expect(all).toHaveLength(PATTERNS.length);
    const sorted = [...all].sort((a, b) => a.ts - b.ts);
    const middle = sorted[Math.floor(sorted.length / 2)]!.ts;
    client.send({ type: 'seek', id: 'k', to: { timestamp: middle }, credits: 1000 });
    const seeked = await client.next<Frame<'seeked'>>((frame) => frame.type === 'seeked');
    await client.next((frame) => frame.type === 'resumed');
    const after = client.events('k').slice(all.length);
    expect(after.length).toBe(all.filter((event) => event.ts >= middle).length);
    expect(after.every((event) => event.ts >= middle)).toBe(true);
    expect(seeked.backlog).toBe(after.length);

    client.send({ type: 'seek', id: 'k', to: { cursor: seeked.cursor } });
    await client.next((frame) => frame.type === 'resumed');
    expect(client.events('k').length).toBe(all.length + 2 * after.length);
    client.send({ type: 'seek', id: 'k', to: { offsets: { '0': 1 } } });
    await client.next((frame) => frame.type === 'resumed');
    expect(
      client
        .events('k')
        .slice(all.length + 2 * after.length)
        .every((event) => event.p === 0),
    ).toBe(true);
  });

  it('sends a snapshot from memory: one state per active pattern, then resumed at the head', async () => {
    const client = await connect();
    client.send({ type: 'subscribe', id: 'snap', stream: 'patterns', from: 'snapshot', filter: { symbols: ['AAPL', 'MSFT'] } });
    const subscribed = await client.next<Frame<'subscribed'>>((frame) => frame.type === 'subscribed');
    const snapshot = await client.next<Frame<'snapshot'>>((frame) => frame.type === 'snapshot');
    expect(snapshot).toMatchObject({ source: 'kafka', cursor: subscribed.cursor });
    // The rings hold the newest records only (8 per partition here): the states are those their records end in.
    const last = new Map<string, (typeof PATTERNS)[number]>();
    for (const value of PATTERNS) last.set(value.patternId, value);
    expect(snapshot.items.length).toBeGreaterThan(0);
    for (const item of snapshot.items) {
      const event = last.get(item.data.patternId as string)!;
      expect(event.kind).not.toBe('EXPIRED');
      expect(['AAPL', 'MSFT']).toContain(item.key);
      expect(item).toEqual({ key: event.symbol, ts: event.detectedAtMs, data: patternState(event) });
    }
    expect(new Set(snapshot.items.map((item) => item.data.patternId)).size).toBe(snapshot.items.length);
    // A snapshot starts at the head; like every start but latest, it ends with resumed.
    expect(await client.next<Frame<'resumed'>>((frame) => frame.type === 'resumed')).toMatchObject({
      id: 'snap',
      cursor: subscribed.cursor,
      report: { count: 0 },
    });
  });
});

describe('unrecoverable positions', () => {
  it('answers a cursor older than the log start with the oldest position and a snapshot offer', async () => {
    const topic = topicName('patterns', env.kafka.prefix);
    const client = await connect();
    client.send({ type: 'subscribe', id: 'old', stream: 'patterns', credits: 1000 });
    const subscribed = await client.next<Frame<'subscribed'>>((frame) => frame.type === 'subscribed');
    const cursor = decodeCursor(subscribed.cursor);
    const zero = encodeCursor({ ...cursor, next: Object.fromEntries(Object.keys(cursor.next).map((partition) => [partition, 0])) });
    const busiest = Number(Object.entries(cursor.next).sort((a, b) => b[1] - a[1])[0]![0]);
    const admin = env.kafka.kafka.admin();
    await admin.connect();
    await admin.fetchTopicMetadata({ topics: [topic] });
    await admin.deleteTopicRecords({ topic, partitions: [{ partition: busiest, offset: '3' }] });
    await admin.disconnect();

    client.send({ type: 'seek', id: 'old', to: { cursor: zero } });
    const answer = await client.next<Frame<'unrecoverable'>>((frame) => frame.type === 'unrecoverable');
    expect(answer).toMatchObject({ reason: 'retention', snapshotAvailable: true });
    expect(answer.oldestOffsets[String(busiest)]).toBe(3);
    client.send({ type: 'seek', id: 'old', to: { cursor: answer.oldest } });
    const resumed = await client.next<Frame<'resumed'>>((frame) => frame.type === 'resumed');
    expect(resumed.report.range[String(busiest)]![0]).toBe(3);
    expect(client.events('old').filter((event) => event.p === busiest)[0]!.o).toBe(3);

    const foreign = encodeCursor({ ...cursor, epoch: 'another-topic' });
    client.send({ type: 'subscribe', id: 'foreign', stream: 'patterns', from: { cursor: foreign } });
    expect(await client.next((frame) => frame.type === 'unrecoverable' && frame.id === 'foreign')).toMatchObject({ reason: 'epoch' });
    const ahead = encodeCursor({ ...cursor, next: { ...cursor.next, [busiest]: 1_000_000 } });
    client.send({ type: 'subscribe', id: 'ahead', stream: 'patterns', from: { cursor: ahead } });
    expect(await client.next((frame) => frame.type === 'unrecoverable' && frame.id === 'ahead')).toMatchObject({ reason: 'ahead' });

    // The same answers without building a cursor (asyncapi.yaml: positions are asked for by name): explicit offsets
    // below the log start or past the head, and `earliest` to continue from the oldest position left.
    client.send({ type: 'subscribe', id: 'named', stream: 'patterns', from: { offsets: { [String(busiest)]: 0 } }, credits: 1000 });
    expect(await client.next((frame) => frame.type === 'unrecoverable' && frame.id === 'named')).toMatchObject({
      reason: 'retention',
      oldest: answer.oldest,
    });
    client.send({ type: 'seek', id: 'named', to: { offsets: { [String(busiest)]: 1_000_000 } } });
    expect(await client.next((frame) => frame.type === 'unrecoverable' && frame.id === 'named')).toMatchObject({ reason: 'ahead' });
    client.send({ type: 'seek', id: 'named', to: 'earliest' });
    expect(await client.next<Frame<'seeked'>>((frame) => frame.type === 'seeked' && frame.id === 'named')).toMatchObject({
      cursor: answer.oldest,
    });
    const fromEarliest = await client.next<Frame<'resumed'>>((frame) => frame.type === 'resumed' && frame.id === 'named');
    expect(fromEarliest.report.range[String(busiest)]![0]).toBe(3);
  });

  it('reports a position that retention removes while the client is still catching up', async () => {
    const topic = topicName('patterns', env.kafka.prefix);
    const client = await connect();
    // No credits: the subscription holds the log start without reading anything.
    client.send({ type: 'subscribe', id: 'behind', stream: 'patterns', from: 'earliest', credits: 0 });
    const subscribed = await client.next<Frame<'subscribed'>>((frame) => frame.type === 'subscribed');
    const start = decodeCursor(subscribed.cursor).next;
    const [partition, offset] = Object.entries(start).sort((a, b) => b[1] - a[1])[0]!;
    const admin = env.kafka.kafka.admin();
    await admin.connect();
    await admin.fetchTopicMetadata({ topics: [topic] });
    await admin.deleteTopicRecords({ topic, partitions: [{ partition: Number(partition), offset: String(offset + 2) }] });
    await admin.disconnect();
    client.send({ type: 'credit', id: 'behind', n: 1000 });
    const answer = await client.next<Frame<'unrecoverable'>>((frame) => frame.type === 'unrecoverable' && frame.id === 'behind');
    expect(answer.reason).toBe('retention');
    expect(answer.oldestOffsets[partition]).toBe(offset + 2);
  });
});

describe('universes', () => {
  it("allows the user's own and built-in universes and refuses another user's", async () => {
    const client = await connect(alice);
    client.send({ type: 'subscribe', id: 'own', stream: 'patterns', filter: { universe: 'tech' }, from: 'earliest', credits: 1000 });
    await client.next((frame) => frame.type === 'resumed' && frame.id === 'own');
    expect(new Set(client.events('own').map((event) => event.key))).toEqual(
      new Set(PATTERNS.filter((v) => ['AAPL', 'MSFT', 'NVDA'].includes(v.symbol)).map((v) => v.symbol)),
    );
    client.send({ type: 'subscribe', id: 'theirs', stream: 'patterns', filter: { universe: 'energy' } });
    expect(await client.next((frame) => frame.type === 'error' && frame.id === 'theirs')).toMatchObject({ code: 'forbidden_universe' });
    client.send({ type: 'subscribe', id: 'builtin', stream: 'patterns', filter: { universe: 'index_etfs' } });
    expect(await client.next((frame) => 'id' in frame && frame.id === 'builtin')).toMatchObject({ type: 'subscribed' });
    const owner = await connect(bob);
    owner.send({ type: 'subscribe', id: 'mine', stream: 'patterns', filter: { universe: 'energy' } });
    expect(await owner.next((frame) => 'id' in frame && frame.id === 'mine')).toMatchObject({ type: 'subscribed' });
  });
});

describe('bad input', () => {
  it('answers every kind of bad frame with an error frame and keeps the connection', async () => {
    const client = await connect();
    const cases: [string | Buffer, string][] = [
      ['{not json', 'malformed_json'],
      [Buffer.from([1, 2, 3]), 'malformed_json'],
      ['{"type":"teleport"}', 'unknown_type'],
      ['{"type":"subscribe","id":"x","stream":"patterns","credits":-1}', 'bad_field'],
      ['{"type":"credit","id":"nope","n":1}', 'unknown_subscription'],
      [JSON.stringify({ type: 'ping', nonce: 'x'.repeat(20_000) }), 'frame_too_large'],
      [
        JSON.stringify({
          type: 'subscribe',
          id: 'big',
          stream: 'patterns',
          filter: { symbols: Array.from({ length: 6000 }, (_, i) => `S${i}`) },
        }).slice(0, 16_000),
        'malformed_json',
      ],
      ['{"type":"subscribe","id":"x","stream":"patterns","from":{"cursor":"c1.garbage"}}', 'bad_cursor'],
      ['{"type":"subscribe","id":"b","stream":"bars","filter":{"tiers":["DAILY"]}}', 'bad_field'],
      ['{"type":"auth","apiKey":"again"}', 'already_authenticated'],
    ];
    for (const [frame, code] of cases) {
      client.send(frame);
      expect(await client.next((received) => received.type === 'error')).toMatchObject({ code });
    }
    client.send({ type: 'subscribe', id: 'dup', stream: 'patterns' });
    client.send({ type: 'subscribe', id: 'dup', stream: 'patterns' });
    expect(await client.next((frame) => frame.type === 'error')).toMatchObject({ code: 'duplicate_subscription' });
    client.send({ type: 'ping' });
    expect(await client.next((frame) => frame.type === 'pong')).toMatchObject({ type: 'pong' });
    expect(client.closed).toBeUndefined();
  });

  it('rate-limits a flood with one error per second, and closes a frame above the hard limit', async () => {
    const client = await connect();
    for (let i = 0; i < 60; i += 1) client.send({ type: 'ping', nonce: String(i) });
    expect(await client.next((frame) => frame.type === 'error')).toMatchObject({ code: 'rate_limited' });
    const pongs = client.frames.filter((frame) => frame.type === 'pong').length;
    expect(pongs).toBeLessThan(60);
    expect(client.frames.filter((frame) => frame.type === 'error' && frame.code === 'rate_limited')).toHaveLength(1);

    const huge = await connect();
    huge.send('x'.repeat(16_384 * 4 + 10));
    // uWebSockets.js drops such a socket at once (1006 as seen by the peer; 1009 by the spec).
    expect([1006, 1009]).toContain((await huge.waitClosed()).code);
  });

  it('limits the number of subscriptions per connection', async () => {
    const client = await connect();
    for (let i = 0; i < 16; i += 1) client.send({ type: 'subscribe', id: `n${i}`, stream: 'bars' });
    await client.next((frame) => frame.type === 'subscribed' && frame.id === 'n15');
    client.send({ type: 'subscribe', id: 'n16', stream: 'bars' });
    expect(await client.next((frame) => frame.type === 'error')).toMatchObject({ code: 'too_many_subscriptions' });
    client.send({ type: 'unsubscribe', id: 'n0' });
    expect(await client.next((frame) => frame.type === 'unsubscribed')).toMatchObject({ id: 'n0' });
  });
});

describe('bars', () => {
  it('streams minute bars and skips broadcast copies', async () => {
    const bars = minuteBars(['AAPL', 'SPY'], 5);
    await env.produce(
      'bars',
      bars.map((value) => ({ key: value.symbol, value })),
    );
    const spy = bars.find((value) => value.symbol === 'SPY')!;
    await env.produce(
      'bars',
      [0, 1, 2, 3, 4, 5].map((partition) => ({ key: 'SPY', value: spy, partition, headers: { [BROADCAST_COPY_HEADER]: '1' } })),
    );
    const client = await connect();
    client.send({ type: 'subscribe', id: 'bars', stream: 'bars', from: 'earliest', credits: 1000 });
    await client.next((frame) => frame.type === 'resumed');
    expect(client.events('bars')).toHaveLength(bars.length);
    expect(client.events('bars')[0]!.data).toMatchObject({ interval: 'MINUTE', symbol: expect.any(String) });
  });

  it('delivers live events as they are produced', async () => {
    const client = await connect();
    client.send({ type: 'subscribe', id: 'live', stream: 'bars', credits: 100, filter: { symbols: ['NVDA'] } });
    await client.next((frame) => frame.type === 'subscribed');
    const bars = minuteBars(['NVDA'], 3, Date.now());
    await env.produce(
      'bars',
      bars.map((value) => ({ key: value.symbol, value })),
    );
    await client.next((frame) => frame.type === 'events' && client.events('live').length >= 3);
    expect(client.events('live').map((event) => event.data.windowStartMs)).toEqual(bars.map((value) => value.windowStartMs));
  });
});

describe('HTTP', () => {
  it('serves health, readiness, metrics and the SDK bundle, and redirects / to the dashboard', async () => {
    const base = `http://127.0.0.1:${gateway.port}`;
    expect(await (await fetch(`${base}/health`)).json()).toEqual({ status: 'ok' });
    const ready = await fetch(`${base}/ready`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ status: 'ok', streams: { patterns: { epoch: expect.any(String) } } });
    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).toContain('tickflow_gateway_events_delivered_total');
    expect(metrics).toContain('tickflow_gateway_client_errors_total');
    const root = await fetch(`${base}/`, { redirect: 'manual' });
    expect(root.status).toBe(302);
    expect(root.headers.get('location')).toBe('http://127.0.0.1:3000/app/live');
    expect(await (await fetch(`${base}/sdk.js`)).text()).toContain('TickflowClient');
    expect((await fetch(`${base}/nope`)).status).toBe(404);
  });
});

describe('the protocol document', () => {
  it('saw every frame the gateway sent in this file (each is checked against asyncapi.yaml after every test)', () => {
    expect(serverFrames.frames).toBeGreaterThan(100);
    expect(serverFrames.violations).toEqual([]);
  });
});
