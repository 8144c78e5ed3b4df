import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { frameValidator } from '../contract.js';
import type { ClientFrame, ServerFrame, WireEvent } from './protocol.js';
import { GatewayError, TickflowClient, UnrecoverableError, type WebSocketLike } from './index.js';

// Both sides of every exchange here must be frames gateway/asyncapi.yaml describes: what the SDK sends, and what
// the tests play as the server.
const clientFrameProblem = frameValidator('receive');
const serverFrameProblem = frameValidator('send');
const violations: string[] = [];

/** A WebSocket double: records what the client sends; the test plays the server. */
class FakeSocket implements WebSocketLike {
  static all: FakeSocket[] = [];
  readyState = 0;
  sent: ClientFrame[] = [];
  onopen: ((event: unknown) => void) | null = null;
  onmessage: ((event: { data: unknown }) => void) | null = null;
  onclose: ((event: { code: number; reason: string }) => void) | null = null;
  onerror: ((event: unknown) => void) | null = null;

  constructor(readonly url: string) {
    FakeSocket.all.push(this);
  }

  send(data: string): void {
    const problem = clientFrameProblem(JSON.parse(data));
    if (problem) violations.push(`SDK sent ${data}: ${problem}`);
    this.sent.push(JSON.parse(data) as ClientFrame);
  }

  close(code = 1000, reason = ''): void {
    this.readyState = 3;
    this.onclose?.({ code, reason });
  }

  serve(frame: ServerFrame): void {
    const problem = serverFrameProblem(frame);
    if (problem) violations.push(`test served ${JSON.stringify(frame)}: ${problem}`);
    this.readyState = 1;
    this.onmessage?.({ data: JSON.stringify(frame) });
  }

  /** welcome → (client sends auth) → authenticated */
  async accept(userId = 'u1'): Promise<void> {
    this.serve({
      type: 'welcome',
      server: 'fake',
      heartbeatMs: 1000,
      limits: {
        maxFrameBytes: 1,
        maxEventsPerFrame: 1,
        maxSnapshotItems: 1,
        maxSubscriptions: 1,
        maxSymbolsPerSubscription: 1,
        maxCredits: 1,
        framesPerSecond: 1,
        frameBurst: 1,
      },
    });
    await vi.waitFor(() => expect(this.sent.some((frame) => frame.type === 'auth')).toBe(true));
    this.serve({ type: 'authenticated', userId, via: 'token' });
  }

  sentOf<T extends ClientFrame['type']>(type: T): Extract<ClientFrame, { type: T }>[] {
    return this.sent.filter((frame) => frame.type === type) as Extract<ClientFrame, { type: T }>[];
  }
}

const event = (p: number, o: number, key = 'AAPL'): WireEvent => ({ p, o, ts: o, key, data: { o } });
const latest = () => FakeSocket.all[FakeSocket.all.length - 1]!;

function client(options: Partial<ConstructorParameters<typeof TickflowClient>[0]> = {}): TickflowClient {
  return new TickflowClient({
    url: 'ws://gateway/ws',
    auth: { token: 't' },
    WebSocket: FakeSocket,
    initialBackoffMs: 1,
    maxBackoffMs: 2,
    ...options,
  });
}

beforeEach(() => {
  FakeSocket.all = [];
});

afterEach(() => {
  vi.useRealTimers();
  expect(violations.splice(0)).toEqual([]);
});

