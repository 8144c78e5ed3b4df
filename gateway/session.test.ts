import { describe, expect, it, vi } from 'vitest';
import { AuthError, createLogger } from '../platform/index.js';
import type { Authenticator, UniverseResolver } from './access.js';
import { DISCONNECTS, type ClientFrame, type Disconnect, type ServerFrame } from './client/protocol.js';
import { loadGatewayConfig, type GatewayConfig } from './config.js';
import { encodeCursor } from './cursor.js';
import { OffsetOutOfRangeError, type LogSource, type TopicInfo } from './kafka-log.js';
import { PartitionRing } from './ring.js';
import { GatewaySessions, type Connection, type SessionMetrics, type SessionTail, type SessionTransport } from './session.js';
import type { SnapshotSource } from './snapshot.js';
import { patternEvent } from './test-events.js';
import type { LogEvent, PartitionBounds, StreamName } from './types.js';

// The session core driven without a socket: a fake transport per connection, a manual scheduler and clock, an
// in-memory log behind the LogSource interface and rings filled by hand.

type Frame<T extends ServerFrame['type']> = Extract<ServerFrame, { type: T }>;

class FakeTransport implements SessionTransport {
  readonly frames: ServerFrame[] = [];
  closedWith: Disconnect | undefined;
  buffered = 0;
  onClose: () => void = () => {};

  send(frame: string | Buffer): void {
    this.frames.push(JSON.parse(typeof frame === 'string' ? frame : frame.toString('utf8')) as ServerFrame);
  }

  close(disconnect: Disconnect): void {
    this.closedWith = disconnect;
    this.onClose();
  }

  bufferedAmount(): number {
    return this.buffered;
  }
}

interface Options {
  readonly partitions?: number;
  /** Records per partition in the log. */
  readonly logSize?: number;
  readonly logStart?: number;
  readonly ringCapacity?: number;
  readonly config?: Partial<GatewayConfig>;
  readonly snapshots?: SnapshotSource;
  /** Records one read-back returns per partition at most. */
  readonly readLimit?: number;
}

const EPOCH = 'epoch-1';
const topic: TopicInfo = { topic: 'patterns-topic', topicId: 'id-1', epoch: EPOCH, partitions: [0] };

/** Key of the record at `offset`: three symbols in turn. */
const keyAt = (offset: number) => ['A', 'B', 'C'][offset % 3]!;

