import { spawn, type ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import WebSocket from 'ws';
import { topicName } from '../platform/index.js';
import { patternEvents, seededRandom } from '../test/record-fixtures.js';
import { TickflowClient, type WebSocketFactory, type WireEvent } from './client/index.js';
import type { GatewayHandle } from './index.js';
import { createGatewayTestEnv, RecordingWebSocket, type GatewayTestEnv, type TestUser } from './testing.js';

let env: GatewayTestEnv;
let user: TestUser;

beforeAll(async () => {
  env = await createGatewayTestEnv('gw-resume');
  user = await env.createUser();
});

afterAll(async () => {
  await env?.cleanup();
});

/** The whole topic read directly with kafkajs: partition -> eventIds in offset order. */
async function topicByPartition(): Promise<Map<number, string[]>> {
  const topic = topicName('patterns', env.kafka.prefix);
  const admin = env.kafka.kafka.admin();
  await admin.connect();
  const expected = (await admin.fetchTopicOffsets(topic)).reduce((sum, entry) => sum + Number(entry.high) - Number(entry.low), 0);
  await admin.disconnect();
  const consumer = env.kafka.kafka.consumer({ groupId: `check-${Date.now()}-${Math.random()}` });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  const seen = new Map<number, string[]>();
  let count = 0;
  await new Promise<void>((resolve) => {
    void consumer.run({
      eachMessage: async ({ partition, message }) => {
        const value = await env.kafka.codec.decode<{ eventId: string }>(message.value!);
        seen.set(partition, [...(seen.get(partition) ?? []), value.eventId]);
        count += 1;
        if (count >= expected) resolve();
      },
    });
  });
  await consumer.disconnect();
  return seen;
}

function byPartition(events: readonly WireEvent[]): Map<number, string[]> {
  const result = new Map<number, string[]>();
  for (const event of events) result.set(event.p, [...(result.get(event.p) ?? []), (event.data as { eventId: string }).eventId]);
  return result;
}

describe('resume without loss', () => {
  it('delivers every event exactly once and in order per partition across random disconnects and a gateway restart', async () => {
    const random = seededRandom(42);
    const all = patternEvents(1500, 11);
    const config = { GATEWAY_RING_CAPACITY: 50 };
    let gateway: GatewayHandle = await env.start({ config });
    // Any instance serves any client: after the restart the client fails over to wherever the new one listens.
    const client = new TickflowClient({
      url: () => gateway.url,
      auth: { apiKey: user.apiKey },
      WebSocket: WebSocket as unknown as WebSocketFactory,
      initialBackoffMs: 20,
      maxBackoffMs: 200,
    });
    const subscription = client.subscribe({ stream: 'patterns', from: 'earliest', window: 40 });
    await client.connect();
    const received: WireEvent[] = [];
    const consuming = (async () => {
      for await (const event of subscription) {
        received.push(event);
        if (received.length === all.length) break;
      }
    })();

    let produced = 0;
    let drops = 0;
    let restarted = false;
    while (produced < all.length) {
      const chunk = all.slice(produced, produced + 50 + Math.floor(random() * 100));
      await env.produce(
        'patterns',
        chunk.map((value) => ({ key: value.symbol, value })),
      );
      produced += chunk.length;
      if (random() < 0.5) {
        client.dropConnection();
        drops += 1;
      }
      if (!restarted && produced > all.length / 2) {
        // Kill the gateway while the client is mid-stream; a new instance on the same port knows nothing of it.
        await gateway.stop();
        gateway = await env.start({ config });
        restarted = true;
      }
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    await consuming;
    const expected = await topicByPartition();
    const got = byPartition(received);
    for (const [partition, eventIds] of expected) expect(got.get(partition) ?? [], `partition ${partition}`).toEqual(eventIds);
    expect(received).toHaveLength(all.length);
    expect(drops).toBeGreaterThan(2);
    expect(client.reconnects).toBeGreaterThanOrEqual(3);
    expect(subscription.lastReport).toBeDefined();

    // A new client resumes from the saved cursor: it gets exactly what came after.
    const cursor = subscription.cursor!;
    client.close();
    const later = patternEvents(30, 12);
    await env.produce(
      'patterns',
      later.map((value) => ({ key: value.symbol, value })),
    );
    const second = new TickflowClient({
      url: gateway.url,
      auth: { token: user.token },
      WebSocket: WebSocket as unknown as WebSocketFactory,
    });
    const resumed = second.subscribe({ stream: 'patterns', cursor, window: 10 });
    await second.connect();
    const after: WireEvent[] = [];
    for await (const event of resumed) {
      after.push(event);
      if (after.length === later.length) break;
    }
    expect(after.map((event) => (event.data as { eventId: string }).eventId).sort()).toEqual(later.map((value) => value.eventId).sort());
    second.close();
  });

  it('survives a gateway process killed with SIGKILL mid-stream: exactly once, in order, after the restart', async () => {
    /** `npx tickflow gateway` as a child process on this test's topics and database; resolves with its URL. */
    const launch = async (): Promise<{ child: ChildProcess; url: string }> => {
      const child = spawn(process.execPath, ['bin/tickflow.js', 'gateway', '--port', '0', '--streams', 'patterns'], {
        cwd: new URL('..', import.meta.url).pathname,
        env: { ...process.env, TOPIC_PREFIX: env.kafka.prefix, DATABASE_URL: env.db.url, LOG_LEVEL: 'warn', GATEWAY_RING_CAPACITY: '30' },
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      const url = await new Promise<string>((resolve, reject) => {
        let output = '';
        child.stdout!.on('data', (chunk: Buffer) => {
          output += chunk.toString();
          const match = /gateway listening on (ws:\/\/\S+)/.exec(output);
          if (match) resolve(match[1]!);
        });
        child.once('exit', (code) => reject(new Error(`gateway exited (${code}) before listening: ${output}`)));
      });
      return { child, url };
    };
    const all = patternEvents(600, 31);
    let current = await launch();
    // The gateway runs in another process: its frames are checked against the protocol document as received.
    const client = new TickflowClient({
      url: () => current.url,
      auth: { apiKey: user.apiKey },
      WebSocket: RecordingWebSocket as unknown as WebSocketFactory,
      initialBackoffMs: 50,
      maxBackoffMs: 500,
    });
    // From the head as it is now: this test's events only.
    const subscription = client.subscribe({ stream: 'patterns', from: 'latest', window: 25 });
    await client.connect();
    // `connect` resolves once authenticated, when the subscribe frame has only been sent: wait until the gateway has
    // placed 'latest' (its `subscribed` cursor), or events produced meanwhile may fall before it and never arrive.
    await vi.waitFor(() => expect(subscription.receivedCursor).toBeDefined(), { timeout: 10_000, interval: 20 });
    const received: WireEvent[] = [];
    const consuming = (async () => {
      for await (const event of subscription) {
        received.push(event);
        if (received.length === all.length) break;
      }
    })();
    try {
      await env.produce(
        'patterns',
        all.slice(0, 300).map((value) => ({ key: value.symbol, value })),
      );
      // Kill it while the client is still catching up (a window of 25 keeps it behind).
      current.child.kill('SIGKILL');
      await new Promise((resolve) => current.child.once('exit', resolve));
      await env.produce(
        'patterns',
        all.slice(300).map((value) => ({ key: value.symbol, value })),
      );
      current = await launch();
      await consuming;
    } finally {
      current.child.kill('SIGTERM');
    }
    const expected = new Map<number, string[]>();
    for (const [partition, ids] of await topicByPartition()) {
      const mine = new Set(all.map((value) => value.eventId));
      expected.set(
        partition,
        ids.filter((id) => mine.has(id)),
      );
    }
    const got = byPartition(received);
    for (const [partition, eventIds] of expected) expect(got.get(partition) ?? [], `partition ${partition}`).toEqual(eventIds);
    expect(received).toHaveLength(all.length);
    expect(client.reconnects).toBeGreaterThanOrEqual(1);
    client.close();
  });
});
