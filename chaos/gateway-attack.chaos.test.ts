import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ServerFrame } from '../gateway/client/protocol.js';
import type { GatewayHandle } from '../gateway/index.js';
import { RawClient, createGatewayTestEnv, type GatewayTestEnv, type TestUser } from '../gateway/testing.js';
import { loadAuthConfig } from '../platform/index.js';
import { patternEvents } from '../test/record-fixtures.js';
import { scaled } from './config.js';
import { recordFigure } from './figures.js';
import { badGatewayFrame } from './gateway-arbitraries.js';
import { attackTokens } from './jwt-attacks.js';

const MAX_FRAME_BYTES = 4096;

describe('gateway under fuzzed frames and attacks', () => {
  let env: GatewayTestEnv;
  let gateway: GatewayHandle;
  let alice: TestUser;
  let bob: TestUser;

  beforeAll(async () => {
    env = await createGatewayTestEnv('chaos-gw');
    alice = await env.createUser({ alice_private: ['AAPL', 'MSFT'] });
    bob = await env.createUser({ bob_private: ['NVDA'] });
    // Fuzzing sends frames as fast as it can; the frame-rate limit is tested on its own below.
    gateway = await env.start({
      config: { GATEWAY_FRAMES_PER_SECOND: 1_000_000, GATEWAY_FRAME_BURST: 1_000_000, GATEWAY_MAX_FRAME_BYTES: MAX_FRAME_BYTES },
    });
  });

  afterAll(async () => {
    await env?.cleanup();
  });

  /** Sends `frame`, then a ping; returns the frames the server sent in between. */
  async function answerTo(client: RawClient, frame: string | Buffer, nonce: string): Promise<ServerFrame[]> {
    const before = client.frames.length;
    client.send(frame);
    client.send({ type: 'ping', nonce });
    await client.until(() => client.frames.slice(before).some((reply) => reply.type === 'pong' && reply.nonce === nonce));
    const replies = client.frames.slice(before);
    return replies
      .slice(
        0,
        replies.findIndex((reply) => reply.type === 'pong' && reply.nonce === nonce),
      )
      .filter((reply) => reply.type !== 'heartbeat');
  }

  it('answers every fuzzed client frame with one error frame; the connection and the server survive', async () => {
    const client = await RawClient.connect(gateway.url, { token: alice.token });
    let sent = 0;
    const codes = new Map<string, number>();
    await fc.assert(
      fc.asyncProperty(badGatewayFrame, async (frame) => {
        sent += 1;
        const replies = await answerTo(client, frame, `n${sent}`);
        expect(replies, `frame ${JSON.stringify(frame).slice(0, 200)}`).toHaveLength(1);
        expect(replies[0]!.type).toBe('error');
        const error = replies[0] as Extract<ServerFrame, { type: 'error' }>;
        expect(error.message.length).toBeGreaterThan(0);
        expect(error.code).not.toBe('internal');
        codes.set(error.code, (codes.get(error.code) ?? 0) + 1);
      }),
      { numRuns: scaled(1000, 50) },
    );
    const binary = await answerTo(client, Buffer.from(JSON.stringify({ type: 'ping' })), 'binary');
    expect(binary).toMatchObject([{ type: 'error', code: 'malformed_json' }]);
    expect(client.closed).toBeUndefined();

    // Still useful afterwards: a valid subscription on the same connection receives what is produced.
    const events = patternEvents(20, 9);
    client.send({ type: 'subscribe', id: 'after-fuzz', stream: 'patterns', from: 'earliest', credits: 1000 });
    await client.next((frame) => frame.type === 'subscribed' && frame.id === 'after-fuzz');
    await env.produce(
      'patterns',
      events.map((value) => ({ key: value.symbol, value })),
    );
    await client.until(() => client.events('after-fuzz').length === events.length, 60_000);
    expect(new Set(client.events('after-fuzz').map((event) => (event.data as { eventId: string }).eventId)).size).toBe(events.length);
    const fresh = await RawClient.connect(gateway.url, { token: bob.token });
    expect(fresh.frames.some((frame) => frame.type === 'authenticated')).toBe(true);
    fresh.close();
    client.close();
    recordFigure({
      suite: 'bad-input',
      case: 'gateway client frames (fuzzed, one connection)',
      frames: sent + 1,
      errorFrames: sent + 1,
      disconnects: 0,
      errorCodes: [...codes].map(([code, count]) => `${code}:${count}`),
      outcome: 'pass',
    });
  });

  it('refuses forged, unsigned, algorithm-confused, expired and tampered tokens', async () => {
    const tokens = await attackTokens(loadAuthConfig({}), alice.id, alice.token);
    for (const { attack, token } of tokens) {
      const client = await RawClient.connect(gateway.url);
      client.send({ type: 'auth', token });
      const reply = await client.next((frame) => frame.type === 'authenticated' || frame.type === 'error' || frame.type === 'welcome');
      expect(reply, attack).toMatchObject({ type: 'error', code: 'auth_failed' });
      client.send({ type: 'subscribe', id: 's', stream: 'patterns', from: 'earliest' });
      const after = await Promise.race([
        client.next((frame) => frame.type === 'subscribed' || frame.type === 'error').catch(() => undefined),
        client.waitClosed(),
      ]);
      expect(after === undefined || (after as ServerFrame).type !== 'subscribed', attack).toBe(true);
      client.close();
    }
    const valid = await RawClient.connect(gateway.url, { token: alice.token });
    expect(valid.frames.some((frame) => frame.type === 'authenticated')).toBe(true);
    valid.close();
    recordFigure({ suite: 'security', case: 'gateway JWT attacks', tokensTried: tokens.length, accepted: 0, outcome: 'pass' });
  });

  it('never subscribes an unauthenticated connection, nor one with a forged API key', async () => {
    const anonymous = await RawClient.connect(gateway.url);
    anonymous.send({ type: 'subscribe', id: 's', stream: 'patterns', from: 'earliest' });
    expect(await anonymous.next((frame) => frame.type === 'error' || frame.type === 'subscribed')).toMatchObject({
      type: 'error',
      code: 'not_authenticated',
    });
    anonymous.close();
    const [, id] = /^tfk_([0-9a-f]{12})_/.exec(alice.apiKey)!;
    for (const apiKey of [
      `tfk_${id}_${'A'.repeat(43)}`,
      alice.apiKey.slice(0, -1),
      `${alice.apiKey}x`,
      "tfk_' OR 1=1 --",
      'tfk_000000000000_' + 'a'.repeat(43),
    ]) {
      const client = await RawClient.connect(gateway.url);
      client.send({ type: 'auth', apiKey });
      expect(await client.next((frame) => frame.type === 'authenticated' || frame.type === 'error'), apiKey).toMatchObject({
        type: 'error',
        code: 'auth_failed',
      });
      client.close();
    }
  });

  it("keeps user B out of user A's universe and subscriptions", async () => {
    const a = await RawClient.connect(gateway.url, { token: alice.token });
    const b = await RawClient.connect(gateway.url, { apiKey: bob.apiKey });
    a.send({ type: 'subscribe', id: 'mine', stream: 'patterns', filter: { universe: 'alice_private' }, from: 'earliest', credits: 10 });
    expect(await a.next((frame) => (frame.type === 'subscribed' && frame.id === 'mine') || frame.type === 'error')).toMatchObject({
      type: 'subscribed',
      id: 'mine',
    });
    b.send({ type: 'subscribe', id: 'theirs', stream: 'patterns', filter: { universe: 'alice_private' }, from: 'earliest' });
    expect(await b.next((frame) => frame.type === 'error' || frame.type === 'subscribed')).toMatchObject({
      type: 'error',
      code: 'forbidden_universe',
    });
    // Subscription ids are per connection: B naming A's subscription touches nothing of A's.
    for (const frame of [
      { type: 'credit', id: 'mine', n: 5 },
      { type: 'seek', id: 'mine', to: 'earliest' },
      { type: 'unsubscribe', id: 'mine' },
    ] as const) {
      b.send(frame);
      expect(await b.next((reply) => reply.type === 'error' || reply.type === 'seeked' || reply.type === 'unsubscribed')).toMatchObject({
        type: 'error',
        code: 'unknown_subscription',
      });
    }
    a.send({ type: 'ping', nonce: 'still-mine' });
    await a.next((frame) => frame.type === 'pong' && frame.nonce === 'still-mine');
    expect(a.frames.some((frame) => frame.type === 'unsubscribed')).toBe(false);
    a.close();
    b.close();
    recordFigure({
      suite: 'security',
      case: "gateway: user B vs user A's universe and subscriptions",
      attempts: 4,
      allowed: 0,
      outcome: 'pass',
    });
  });

  it('answers an oversized frame with frame_too_large, closes on a huge one, and keeps serving others', async () => {
    const client = await RawClient.connect(gateway.url, { token: alice.token });
    const big = JSON.stringify({ type: 'ping', nonce: 'x'.repeat(MAX_FRAME_BYTES) });
    expect(await answerTo(client, big, 'big')).toMatchObject([{ type: 'error', code: 'frame_too_large' }]);
    client.send('x'.repeat(MAX_FRAME_BYTES * 8));
    const closed = await client.waitClosed();
    // The gateway documents 1009; uWebSockets.js drops a connection over maxPayloadLength without a close frame (1006).
    expect([1006, 1009]).toContain(closed.code);
    const other = await RawClient.connect(gateway.url, { token: bob.token });
    expect(other.frames.some((frame) => frame.type === 'authenticated')).toBe(true);
    other.close();
    recordFigure({
      suite: 'security',
      case: 'gateway oversized frames',
      sizes: [big.length, MAX_FRAME_BYTES * 8],
      outcome: 'frame_too_large error; connection dropped; server up',
    });
  });
});

describe('gateway frame-rate limit', () => {
  let env: GatewayTestEnv;
  let gateway: GatewayHandle;

  beforeAll(async () => {
    env = await createGatewayTestEnv('chaos-gw-rate');
    gateway = await env.start({ config: { GATEWAY_FRAMES_PER_SECOND: 5, GATEWAY_FRAME_BURST: 10 } });
  });

  afterAll(async () => {
    await env?.cleanup();
  });

  it('tells a flooding client it is rate limited, then closes it', async () => {
    const user = await env.createUser();
    const client = await RawClient.connect(gateway.url, { token: user.token });
    for (let index = 0; index < 2000 && !client.closed; index += 1) client.send({ type: 'ping', nonce: String(index) });
    await client.next((frame) => frame.type === 'error' && frame.code === 'rate_limited');
    expect((await client.waitClosed()).code).toBe(4029);
    const pongs = client.frames.filter((frame) => frame.type === 'pong').length;
    expect(pongs).toBeLessThan(2000);
    recordFigure({
      suite: 'security',
      case: 'gateway frame flood',
      framesSent: 2000,
      answered: pongs,
      outcome: 'rate_limited error, closed 4029',
    });
  });
});