function harness(options: Options = {}) {
  const partitionCount = options.partitions ?? 1;
  const config: GatewayConfig = { ...loadGatewayConfig({}), GATEWAY_HEARTBEAT_MS: 1_000, ...options.config };
  const log = new Map<number, LogEvent[]>();
  const logStart = new Map<number, number>();
  const rings = new Map<number, PartitionRing>();
  const ringCapacity = options.ringCapacity ?? 100;
  const tailTopic: TopicInfo = { ...topic, partitions: Array.from({ length: partitionCount }, (_, partition) => partition) };
  for (let partition = 0; partition < partitionCount; partition += 1) {
    const events = Array.from({ length: options.logSize ?? 0 }, (_, offset) =>
      patternEvent(partition, offset, keyAt(offset), {}, 1_000 + offset * 10 + partition),
    );
    log.set(partition, events);
    logStart.set(partition, options.logStart ?? 0);
    const ring = new PartitionRing(ringCapacity, Math.max(options.logStart ?? 0, events.length - ringCapacity));
    ring.append({ events: events.filter((event) => event.offset >= ring.coveredFrom), nextOffset: events.length });
    rings.set(partition, ring);
  }
  const tail: SessionTail & { topic: TopicInfo } = { rings, topic: tailTopic, refreshPartitions: vi.fn(async () => {}) };
  const boundsOf = (): Map<number, PartitionBounds> =>
    new Map([...log].map(([partition, events]) => [partition, { logStart: logStart.get(partition)!, high: events.length }]));
  const fail = { bounds: false, reads: false };
  /** Runs as a read-back starts (to change the log under it). */
  const hooks = { beforeRead: () => {} };
  const source: LogSource & { reads: number } = {
    reads: 0,
    describe: async () => tail.topic,
    bounds: async () => {
      if (fail.bounds) throw new Error('broker down');
      return boundsOf();
    },
    offsetsForTime: async (_topic, timestampMs) =>
      new Map(
        [...log].map(([partition, events]) => [
          partition,
          events.find((event) => event.timestampMs >= timestampMs)?.offset ?? events.length,
        ]),
      ),
    read: async (_info, from) => {
      source.reads += 1;
      hooks.beforeRead();
      if (fail.reads) throw new Error('fetch failed');
      const result = new Map<number, { events: LogEvent[]; nextOffset: number; logStart: number; high: number }>();
      for (const [partition, offset] of from) {
        const bounds = boundsOf().get(partition)!;
        if (offset < bounds.logStart) throw new OffsetOutOfRangeError(partition, offset, bounds);
        const events = log
          .get(partition)!
          .filter((event) => event.offset >= offset)
          .slice(0, options.readLimit ?? 50);
        result.set(partition, { events, nextOffset: events.length > 0 ? events.at(-1)!.offset + 1 : offset, ...bounds });
      }
      return result;
    },
    close: async () => {},
  };
  const authenticator: Authenticator = {
    authenticate: async ({ token, apiKey }) => {
      if (token === 'good') return { userId: 'u1', via: 'token' };
      if (apiKey === 'boom') throw new Error('database down');
      if (apiKey === 'restarting') throw new Error('Connection terminated unexpectedly');
      throw new AuthError('token_invalid', 'token invalid');
    },
  };
  const universes: UniverseResolver = {
    symbolsFor: async (_user, key) => {
      if (key === 'boom') throw new Error('database down');
      return ({ ab: ['A', 'B'], abc: ['A', 'B', 'C'] } as Record<string, string[]>)[key];
    },
  };
  const counts = new Map<string, number>();
  const count =
    (name: string) =>
    (labels?: Record<string, string>, value = 1): void => {
      const key = labels ? `${name}:${Object.values(labels).join(',')}` : name;
      counts.set(key, (counts.get(key) ?? 0) + value);
    };
  const gauge = (name: string) => ({ set: (value: number) => counts.set(name, value) });
  const metrics: SessionMetrics = {
    connections: gauge('connections'),
    subscriptions: { inc: () => count('subscriptions')(), dec: () => count('subscriptions')(undefined, -1) },
    delivered: { inc: count('delivered') },
    frames: { inc: count('frames') },
    errors: { inc: count('errors') },
    readBacks: { inc: () => count('readBacks')() },
    unrecoverable: { inc: count('unrecoverable') },
    backpressure: { inc: () => count('backpressure')() },
    sendBuffer: gauge('sendBuffer'),
    closes: { inc: count('closes') },
  };
  const immediates: (() => void)[] = [];
  const delayed: { delayMs: number; task: () => void }[] = [];
  const clock = { now: 1_000_000 };
  const frameLog: (string | Buffer)[] = [];
  const sessions = new GatewaySessions({
    config,
    tails: new Map<StreamName, SessionTail>([['patterns', tail]]),
    source,
    authenticator,
    universes,
    logger: createLogger('session-test', { level: 'silent' }),
    metrics,
    serverName: 'test-gateway',
    clock: () => clock.now,
    scheduler: { immediate: (task) => immediates.push(task), after: (delayMs, task) => delayed.push({ delayMs, task }) },
    onFrameSent: (frame) => frameLog.push(frame),
    ...(options.snapshots ? { snapshots: options.snapshots } : {}),
  });

  /** Lets handlers, reads and scheduled deliveries run until nothing is left to do (no timer is waited on). */
  const settle = async () => {
    for (let round = 0; round < 30; round += 1) {
      await new Promise((resolve) => setImmediate(resolve));
      while (immediates.length > 0) immediates.shift()!();
    }
  };

  /** Appends records to the log and the ring, as the tail does, and tells the sessions. */
  const append = (partition: number, count: number, key?: string) => {
    const events = log.get(partition)!;
    const added = Array.from({ length: count }, (_, index) =>
      patternEvent(partition, events.length + index, key ?? keyAt(events.length + index), {}, 1_000 + (events.length + index) * 10),
    );
    events.push(...added);
    rings.get(partition)!.append({ events: added, nextOffset: events.length });
    sessions.appended('patterns');
  };

  const connect = () => {
    const transport = new FakeTransport();
    const connection: Connection = sessions.open(transport);
    transport.onClose = () => sessions.disconnected(connection);
    const client = {
      transport,
      connection,
      frames: transport.frames,
      send(frame: ClientFrame | string) {
        const text = typeof frame === 'string' ? frame : JSON.stringify(frame);
        sessions.message(connection, new TextEncoder().encode(text).buffer, false);
      },
      of<T extends ServerFrame['type']>(type: T): Frame<T>[] {
        return transport.frames.filter((frame): frame is Frame<T> => frame.type === type);
      },
      last<T extends ServerFrame['type']>(type: T): Frame<T> {
        const frames = client.of(type);
        if (frames.length === 0) throw new Error(`no ${type} frame; got ${JSON.stringify(transport.frames.map((frame) => frame.type))}`);
        return frames.at(-1)!;
      },
      events(id: string) {
        return client.of('events').flatMap((frame) => (frame.id === id ? frame.events : []));
      },
      async auth() {
        client.send({ type: 'auth', token: 'good' });
        await settle();
        expect(client.last('authenticated').userId).toBe('u1');
        return client;
      },
    };
    return client;
  };

  return { sessions, config, tail, log, logStart, rings, source, fail, hooks, counts, clock, delayed, frameLog, settle, append, connect };
}