describe('TickflowClient', () => {
  it('needs a WebSocket implementation', () => {
    const saved = (globalThis as { WebSocket?: unknown }).WebSocket;
    (globalThis as { WebSocket?: unknown }).WebSocket = undefined;
    try {
      expect(() => new TickflowClient({ url: 'ws://x', auth: { token: 't' } })).toThrow('no WebSocket implementation');
    } finally {
      (globalThis as { WebSocket?: unknown }).WebSocket = saved;
    }
  });

  it('authenticates with a token function, subscribes, and iterates events in order', async () => {
    const statuses: string[] = [];
    const c = client({ auth: { token: async () => 'fresh' }, onStatus: (status) => statuses.push(status) });
    const sub = c.subscribe({ stream: 'patterns', filter: { symbols: ['AAPL'] }, from: 'earliest', window: 4, conflate: true });
    const connected = c.connect();
    await latest().accept();
    await connected;
    expect(latest().sentOf('auth')[0]).toEqual({ type: 'auth', token: 'fresh' });
    expect(latest().sentOf('subscribe')[0]).toEqual({
      type: 'subscribe',
      id: sub.id,
      stream: 'patterns',
      filter: { symbols: ['AAPL'] },
      from: 'earliest',
      conflate: true,
      credits: 4,
    });
    latest().serve({ type: 'subscribed', id: sub.id, stream: 'patterns', cursor: 'c0', backlog: 0, conflate: true });
    expect(sub.cursor).toBe('c0');
    latest().serve({ type: 'events', id: sub.id, cursor: 'c2', events: [event(0, 0), event(0, 1)] });
    latest().serve({ type: 'heartbeat', ts: 1, subscriptions: {} });
    latest().serve({ type: 'pong', ts: 1 });
    const iterator = sub[Symbol.asyncIterator]();
    expect((await iterator.next()).value).toEqual(event(0, 0));
    expect(sub.cursor).toBe('c0');
    expect((await iterator.next()).value).toEqual(event(0, 1));
    expect(sub.cursor).toBe('c2');
    // Half the window consumed: credits go back.
    expect(latest().sentOf('credit')).toEqual([{ type: 'credit', id: sub.id, n: 2 }]);
    const waiting = iterator.next();
    latest().serve({ type: 'events', id: sub.id, cursor: 'c3', events: [event(1, 5)] });
    expect((await waiting).value).toEqual(event(1, 5));
    expect(sub.cursor).toBe('c3');
    expect(statuses).toEqual(['connecting', 'open']);
    await iterator.return!();
    expect(latest().sentOf('unsubscribe')).toEqual([{ type: 'unsubscribe', id: sub.id }]);
    expect(await sub.next()).toEqual({ value: undefined, done: true });
    c.close();
  });

  it('drops duplicates by position and gives their credits back', async () => {
    const c = client({ auth: { apiKey: 'k' } });
    const sub = c.subscribe({ stream: 'bars', window: 100 });
    const connected = c.connect();
    await latest().accept();
    await connected;
    expect(latest().sentOf('auth')[0]).toEqual({ type: 'auth', apiKey: 'k' });
    latest().serve({ type: 'events', id: sub.id, cursor: 'a', events: [event(0, 0), event(0, 1), event(1, 0)] });
    latest().serve({ type: 'events', id: sub.id, cursor: 'b', events: [event(0, 1), event(1, 0), event(0, 2)] });
    latest().serve({ type: 'events', id: sub.id, cursor: 'c', events: [event(0, 2)] });
    expect(sub.duplicatesDropped).toBe(3);
    expect(latest().sentOf('credit')).toEqual([
      { type: 'credit', id: sub.id, n: 2 },
      { type: 'credit', id: sub.id, n: 1 },
    ]);
    const got: WireEvent[] = [];
    for (let i = 0; i < 4; i += 1) got.push((await sub.next()).value as WireEvent);
    expect(got.map((e) => `${e.p}:${e.o}`)).toEqual(['0:0', '0:1', '1:0', '0:2']);
    expect(sub.cursor).toBe('b');
    expect(sub.receivedCursor).toBe('c');
    c.close();
  });

  it('reconnects with backoff and resumes every subscription from its last received cursor', async () => {
    const statuses: string[] = [];
    const c = client({ onStatus: (status) => statuses.push(status), url: () => `ws://gateway-${FakeSocket.all.length}/ws` });
    const sub = c.subscribe({ stream: 'patterns', from: 'latest', window: 10 });
    const connected = c.connect();
    const first = latest();
    await first.accept();
    await connected;
    first.serve({ type: 'subscribed', id: sub.id, stream: 'patterns', cursor: 'c0', backlog: 0, conflate: false });
    first.serve({ type: 'events', id: sub.id, cursor: 'c1', events: [event(0, 0)] });
    c.dropConnection();
    await vi.waitFor(() => expect(FakeSocket.all).toHaveLength(2));
    const second = latest();
    expect(second.url).toBe('ws://gateway-1/ws');
    await second.accept();
    // Resumes from the last received cursor; the credits count the one event still buffered.
    expect(second.sentOf('subscribe')[0]).toMatchObject({ id: sub.id, from: { cursor: 'c1' }, credits: 9 });
    second.serve({ type: 'events', id: sub.id, cursor: 'c1', events: [event(0, 0), event(0, 1)] });
    second.serve({
      type: 'resumed',
      id: sub.id,
      cursor: 'c1',
      report: { count: 1, range: { '0': [1, 2] }, fromRing: 1, fromKafka: 0, lagRecords: 0, lagMs: 0 },
    });
    expect(sub.lastReport?.count).toBe(1);
    expect((await sub.next()).value).toEqual(event(0, 0));
    expect((await sub.next()).value).toEqual(event(0, 1));
    expect(c.reconnects).toBe(1);
    expect(statuses).toContain('reconnecting');
    c.close();
    expect(statuses.at(-1)).toBe('closed');
  });

  it('reports each heartbeat lag, and reconnects at once when asked during a backoff wait', async () => {
    const lags: number[] = [];
    // A backoff far longer than the test: only reconnectNow() can open the second socket in time.
    const c = client({ initialBackoffMs: 60_000, maxBackoffMs: 60_000 });
    const sub = c.subscribe({ stream: 'patterns', onLag: (lag) => lags.push(lag) });
    c.reconnectNow(); // nothing pending: no effect
    const connected = c.connect();
    await latest().accept();
    await connected;
    expect(FakeSocket.all).toHaveLength(1);
    latest().serve({ type: 'subscribed', id: sub.id, stream: 'patterns', cursor: 'c0', backlog: 0, conflate: false });
    latest().serve({ type: 'heartbeat', ts: 1, subscriptions: { [sub.id]: { cursor: 'c0', credits: 500, lagRecords: 42 } } });
    expect(lags).toEqual([42]);
    expect(sub.lagRecords).toBe(42);
    c.dropConnection();
    expect(FakeSocket.all).toHaveLength(1);
    c.reconnectNow();
    expect(FakeSocket.all).toHaveLength(2);
    expect(c.reconnects).toBe(1);
    await latest().accept();
    expect(latest().sentOf('subscribe')[0]).toMatchObject({ id: sub.id, from: { cursor: 'c0' } });
    c.close();
  });

  it('reconnects after a backoff when the token function throws, instead of an unhandled rejection', async () => {
    let calls = 0;
    const c = client({
      auth: {
        token: async () => {
          calls += 1;
          if (calls === 1) throw new Error('429 on refresh');
          return 'fresh';
        },
      },
    });
    const connected = c.connect();
    const first = latest();
    first.serve({
      type: 'welcome',
      server: 'fake',
      heartbeatMs: 1000,
      limits: {
        maxFrameBytes: 1,
        maxEventsPerFrame: 1,
        maxSnapshotItems: 1,
        maxSubscriptions: 1,
        maxSymbolsPerSubscription: 1,
        maxCredits: 1,
        framesPerSecond: 1,
        frameBurst: 1,
      },
    });
    await vi.waitFor(() => expect(FakeSocket.all).toHaveLength(2));
    expect(first.sentOf('auth')).toEqual([]);
    await latest().accept();
    await connected;
    expect(latest().sentOf('auth')[0]).toEqual({ type: 'auth', token: 'fresh' });
    c.close();
  });

  it('fails on a refused authentication instead of retrying', async () => {
    const statuses: string[] = [];
    const c = client({ onStatus: (status) => statuses.push(status) });
    const sub = c.subscribe({ stream: 'patterns' });
    const connected = c.connect();
    latest().serve({
      type: 'welcome',
      server: 'fake',
      heartbeatMs: 1,
      limits: {
        maxFrameBytes: 1,
        maxEventsPerFrame: 1,
        maxSnapshotItems: 1,
        maxSubscriptions: 1,
        maxSymbolsPerSubscription: 1,
        maxCredits: 1,
        framesPerSecond: 1,
        frameBurst: 1,
      },
    });
    latest().serve({ type: 'error', code: 'auth_failed', message: 'API key invalid' });
    latest().close(4003, 'authentication failed');
    await expect(connected).rejects.toBeInstanceOf(GatewayError);
    await expect(sub.next()).rejects.toThrow('auth_failed');
    expect(statuses.at(-1)).toBe('failed');
    expect(FakeSocket.all).toHaveLength(1);
  });

  it('ignores frames that are not JSON and frames of unknown subscriptions', async () => {
    const c = client();
    const connected = c.connect();
    await latest().accept();
    await connected;
    latest().onmessage?.({ data: 'not json' });
    latest().serve({ type: 'events', id: 'other', cursor: 'x', events: [event(0, 0)] });
    latest().serve({ type: 'error', code: 'rate_limited', message: 'slow down' });
    expect(c.userId).toBe('u1');
    c.close();
  });

  it('seeks on the open connection, resetting duplicates and credits', async () => {
    const c = client();
    const sub = c.subscribe({ stream: 'patterns', window: 6 });
    const connected = c.connect();
    await latest().accept();
    await connected;
    latest().serve({ type: 'events', id: sub.id, cursor: 'a', events: [event(0, 4), event(0, 5)] });
    sub.seek({ timestamp: 3 });
    expect(latest().sentOf('seek')).toEqual([{ type: 'seek', id: sub.id, to: { timestamp: 3 }, credits: 6 }]);
    latest().serve({ type: 'seeked', id: sub.id, cursor: 's', backlog: 2 });
    expect(sub.cursor).toBe('s');
    // Offsets seen before the seek are delivered again.
    latest().serve({ type: 'events', id: sub.id, cursor: 't', events: [event(0, 4)] });
    expect((await sub.next()).value).toEqual(event(0, 4));
    c.close();
  });

  it('on an unrecoverable position fails, continues from the oldest, or restarts from a snapshot, as asked', async () => {
    const c = client();
    const failing = c.subscribe({ stream: 'patterns' });
    const oldest = c.subscribe({ stream: 'patterns', onUnrecoverable: 'oldest' });
    const snapshots: unknown[] = [];
    const snap = c.subscribe({
      stream: 'bars',
      onUnrecoverable: 'snapshot',
      filter: { symbols: ['SPY'] },
      onSnapshot: (items, source) => snapshots.push({ items, source }),
    });
    const connected = c.connect();
    await latest().accept();
    await connected;
    const frame = (id: string): ServerFrame => ({
      type: 'unrecoverable',
      id,
      reason: 'retention',
      requested: { '0': 0 },
      oldest: 'old',
      oldestOffsets: { '0': 7 },
      snapshotAvailable: true,
    });
    latest().serve(frame(failing.id));
    await expect(failing.next()).rejects.toBeInstanceOf(UnrecoverableError);
    latest().serve(frame(oldest.id));
    expect(latest().sentOf('seek').at(-1)).toMatchObject({ id: oldest.id, to: 'earliest' });
    latest().serve(frame(snap.id));
    expect(latest().sentOf('unsubscribe').at(-1)).toEqual({ type: 'unsubscribe', id: snap.id });
    expect(latest().sentOf('subscribe').at(-1)).toMatchObject({
      id: snap.id,
      stream: 'bars',
      from: 'snapshot',
      filter: { symbols: ['SPY'] },
    });
    // Events received before the snapshot and not yet taken are superseded by it; their credits come back.
    latest().serve({ type: 'events', id: snap.id, cursor: 'before', events: [event(0, 3, 'SPY')] });
    const item = { key: 'SPY', ts: 9, data: { symbol: 'SPY', close: 1 } };
    latest().serve({ type: 'snapshot', id: snap.id, cursor: 'snapc', source: 'kafka', items: [item] });
    expect(snapshots).toEqual([{ items: [item], source: 'kafka' }]);
    expect(snap.snapshot).toEqual([item]);
    expect(latest().sentOf('credit').at(-1)).toEqual({ type: 'credit', id: snap.id, n: 1 });
    expect(snap.receivedCursor).toBe('snapc');
    expect(snap.cursor).toBe('snapc');
    // The iterator yields the events after the snapshot, an offset the superseded events had used included.
    latest().serve({ type: 'events', id: snap.id, cursor: 'after', events: [event(0, 3, 'SPY')] });
    expect((await snap.next()).value).toEqual(event(0, 3, 'SPY'));
    c.close();
  });

  it('ends a subscription the server refuses', async () => {
    const c = client();
    const sub = c.subscribe({ stream: 'patterns', filter: { universe: 'theirs' } });
    const connected = c.connect();
    await latest().accept();
    await connected;
    latest().serve({ type: 'error', code: 'forbidden_universe', message: 'no universe', id: sub.id });
    await expect(sub.next()).rejects.toThrow('forbidden_universe');
    // A subscription made while connected is sent at once.
    const other = c.subscribe({ stream: 'bars', cursor: 'saved' });
    expect(latest().sentOf('subscribe').at(-1)).toMatchObject({ id: other.id, from: { cursor: 'saved' } });
    c.close();
  });
});