describe('session core: connect and authenticate', () => {
  it('greets with welcome and the limits, and authenticates with a token', async () => {
    const h = harness({ config: { GATEWAY_MAX_SUBSCRIPTIONS: 3 } });
    const client = h.connect();
    expect(client.frames[0]).toMatchObject({
      type: 'welcome',
      server: 'test-gateway',
      heartbeatMs: 1_000,
      limits: { maxSubscriptions: 3 },
    });
    expect(h.sessions.connectionCount).toBe(1);
    await client.auth();
    expect(h.frameLog).toHaveLength(2);
    client.send({ type: 'auth', token: 'good' });
    await h.settle();
    expect(client.last('error')).toMatchObject({ code: 'already_authenticated' });
  });

  it('refuses frames before auth, and closes with auth_failed (4003) on a bad credential', async () => {
    const h = harness();
    const client = h.connect();
    client.send({ type: 'credit', id: 's', n: 1 });
    client.send({ type: 'ping', nonce: 'n1' });
    await h.settle();
    expect(client.last('error')).toMatchObject({ code: 'not_authenticated', id: 's' });
    expect(client.last('pong')).toEqual({ type: 'pong', ts: h.clock.now, nonce: 'n1' });
    client.send({ type: 'auth', token: 'bad' });
    await h.settle();
    expect(client.last('error')).toMatchObject({ code: 'auth_failed', message: 'token invalid' });
    expect(client.transport.closedWith).toBe(DISCONNECTS.authFailed);
    expect(client.transport.closedWith?.code).toBe(4003);
    expect(h.counts.get('closes:auth_failed')).toBe(1);
    expect(h.sessions.connectionCount).toBe(0);
  });

  it('hides an unexpected authenticator failure behind a generic message', async () => {
    const h = harness();
    const client = h.connect();
    client.send({ type: 'auth', apiKey: 'boom' });
    await h.settle();
    expect(client.last('error')).toMatchObject({ code: 'auth_failed', message: 'authentication failed' });
    expect(client.transport.closedWith?.code).toBe(4003);
  });

  it('answers unavailable and keeps the connection when the credential cannot be checked (the database restarting)', async () => {
    const h = harness();
    const client = h.connect();
    client.send({ type: 'auth', apiKey: 'restarting' });
    await h.settle();
    expect(client.last('error')).toMatchObject({ code: 'unavailable' });
    expect(client.transport.closedWith).toBeUndefined();
    client.send({ type: 'auth', token: 'good' });
    await h.settle();
    expect(client.last('authenticated')).toMatchObject({ userId: 'u1' });
  });

  it('answers bad frames with error frames and keeps the connection', async () => {
    const h = harness();
    const client = h.connect();
    client.send('{not json');
    client.send('{"type":"dance"}');
    h.sessions.message(client.connection, new Uint8Array([0xff, 0xfe]).buffer, false);
    h.sessions.message(client.connection, new Uint8Array([1]).buffer, true);
    await h.settle();
    expect(client.of('error').map((frame) => frame.code)).toEqual(['malformed_json', 'unknown_type', 'malformed_json', 'malformed_json']);
    expect(h.counts.get('frames:invalid')).toBe(3);
    expect(client.transport.closedWith).toBeUndefined();
  });
});

describe('session core: close codes', () => {
  it('closes a connection that does not authenticate in time with 4001, and an idle one with 4000', async () => {
    const h = harness({ config: { GATEWAY_AUTH_TIMEOUT_MS: 5_000, GATEWAY_IDLE_TIMEOUT_MS: 60_000 } });
    const anonymous = h.connect();
    const idle = await h.connect().auth();
    const busy = await h.connect().auth();
    busy.send({ type: 'subscribe', id: 's', stream: 'patterns' });
    await h.settle();
    h.sessions.housekeeping(h.clock.now + 5_001);
    expect(anonymous.transport.closedWith).toEqual({ code: 4001, name: 'auth_timeout', reason: 'authentication timed out' });
    expect(idle.transport.closedWith).toBeUndefined();
    h.sessions.housekeeping(h.clock.now + 60_001);
    expect(idle.transport.closedWith).toEqual(DISCONNECTS.idle);
    expect(busy.transport.closedWith).toBeUndefined();
    expect(h.counts.get('closes:idle')).toBe(1);
  });

  it('closes everyone with 1001 on shutdown', () => {
    const h = harness();
    const clients = [h.connect(), h.connect()];
    h.sessions.shutdown();
    for (const client of clients) expect(client.transport.closedWith).toEqual(DISCONNECTS.shutdown);
    expect(h.sessions.connectionCount).toBe(0);
  });

  it('rate-limits frames with one error per second, then closes a flood with 4029', async () => {
    const h = harness({ config: { GATEWAY_FRAMES_PER_SECOND: 1, GATEWAY_FRAME_BURST: 1 } });
    const client = h.connect();
    client.send({ type: 'ping' });
    client.send({ type: 'ping' });
    client.send({ type: 'ping' });
    await h.settle();
    expect(client.of('pong')).toHaveLength(1);
    expect(client.of('error').map((frame) => frame.code)).toEqual(['rate_limited']);
    for (let frame = 0; frame < 500 && !client.transport.closedWith; frame += 1) client.send({ type: 'ping' });
    expect(client.transport.closedWith).toEqual(DISCONNECTS.flood);
    expect(client.transport.closedWith?.code).toBe(4029);
  });

  it('pauses on a full send buffer, resumes on drain, and closes a peer that stopped reading with 4008', async () => {
    const h = harness({ config: { GATEWAY_MAX_BUFFERED_BYTES: 100, GATEWAY_STALL_TIMEOUT_MS: 10_000 } });
    const client = await h.connect().auth();
    client.send({ type: 'subscribe', id: 's', stream: 'patterns', credits: 100 });
    await h.settle();
    client.transport.buffered = 1_000;
    h.append(0, 3);
    await h.settle();
    expect(client.events('s')).toHaveLength(0);
    expect(h.counts.get('backpressure')).toBe(1);
    h.sessions.drain(client.connection); // still above the limit: nothing moves
    await h.settle();
    expect(client.events('s')).toHaveLength(0);
    client.transport.buffered = 0;
    h.sessions.drain(client.connection);
    await h.settle();
    expect(client.events('s').map((event) => event.o)).toEqual([0, 1, 2]);
    // A buffer that drained in time is forgiven; one full past the stall limit closes the connection.
    client.transport.buffered = 1_000;
    h.append(0, 1);
    await h.settle();
    expect(h.sessions.sendBuffers()).toEqual({ total: 1_000, largest: 1_000 });
    h.sessions.housekeeping(h.clock.now + 10_001);
    expect(h.counts.get('sendBuffer')).toBe(1_000);
    expect(client.transport.closedWith).toEqual(DISCONNECTS.stalled);
    expect(client.transport.closedWith?.code).toBe(4008);
  });

  it('forgets a full buffer that drained without a drain event', async () => {
    const h = harness({ config: { GATEWAY_MAX_BUFFERED_BYTES: 100, GATEWAY_STALL_TIMEOUT_MS: 10_000 } });
    const client = await h.connect().auth();
    client.send({ type: 'subscribe', id: 's', stream: 'patterns' });
    await h.settle();
    client.transport.buffered = 1_000;
    h.append(0, 1);
    await h.settle();
    client.transport.buffered = 0;
    h.sessions.housekeeping(h.clock.now + 10_001);
    expect(client.transport.closedWith).toBeUndefined();
  });
});

describe('session core: subscribe, credit and conflation', () => {
  it('subscribes at the head and delivers new records within the credits', async () => {
    const h = harness({ logSize: 5 });
    const client = await h.connect().auth();
    client.send({ type: 'subscribe', id: 's', stream: 'patterns', credits: 2 });
    await h.settle();
    const subscribed = client.last('subscribed');
    expect(subscribed).toMatchObject({ id: 's', stream: 'patterns', backlog: 0, conflate: false });
    expect(client.events('s')).toEqual([]);
    h.append(0, 5);
    await h.settle();
    expect(client.events('s').map((event) => event.o)).toEqual([5, 6]);
    client.send({ type: 'credit', id: 's', n: 10 });
    await h.settle();
    expect(client.events('s').map((event) => event.o)).toEqual([5, 6, 7, 8, 9]);
    expect(client.of('resumed')).toEqual([]);
    expect(h.counts.get('delivered:patterns')).toBe(5);
    // Each events frame carries the cursor after it.
    expect(client.last('events').cursor).toBe(encodeCursor({ stream: 'patterns', epoch: EPOCH, next: { 0: 10 } }));
  });

  it('caps credits at the limit and sends heartbeats with cursor, credits and lag', async () => {
    const h = harness({ config: { GATEWAY_MAX_CREDITS: 3 } });
    const client = await h.connect().auth();
    h.connect(); // not authenticated: no heartbeat
    client.send({ type: 'subscribe', id: 's', stream: 'patterns', credits: 0 });
    client.send({ type: 'credit', id: 's', n: 3 });
    client.send({ type: 'credit', id: 's', n: 3 });
    await h.settle();
    h.append(0, 5);
    await h.settle();
    expect(client.events('s')).toHaveLength(3);
    h.sessions.heartbeat();
    expect(client.last('heartbeat')).toEqual({
      type: 'heartbeat',
      ts: h.clock.now,
      subscriptions: { s: { cursor: encodeCursor({ stream: 'patterns', epoch: EPOCH, next: { 0: 3 } }), credits: 0, lagRecords: 2 } },
    });
  });

  it('filters by symbols or a universe, and refuses what it may not serve', async () => {
    const h = harness({ config: { GATEWAY_MAX_SUBSCRIPTIONS: 3, GATEWAY_MAX_SYMBOLS: 2 } });
    const client = await h.connect().auth();
    client.send({ type: 'subscribe', id: 'a', stream: 'patterns', filter: { symbols: ['A'] } });
    client.send({ type: 'subscribe', id: 'u', stream: 'patterns', filter: { universe: 'ab', symbols: ['B', 'C'] } });
    client.send({ type: 'subscribe', id: 'a', stream: 'patterns' });
    client.send({ type: 'subscribe', id: 'big', stream: 'patterns', filter: { universe: 'abc' } });
    client.send({ type: 'subscribe', id: 'nope', stream: 'patterns', filter: { universe: 'secret' } });
    client.send({ type: 'subscribe', id: 'bars', stream: 'bars' });
    client.send({ type: 'subscribe', id: 'x', stream: 'patterns' });
    client.send({ type: 'subscribe', id: 'y', stream: 'patterns' });
    await h.settle();
    expect(client.of('error').map((frame) => [frame.id, frame.code])).toEqual([
      ['a', 'duplicate_subscription'],
      ['big', 'subscription_too_large'],
      ['nope', 'forbidden_universe'],
      ['bars', 'unavailable'],
      ['y', 'too_many_subscriptions'],
    ]);
    h.append(0, 6);
    await h.settle();
    expect(client.events('a').map((event) => event.key)).toEqual(['A', 'A']);
    expect(client.events('u').map((event) => event.key)).toEqual(['B', 'B']);
    expect(client.events('x')).toHaveLength(6);
  });

  it('conflates per key within the credits, tagging folded deliveries', async () => {
    const h = harness();
    const client = await h.connect().auth();
    client.send({ type: 'subscribe', id: 's', stream: 'patterns', conflate: true, credits: 0 });
    await h.settle();
    expect(client.last('subscribed').conflate).toBe(true);
    h.append(0, 3, 'A');
    h.append(0, 2, 'B');
    await h.settle();
    client.send({ type: 'credit', id: 's', n: 5 });
    await h.settle();
    expect(client.events('s').map((event) => [event.key, event.o, event.folded])).toEqual([
      ['A', 2, 3],
      ['B', 4, 2],
    ]);
  });

  it('unsubscribes, and answers frames naming no subscription', async () => {
    const h = harness();
    const client = await h.connect().auth();
    client.send({ type: 'subscribe', id: 's', stream: 'patterns' });
    client.send({ type: 'unsubscribe', id: 's' });
    client.send({ type: 'credit', id: 's', n: 1 });
    client.send({ type: 'seek', id: 's', to: 'earliest' });
    await h.settle();
    expect(client.last('unsubscribed')).toEqual({ type: 'unsubscribed', id: 's' });
    expect(client.of('error').map((frame) => frame.code)).toEqual(['unknown_subscription', 'unknown_subscription']);
    expect(h.counts.get('subscriptions')).toBe(0);
    h.append(0, 2);
    await h.settle();
    expect(client.events('s')).toEqual([]);
  });
});

describe('session core: resume and seek', () => {
  it('resumes from memory: the backlog from the ring, then a resumed report', async () => {
    const h = harness({ logSize: 20 });
    const client = await h.connect().auth();
    client.send({ type: 'subscribe', id: 's', stream: 'patterns', from: { offsets: { '0': 12 } }, credits: 100 });
    await h.settle();
    expect(client.last('subscribed').backlog).toBe(8);
    expect(client.events('s').map((event) => event.o)).toEqual([12, 13, 14, 15, 16, 17, 18, 19]);
    const { report } = client.last('resumed');
    expect(report).toMatchObject({ count: 8, range: { '0': [12, 20] }, fromRing: 8, fromKafka: 0, lagRecords: 0 });
    expect(report.lagMs).toBe(h.clock.now - 1_190);
    expect(h.source.reads).toBe(0);
  });

  it('resumes from the log: positions older than the ring are read back from Kafka', async () => {
    const h = harness({ logSize: 30, ringCapacity: 10, readLimit: 10 });
    const client = await h.connect().auth();
    const cursor = encodeCursor({ stream: 'patterns', epoch: EPOCH, next: { 0: 5 } });
    client.send({ type: 'subscribe', id: 's', stream: 'patterns', from: { cursor }, credits: 100 });
    await h.settle();
    expect(client.events('s').map((event) => event.o)).toEqual(Array.from({ length: 25 }, (_, index) => 5 + index));
    // 5-14 and 15-24 read back (the ring holds 20-29 only), then 25-29 from the ring.
    expect(client.last('resumed').report).toMatchObject({ count: 25, fromKafka: 20, fromRing: 5 });
    expect(h.counts.get('readBacks')).toBe(2);
  });

  it('keeps records read back beyond the credits, and delivers them when credits come', async () => {
    const h = harness({ logSize: 30, ringCapacity: 10 });
    const client = await h.connect().auth();
    client.send({ type: 'subscribe', id: 's', stream: 'patterns', from: 'earliest', credits: 4 });
    await h.settle();
    expect(client.events('s')).toHaveLength(4);
    client.send({ type: 'credit', id: 's', n: 100 });
    await h.settle();
    expect(client.events('s').map((event) => event.o)).toEqual(Array.from({ length: 30 }, (_, index) => index));
    expect(h.source.reads).toBe(1);
    expect(client.last('resumed').report.count).toBe(30);
  });

  it('retries a failed read-back later', async () => {
    const h = harness({ logSize: 30, ringCapacity: 10 });
    const client = await h.connect().auth();
    h.fail.reads = true;
    client.send({ type: 'subscribe', id: 's', stream: 'patterns', from: 'earliest' });
    await h.settle();
    expect(client.events('s')).toEqual([]);
    expect(h.delayed.map((entry) => entry.delayMs)).toEqual([1_000]);
    h.fail.reads = false;
    h.delayed.shift()!.task();
    await h.settle();
    expect(client.events('s')).toHaveLength(30);
  });

  it('retries a read-back that made no progress later', async () => {
    const h = harness({ logSize: 30, ringCapacity: 10, readLimit: 0 });
    const client = await h.connect().auth();
    client.send({ type: 'subscribe', id: 's', stream: 'patterns', from: 'earliest' });
    await h.settle();
    expect(client.events('s')).toEqual([]);
    expect(h.delayed).toHaveLength(1);
  });

  it('starts from a time', async () => {
    const h = harness({ logSize: 10 });
    const client = await h.connect().auth();
    client.send({ type: 'subscribe', id: 's', stream: 'patterns', from: { timestamp: 1_075 } });
    await h.settle();
    expect(client.events('s').map((event) => event.o)).toEqual([8, 9]);
  });

  it('seeks: replaces the credits when asked and restarts from the new position', async () => {
    const h = harness({ logSize: 10 });
    const client = await h.connect().auth();
    client.send({ type: 'subscribe', id: 's', stream: 'patterns', credits: 100 });
    client.send({ type: 'seek', id: 's', to: { offsets: { '0': 7 } }, credits: 2 });
    await h.settle();
    expect(client.last('seeked')).toMatchObject({
      id: 's',
      backlog: 3,
      cursor: encodeCursor({ stream: 'patterns', epoch: EPOCH, next: { 0: 7 } }),
    });
    expect(client.events('s').map((event) => event.o)).toEqual([7, 8]);
    client.send({ type: 'seek', id: 's', to: 'latest', credits: 5 });
    await h.settle();
    expect(client.last('seeked').backlog).toBe(0);
    h.append(0, 1);
    await h.settle();
    expect(client.events('s').map((event) => event.o)).toEqual([7, 8, 10]);
  });

  it('rejects bad cursors and is unavailable when the log is not reachable', async () => {
    const h = harness({ logSize: 3 });
    const client = await h.connect().auth();
    client.send({ type: 'subscribe', id: 'a', stream: 'patterns', from: { cursor: 'c1.nonsense' } });
    client.send({
      type: 'subscribe',
      id: 'b',
      stream: 'patterns',
      from: { cursor: encodeCursor({ stream: 'bars', epoch: EPOCH, next: {} }) },
    });
    client.send({ type: 'subscribe', id: 'c', stream: 'patterns', from: { offsets: { '7': 0 } } });
    await h.settle();
    expect(client.of('error').map((frame) => [frame.id, frame.code])).toEqual([
      ['a', 'bad_cursor'],
      ['b', 'bad_cursor'],
      ['c', 'bad_field'],
    ]);
    h.fail.bounds = true;
    client.send({ type: 'subscribe', id: 'd', stream: 'patterns', from: 'earliest' });
    await h.settle();
    expect(client.last('error')).toMatchObject({ id: 'd', code: 'unavailable' });
  });

  it('answers a frame whose handling failed with an internal error, and handles the next one', async () => {
    const h = harness();
    const client = await h.connect().auth();
    client.send({ type: 'subscribe', id: 's', stream: 'patterns', filter: { universe: 'boom' } });
    client.send({ type: 'ping' });
    await h.settle();
    expect(client.of('error').map((frame) => frame.code)).toEqual(['internal']);
    expect(client.of('pong')).toHaveLength(1);
  });

  it('learns of partitions a cursor names that it has not seen yet', async () => {
    const h = harness({ logSize: 3 });
    const client = await h.connect().auth();
    const cursor = encodeCursor({ stream: 'patterns', epoch: EPOCH, next: { 0: 1, 1: 0 } });
    client.send({ type: 'subscribe', id: 's', stream: 'patterns', from: { cursor } });
    await h.settle();
    expect(h.tail.refreshPartitions).toHaveBeenCalledTimes(1);
    expect(client.last('error')).toMatchObject({
      id: 's',
      code: 'bad_cursor',
      message: 'the cursor names partitions the topic does not have: 1',
    });
    vi.mocked(h.tail.refreshPartitions).mockRejectedValueOnce(new Error('broker down'));
    client.send({ type: 'subscribe', id: 't', stream: 'patterns', from: { cursor } });
    await h.settle();
    expect(client.last('error')).toMatchObject({ id: 't', code: 'unavailable' });
  });

  it('takes partitions added at runtime from their log start', async () => {
    const h = harness({ logSize: 2 });
    const client = await h.connect().auth();
    client.send({ type: 'subscribe', id: 's', stream: 'patterns' });
    await h.settle();
    h.log.set(1, [patternEvent(1, 0, 'A'), patternEvent(1, 1, 'B')]);
    h.logStart.set(1, 0);
    const ring = new PartitionRing(100, 0);
    ring.append({ events: h.log.get(1)!, nextOffset: 2 });
    h.rings.set(1, ring);
    h.sessions.partitionsAdded('patterns', new Map([[1, 0]]));
    await h.settle();
    expect(client.events('s').map((event) => `${event.p}:${event.o}`)).toEqual(['1:0', '1:1']);
  });
});

describe('session core: unrecoverable positions', () => {
  it('pauses a subscription whose position left retention, until it seeks', async () => {
    const h = harness({ logSize: 10, logStart: 4 });
    const client = await h.connect().auth();
    client.send({ type: 'subscribe', id: 's', stream: 'patterns', from: { offsets: { '0': 2 } } });
    await h.settle();
    expect(client.last('unrecoverable')).toEqual({
      type: 'unrecoverable',
      id: 's',
      reason: 'retention',
      requested: { '0': 2 },
      oldest: encodeCursor({ stream: 'patterns', epoch: EPOCH, next: { 0: 4 } }),
      oldestOffsets: { '0': 4 },
      snapshotAvailable: true,
    });
    expect(h.counts.get('unrecoverable:retention')).toBe(1);
    h.append(0, 1);
    await h.settle();
    expect(client.events('s')).toEqual([]);
    client.send({ type: 'seek', id: 's', to: { cursor: client.last('unrecoverable').oldest } });
    await h.settle();
    expect(client.events('s').map((event) => event.o)).toEqual([4, 5, 6, 7, 8, 9, 10]);
  });

  it('declares positions ahead of the log, and cursors of another epoch, unrecoverable', async () => {
    const h = harness({ logSize: 5 });
    const client = await h.connect().auth();
    client.send({ type: 'subscribe', id: 'ahead', stream: 'patterns', from: { offsets: { '0': 9 } } });
    client.send({
      type: 'subscribe',
      id: 'old',
      stream: 'patterns',
      from: { cursor: encodeCursor({ stream: 'patterns', epoch: 'epoch-0', next: { 0: 1 } }) },
    });
    await h.settle();
    expect(client.of('unrecoverable').map((frame) => [frame.id, frame.reason])).toEqual([
      ['ahead', 'ahead'],
      ['old', 'epoch'],
    ]);
    client.send({ type: 'seek', id: 'old', to: { offsets: { '0': 99 } } });
    await h.settle();
    expect(client.last('unrecoverable')).toMatchObject({ id: 'old', reason: 'ahead' });
  });

  it('declares a read-back whose records were deleted meanwhile unrecoverable', async () => {
    const h = harness({ logSize: 30, ringCapacity: 10 });
    const client = await h.connect().auth();
    // Retention deletes records between the subscribe and the read-back.
    h.hooks.beforeRead = () => h.logStart.set(0, 15);
    client.send({ type: 'subscribe', id: 's', stream: 'patterns', from: { offsets: { '0': 2 } } });
    await h.settle();
    expect(client.last('subscribed').backlog).toBe(28);
    expect(client.last('unrecoverable')).toMatchObject({ id: 's', reason: 'retention', requested: { '0': 2 }, oldestOffsets: { '0': 15 } });
    expect(h.delayed).toEqual([]);
  });

  it('declares every position unrecoverable when the topic is recreated, with bounds from the rings if the log is down', async () => {
    const h = harness({ logSize: 5 });
    const client = await h.connect().auth();
    client.send({ type: 'subscribe', id: 's', stream: 'patterns' });
    await h.settle();
    h.fail.bounds = true;
    h.sessions.topicReset('patterns');
    await h.settle();
    expect(client.last('unrecoverable')).toMatchObject({ id: 's', reason: 'epoch', requested: { '0': 5 }, oldestOffsets: { '0': 0 } });
  });
});

describe('session core: snapshots', () => {
  it('sends a snapshot folded from the rings when there is no read model', async () => {
    const h = harness();
    const client = await h.connect().auth();
    h.append(0, 4);
    client.send({ type: 'subscribe', id: 's', stream: 'patterns', from: 'snapshot', filter: { symbols: ['A'] } });
    await h.settle();
    const types = client.frames.slice(2).map((frame) => frame.type);
    expect(types).toEqual(['subscribed', 'snapshot', 'resumed']);
    expect(client.last('snapshot')).toMatchObject({ id: 's', source: 'kafka' });
  });

  it('sends the read model snapshot when its offsets are inside the log, and falls back to the rings otherwise', async () => {
    const items = [{ key: 'A', ts: 1, data: { symbol: 'A' } }];
    let next = new Map([[0, 3]]);
    let failing = false;
    const snapshots: SnapshotSource = {
      snapshot: async () => {
        if (failing) throw new Error('redis down');
        return { source: 'redis', next, items };
      },
    };
    const h = harness({ logSize: 5, snapshots });
    const client = await h.connect().auth();
    client.send({ type: 'subscribe', id: 'r', stream: 'patterns', from: 'snapshot' });
    await h.settle();
    expect(client.last('snapshot')).toMatchObject({
      id: 'r',
      source: 'redis',
      items,
      cursor: encodeCursor({ stream: 'patterns', epoch: EPOCH, next: { 0: 3 } }),
    });
    expect(client.events('r').map((event) => event.o)).toEqual([3, 4]);
    next = new Map([[0, 99]]);
    client.send({ type: 'subscribe', id: 'k', stream: 'patterns', from: 'snapshot' });
    failing = true;
    client.send({ type: 'subscribe', id: 'f', stream: 'patterns', from: 'snapshot' });
    await h.settle();
    expect(client.of('snapshot').map((frame) => [frame.id, frame.source])).toEqual([
      ['r', 'redis'],
      ['k', 'kafka'],
      ['f', 'kafka'],
    ]);
  });
});
