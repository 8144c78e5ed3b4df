import { describe, expect, it } from 'vitest';
import { deliveriesFrame } from './batch.js';
import { DISCONNECTS, type ClientFrame, type Disconnect, type ServerFrame } from './client/protocol.js';
import { loadGatewayConfig, type GatewayConfig } from './config.js';
import { encodeCursor } from './cursor.js';
import { PartitionRing } from './ring.js';
import {
  initialSessionState,
  rulesOf,
  sessionCore,
  step,
  type ReadFailure,
  type ReadResult,
  type SessionCommand,
  type SessionInput,
  type SessionMetric,
  type SessionRead,
} from './session-core.js';
import { patternEvent } from './test-events.js';
import type { LogEvent, PartitionBounds } from './types.js';

// The session core alone: inputs in, commands out. No socket, no port, no promise: every read the core asks for is
// answered (or not) by the test, and time is a number.

type Frame<T extends ServerFrame['type']> = Extract<ServerFrame, { type: T }>;
type ReadCommand = Extract<SessionCommand, { type: 'read' }>;

const EPOCH = 'epoch-1';
const T0 = 1_000_000;
const keyAt = (offset: number) => ['A', 'B', 'C'][offset % 3]!;

interface Options {
  readonly partitions?: number;
  readonly logSize?: number;
  readonly ringCapacity?: number;
  readonly config?: Partial<GatewayConfig>;
  readonly readModel?: boolean;
}

function driver(options: Options = {}) {
  const config: GatewayConfig = { ...loadGatewayConfig({}), GATEWAY_HEARTBEAT_MS: 1_000, ...options.config };
  const core = sessionCore(rulesOf(config, 'test-gateway', options.readModel ?? false));
  let state = initialSessionState(['patterns']);
  const log = new Map<number, LogEvent[]>();
  const rings = new Map<number, PartitionRing>();
  const ringCapacity = options.ringCapacity ?? 100;
  for (let partition = 0; partition < (options.partitions ?? 1); partition += 1) {
    const events = Array.from({ length: options.logSize ?? 0 }, (_, offset) =>
      patternEvent(partition, offset, keyAt(offset), {}, 1_000 + offset * 10 + partition),
    );
    log.set(partition, events);
    const ring = new PartitionRing(ringCapacity, Math.max(0, events.length - ringCapacity));
    ring.append({ events: events.filter((event) => event.offset >= ring.coveredFrom), nextOffset: events.length });
    rings.set(partition, ring);
  }
  const buffered = new Map<number, number>();
  const env = {
    now: T0,
    streams: new Map([['patterns' as const, { rings, topic: { topic: 'patterns-topic', epoch: EPOCH } }]]),
    bufferedBytes: (connection: number) => buffered.get(connection) ?? 0,
  };
  const frames = new Map<number, ServerFrame[]>();
  const closes = new Map<number, Disconnect>();
  const reads: ReadCommand[] = [];
  const metrics: SessionMetric[] = [];
  const logs: string[] = [];
  const retries: Extract<SessionCommand, { type: 'retryAfter' }>[] = [];
  const history: SessionCommand[][] = [];
  let flushDue = false;

  const feed = (input: SessionInput): readonly SessionCommand[] => {
    const transition = step(core, state, input, env);
    state = transition.state;
    history.push([...transition.commands]);
    for (const command of transition.commands) {
      switch (command.type) {
        case 'send':
          frames.get(command.connection)!.push(command.frame);
          break;
        case 'events': {
          // The shell's framing, to check the command carries what a valid frame needs.
          const head = `{"type":"events","id":${JSON.stringify(command.id)},"cursor":${JSON.stringify(command.cursor)},"events":[`;
          frames.get(command.connection)!.push(JSON.parse(deliveriesFrame(head, command.deliveries, ']}').toString('utf8')) as ServerFrame);
          break;
        }
        case 'close':
          closes.set(command.connection, command.disconnect);
          break;
        case 'read':
          reads.push(command);
          break;
        case 'flushSoon':
          flushDue = true;
          break;
        case 'retryAfter':
          retries.push(command);
          break;
        case 'metric':
          metrics.push(command.metric);
          break;
        case 'log':
          logs.push(`${command.level}: ${command.message}`);
          break;
      }
    }
    return transition.commands;
  };

  /** Runs the delivery flushes the core asked for, as the shell's scheduler would. */
  const settle = () => {
    for (let round = 0; flushDue && round < 100; round += 1) {
      flushDue = false;
      feed({ type: 'flush' });
    }
  };

  /** The oldest unanswered read of `kind`. */
  const pending = <K extends SessionRead['kind']>(kind: K): ReadCommand & { read: Extract<SessionRead, { kind: K }> } => {
    const index = reads.findIndex((command) => command.read.kind === kind);
    if (index < 0) throw new Error(`no pending ${kind} read; pending: ${reads.map((command) => command.read.kind).join(', ')}`);
    return reads.splice(index, 1)[0] as ReadCommand & { read: Extract<SessionRead, { kind: K }> };
  };
  const reply = (command: ReadCommand, result: ReadResult) => {
    feed({ type: 'result', connection: command.connection, ticket: command.ticket, result });
    settle();
    return command;
  };
  const answer = (kind: SessionRead['kind'], result: ReadResult) => reply(pending(kind), result);
  const fail = (kind: SessionRead['kind'], failure: ReadFailure, message = 'it failed') => {
    const command = pending(kind);
    feed({ type: 'failed', connection: command.connection, ticket: command.ticket, failure, message });
    settle();
    return command;
  };
  const bounds = (logStart = 0): ReadResult => ({
    kind: 'bounds',
    bounds: new Map<number, PartitionBounds>([...log].map(([partition, events]) => [partition, { logStart, high: events.length }])),
  });
  /** The log from `from` on, at most `limit` records per partition, as a read-back answers. */
  const logRead = (from: ReadonlyMap<number, number>, limit = 10): ReadResult => ({
    kind: 'log',
    reads: new Map(
      [...from].map(([partition, offset]) => {
        const events = log
          .get(partition)!
          .filter((event) => event.offset >= offset)
          .slice(0, limit);
        const next = events.length > 0 ? events.at(-1)!.offset + 1 : offset;
        return [partition, { events, nextOffset: next, logStart: 0, high: log.get(partition)!.length }];
      }),
    ),
  });

  /** Appends records to the log and the ring, as the tail does, and tells the core. */
  const append = (partition: number, count: number, key?: string, options = { settle: true }) => {
    const events = log.get(partition)!;
    const added = Array.from({ length: count }, (_, index) =>
      patternEvent(partition, events.length + index, key ?? keyAt(events.length + index), {}, 1_000 + (events.length + index) * 10),
    );
    events.push(...added);
    rings.get(partition)!.append({ events: added, nextOffset: events.length });
    feed({ type: 'appended', stream: 'patterns' });
    if (options.settle) settle();
  };

  let nextConnection = 1;
  const connect = () => {
    const id = nextConnection++;
    frames.set(id, []);
    feed({ type: 'open', connection: id });
    const client = {
      id,
      get frames() {
        return frames.get(id)!;
      },
      get closedWith() {
        return closes.get(id);
      },
      send(frame: ClientFrame | string) {
        const text = typeof frame === 'string' ? frame : JSON.stringify(frame);
        feed({ type: 'message', connection: id, data: new TextEncoder().encode(text), binary: false });
        settle();
      },
      of<T extends ServerFrame['type']>(type: T): Frame<T>[] {
        return client.frames.filter((frame): frame is Frame<T> => frame.type === type);
      },
      last<T extends ServerFrame['type']>(type: T): Frame<T> {
        const found = client.of(type);
        if (found.length === 0) throw new Error(`no ${type} frame; got ${client.frames.map((frame) => frame.type).join(', ')}`);
        return found.at(-1)!;
      },
      events(subscription: string) {
        return client.of('events').flatMap((frame) => (frame.id === subscription ? frame.events : []));
      },
      auth() {
        client.send({ type: 'auth', token: 'good' });
        answer('authenticate', { kind: 'authenticate', principal: { userId: 'u1', via: 'token' } });
        return client;
      },
    };
    return client;
  };

  return {
    core,
    config,
    env,
    log,
    rings,
    buffered,
    reads,
    metrics,
    logs,
    retries,
    history,
    get state() {
      return state;
    },
    feed,
    settle,
    pending,
    reply,
    answer,
    fail,
    bounds,
    logRead,
    append,
    connect,
  };
}

const offsets = (next: Record<number, number>) => encodeCursor({ stream: 'patterns', epoch: EPOCH, next });

describe('session core: connections and authentication', () => {
  it('greets with welcome and the limits, and asks the authenticator; frames wait behind the auth frame, in order', () => {
    const d = driver({ config: { GATEWAY_MAX_SUBSCRIPTIONS: 3 } });
    const client = d.connect();
    expect(client.frames).toEqual([
      { type: 'welcome', server: 'test-gateway', heartbeatMs: 1_000, limits: expect.objectContaining({ maxSubscriptions: 3 }) as unknown },
    ]);
    client.send({ type: 'auth', apiKey: 'k' });
    client.send({ type: 'credit', id: 's', n: 1 });
    client.send({ type: 'ping', nonce: 'n' });
    expect(client.frames).toHaveLength(1);
    expect(d.reads.map((command) => command.read)).toEqual([{ kind: 'authenticate', credentials: { apiKey: 'k' } }]);
    d.answer('authenticate', { kind: 'authenticate', principal: { userId: 'u1', via: 'apiKey' } });
    expect(client.frames.slice(1)).toEqual([
      { type: 'authenticated', userId: 'u1', via: 'apiKey' },
      expect.objectContaining({ type: 'error', code: 'unknown_subscription', id: 's' }) as unknown,
      { type: 'pong', ts: T0, nonce: 'n' },
    ]);
    client.send({ type: 'auth', token: 'again' });
    expect(client.last('error').code).toBe('already_authenticated');
    expect(d.metrics.filter((value) => value.name === 'clientFrames')).toHaveLength(4);
  });

  it('refuses frames before auth; a refused credential is auth_failed and closes with 4003', () => {
    const d = driver();
    const client = d.connect();
    client.send({ type: 'subscribe', id: 's', stream: 'patterns' });
    expect(client.last('error')).toMatchObject({ code: 'not_authenticated', id: 's' });
    client.send({ type: 'auth', token: 'bad' });
    client.send({ type: 'ping' });
    d.fail('authenticate', 'refused', 'token expired');
    expect(client.last('error')).toMatchObject({ code: 'auth_failed', message: 'token expired' });
    expect(client.closedWith).toBe(DISCONNECTS.authFailed);
    // Nothing more is said to a connection being closed, and its socket's close ends its state.
    expect(client.of('pong')).toEqual([]);
    d.feed({ type: 'closed', connection: client.id });
    expect(d.state.connections.size).toBe(0);
  });

  it('hides an unexpected authenticator failure, and keeps the connection when the database cannot be reached', () => {
    const d = driver();
    const broken = d.connect();
    broken.send({ type: 'auth', apiKey: 'k' });
    d.fail('authenticate', 'failed', 'relation "api_keys" does not exist');
    expect(broken.last('error')).toMatchObject({ code: 'auth_failed', message: 'authentication failed' });
    expect(broken.closedWith?.code).toBe(4003);
    expect(d.logs).toEqual(['error: authentication failed unexpectedly']);
    const restarting = d.connect();
    restarting.send({ type: 'auth', apiKey: 'k' });
    d.fail('authenticate', 'unavailable');
    expect(restarting.last('error').code).toBe('unavailable');
    expect(restarting.closedWith).toBeUndefined();
    restarting.auth();
    expect(restarting.last('authenticated').userId).toBe('u1');
  });

  it('answers bad frames with error frames: not JSON, unknown type, not UTF-8, binary, too large', () => {
    const d = driver({ config: { GATEWAY_MAX_FRAME_BYTES: 100 } });
    const client = d.connect();
    client.send('{not json');
    client.send('{"type":"dance"}');
    d.feed({ type: 'message', connection: client.id, data: new Uint8Array([0xff, 0xfe]), binary: false });
    d.feed({ type: 'message', connection: client.id, data: new Uint8Array([1]), binary: true });
    client.send({ type: 'ping', nonce: 'x'.repeat(120) });
    expect(client.of('error').map((frame) => frame.code)).toEqual([
      'malformed_json',
      'unknown_type',
      'malformed_json',
      'malformed_json',
      'frame_too_large',
    ]);
    expect(client.closedWith).toBeUndefined();
  });

  it('ignores answers to reads of a connection that closed', () => {
    const d = driver();
    const client = d.connect();
    client.send({ type: 'auth', token: 't' });
    d.feed({ type: 'closed', connection: client.id });
    expect(d.answer('authenticate', { kind: 'authenticate', principal: { userId: 'u1', via: 'token' } })).toBeDefined();
    expect(d.history.at(-1)).toEqual([]);
    expect(client.frames.map((frame) => frame.type)).toEqual(['welcome']);
  });

  it('is deterministic: the same inputs give the same commands', () => {
    const run = () => {
      const d = driver({ logSize: 10 });
      const client = d.connect().auth();
      client.send({ type: 'subscribe', id: 's', stream: 'patterns', from: 'earliest', credits: 4 });
      d.answer('bounds', d.bounds());
      d.append(0, 3);
      client.send({ type: 'credit', id: 's', n: 100 });
      d.feed({ type: 'heartbeat' });
      return JSON.stringify(d.history);
    };
    expect(run()).toBe(run());
  });
});

describe('session core: subscribe, credit and conflation', () => {
  it('subscribes at the head without a read, and delivers appended records within the credits', () => {
    const d = driver({ logSize: 5 });
    const client = d.connect().auth();
    client.send({ type: 'subscribe', id: 's', stream: 'patterns', credits: 2 });
    expect(d.reads).toEqual([]);
    expect(client.last('subscribed')).toEqual({
      type: 'subscribed',
      id: 's',
      stream: 'patterns',
      cursor: offsets({ 0: 5 }),
      backlog: 0,
      conflate: false,
    });
    d.append(0, 5);
    expect(client.events('s').map((event) => event.o)).toEqual([5, 6]);
    expect(client.last('events').cursor).toBe(offsets({ 0: 7 }));
    client.send({ type: 'credit', id: 's', n: 10 });
    expect(client.events('s').map((event) => event.o)).toEqual([5, 6, 7, 8, 9]);
    expect(client.of('resumed')).toEqual([]);
  });

  it('caps credits at the limit, and heartbeats carry cursor, credits and lag', () => {
    const d = driver({ config: { GATEWAY_MAX_CREDITS: 3 } });
    const client = d.connect().auth();
    d.connect(); // not authenticated: no heartbeat
    client.send({ type: 'subscribe', id: 's', stream: 'patterns', credits: 0 });
    client.send({ type: 'credit', id: 's', n: 3 });
    client.send({ type: 'credit', id: 's', n: 3 });
    d.append(0, 5);
    expect(client.events('s')).toHaveLength(3);
    d.feed({ type: 'heartbeat' });
    expect(client.last('heartbeat')).toEqual({
      type: 'heartbeat',
      ts: T0,
      subscriptions: { s: { cursor: offsets({ 0: 3 }), credits: 0, lagRecords: 2 } },
    });
  });

  it('filters by symbols, and by a universe the resolver answers; refuses a universe that is not the user’s', () => {
    const d = driver();
    const client = d.connect().auth();
    client.send({ type: 'subscribe', id: 'a', stream: 'patterns', filter: { symbols: ['A'] } });
    client.send({ type: 'subscribe', id: 'u', stream: 'patterns', filter: { universe: 'ab', symbols: ['B', 'C'] } });
    client.send({ type: 'subscribe', id: 'n', stream: 'patterns', filter: { universe: 'secret' } });
    // One at a time: the third subscribe waits behind the second's lookup.
    expect(d.reads.map((command) => command.read)).toEqual([{ kind: 'universe', userId: 'u1', key: 'ab' }]);
    d.answer('universe', { kind: 'universe', symbols: ['A', 'B'] });
    d.answer('universe', { kind: 'universe', symbols: undefined });
    expect(client.last('error')).toMatchObject({ id: 'n', code: 'forbidden_universe', path: 'filter.universe' });
    d.append(0, 6);
    expect(client.events('a').map((event) => event.key)).toEqual(['A', 'A']);
    expect(client.events('u').map((event) => event.key)).toEqual(['B', 'B']);
  });

  it('answers a failed universe lookup with internal, and handles the next frame', () => {
    const d = driver();
    const client = d.connect().auth();
    client.send({ type: 'subscribe', id: 's', stream: 'patterns', filter: { universe: 'ab' } });
    client.send({ type: 'ping' });
    d.fail('universe', 'failed');
    expect(client.frames.slice(-2).map((frame) => frame.type)).toEqual(['error', 'pong']);
    expect(client.last('error').code).toBe('internal');
  });

  it('conflates per key within the credits, tagging folded deliveries', () => {
    const d = driver();
    const client = d.connect().auth();
    client.send({ type: 'subscribe', id: 's', stream: 'patterns', conflate: true, credits: 0 });
    d.append(0, 3, 'A');
    d.append(0, 2, 'B');
    d.append(0, 1, 'C');
    client.send({ type: 'credit', id: 's', n: 2 });
    expect(client.events('s').map((event) => [event.key, event.o, event.folded])).toEqual([
      ['A', 2, 3],
      ['B', 4, 2],
    ]);
    expect(client.last('events').cursor).toBe(offsets({ 0: 5 }));
  });

  it('unsubscribes, and answers frames naming no subscription', () => {
    const d = driver();
    const client = d.connect().auth();
    client.send({ type: 'subscribe', id: 's', stream: 'patterns' });
    client.send({ type: 'unsubscribe', id: 's' });
    client.send({ type: 'credit', id: 's', n: 1 });
    client.send({ type: 'seek', id: 's', to: 'earliest' });
    expect(client.last('unsubscribed')).toEqual({ type: 'unsubscribed', id: 's' });
    expect(client.of('error').map((frame) => frame.code)).toEqual(['unknown_subscription', 'unknown_subscription']);
    expect(d.metrics.filter((value) => value.name === 'subscriptions')).toEqual([
      { name: 'subscriptions', delta: 1 },
      { name: 'subscriptions', delta: -1 },
    ]);
    d.append(0, 2);
    expect(client.events('s')).toEqual([]);
  });
});

describe('session core: limits', () => {
  it('limits subscriptions per connection and symbols per subscription, and serves only its streams', () => {
    const d = driver({ config: { GATEWAY_MAX_SUBSCRIPTIONS: 2, GATEWAY_MAX_SYMBOLS: 2 } });
    const client = d.connect().auth();
    client.send({ type: 'subscribe', id: 'a', stream: 'patterns' });
    client.send({ type: 'subscribe', id: 'a', stream: 'patterns' });
    client.send({ type: 'subscribe', id: 'many', stream: 'patterns', filter: { symbols: ['A', 'B', 'C'] } });
    client.send({ type: 'subscribe', id: 'big', stream: 'patterns', filter: { universe: 'abc' } });
    d.answer('universe', { kind: 'universe', symbols: ['A', 'B', 'C'] });
    client.send({ type: 'subscribe', id: 'bars', stream: 'bars' });
    client.send({ type: 'subscribe', id: 'x', stream: 'patterns' });
    client.send({ type: 'subscribe', id: 'y', stream: 'patterns' });
    expect(client.of('error').map((frame) => [frame.id, frame.code])).toEqual([
      ['a', 'duplicate_subscription'],
      ['many', 'subscription_too_large'],
      ['big', 'subscription_too_large'],
      ['bars', 'unavailable'],
      ['y', 'too_many_subscriptions'],
    ]);
  });

  it('refuses connections beyond GATEWAY_MAX_CONNECTIONS with 1013 and holds no state for them; a closed one frees its place', () => {
    const d = driver({ config: { GATEWAY_MAX_CONNECTIONS: 3 } });
    const held = [d.connect().auth(), d.connect(), d.connect()];
    // Driven well past the cap: every further socket is closed at once, without a welcome.
    const refused = Array.from({ length: 50 }, () => d.connect());
    for (const client of refused) {
      expect(client.closedWith).toBe(DISCONNECTS.full);
      expect(client.frames).toEqual([]);
      client.send({ type: 'auth', token: 'good' }); // a frame already on its way is ignored
      d.feed({ type: 'closed', connection: client.id });
    }
    expect(d.state.connections.size).toBe(3);
    expect(d.reads).toEqual([]);
    for (const client of held) expect(client.closedWith).toBeUndefined();

    d.feed({ type: 'closed', connection: held[1]!.id });
    const next = d.connect();
    expect(next.closedWith).toBeUndefined();
    expect(next.last('welcome').type).toBe('welcome');
    expect(d.connect().closedWith).toBe(DISCONNECTS.full);
    expect(d.state.connections.size).toBe(3);
  });

  it('rate-limits frames with one error per second, and closes a flood with 4029', () => {
    const d = driver({ config: { GATEWAY_FRAMES_PER_SECOND: 1, GATEWAY_FRAME_BURST: 1 } });
    const client = d.connect();
    client.send({ type: 'ping' });
    client.send({ type: 'ping' });
    client.send({ type: 'ping' });
    expect(client.of('pong')).toHaveLength(1);
    expect(client.of('error').map((frame) => frame.code)).toEqual(['rate_limited']);
    d.env.now += 1_000; // a token back, and a second later: one more error allowed
    client.send({ type: 'ping' });
    client.send({ type: 'ping' });
    expect(client.of('pong')).toHaveLength(2);
    expect(client.of('error')).toHaveLength(2);
    // The second of those was the first frame dropped in a row; the 500th closes.
    for (let frame = 0; frame < 498; frame += 1) client.send({ type: 'ping' });
    expect(client.closedWith).toBeUndefined();
    client.send({ type: 'ping' });
    expect(client.closedWith).toBe(DISCONNECTS.flood);
  });

  it('sends at most a buffer’s worth per step, pauses on a full send buffer, and resumes on drain', () => {
    const d = driver({ config: { GATEWAY_MAX_BUFFERED_BYTES: 1_000, GATEWAY_MAX_BATCH: 5 } });
    const client = d.connect().auth();
    client.send({ type: 'subscribe', id: 's', stream: 'patterns', credits: 100 });
    d.append(0, 40, undefined, { settle: false });
    // Each frame of 5 events is ~500 bytes: the frames decided in one step stop at the limit, and the rest waits for
    // the next flush, which sees the buffer as the socket left it.
    d.feed({ type: 'flush' });
    const firstStep = client.events('s').length;
    expect(firstStep).toBeGreaterThan(0);
    expect(firstStep).toBeLessThan(40);
    expect(d.history.at(-1)).toContainEqual({ type: 'flushSoon' });
    d.buffered.set(client.id, 5_000);
    d.settle();
    expect(client.events('s')).toHaveLength(firstStep);
    expect(d.metrics).toContainEqual({ name: 'backpressurePauses' });
    d.feed({ type: 'drain', connection: client.id }); // still above the limit: nothing moves
    d.settle();
    expect(client.events('s')).toHaveLength(firstStep);
    d.buffered.set(client.id, 0);
    d.feed({ type: 'drain', connection: client.id });
    d.settle();
    expect(client.events('s').map((event) => event.o)).toEqual(Array.from({ length: 40 }, (_, index) => index));
  });
});

describe('session core: close codes', () => {
  it('closes with each named code: auth timeout 4001, idle 4000, stalled 4008, shutdown 1001', () => {
    const d = driver({
      config: {
        GATEWAY_AUTH_TIMEOUT_MS: 5_000,
        GATEWAY_IDLE_TIMEOUT_MS: 60_000,
        GATEWAY_STALL_TIMEOUT_MS: 10_000,
        GATEWAY_MAX_BUFFERED_BYTES: 100,
      },
    });
    const anonymous = d.connect();
    const idle = d.connect().auth();
    const stalled = d.connect().auth();
    const drained = d.connect().auth();
    const busy = d.connect().auth();
    for (const client of [stalled, drained, busy]) client.send({ type: 'subscribe', id: 's', stream: 'patterns' });
    d.buffered.set(stalled.id, 1_000);
    d.buffered.set(drained.id, 1_000);
    d.append(0, 2);
    d.buffered.set(drained.id, 0); // drained without a drain event: forgiven
    d.env.now = T0 + 5_001;
    d.feed({ type: 'tick' });
    expect(anonymous.closedWith).toBe(DISCONNECTS.authTimeout);
    expect(idle.closedWith).toBeUndefined();
    d.env.now = T0 + 60_001;
    d.feed({ type: 'tick' });
    expect(idle.closedWith).toBe(DISCONNECTS.idle);
    expect(stalled.closedWith).toBe(DISCONNECTS.stalled);
    expect(drained.closedWith).toBeUndefined();
    expect(busy.closedWith).toBeUndefined();
    d.feed({ type: 'shutdown' });
    expect(busy.closedWith).toBe(DISCONNECTS.shutdown);
    expect(drained.closedWith).toBe(DISCONNECTS.shutdown);
    // A socket whose upgrade was under way when the gateway stopped is closed as it opens, before any frame.
    const late = d.connect();
    expect(late.closedWith).toBe(DISCONNECTS.shutdown);
    expect(late.frames).toEqual([]);
    // A connection is closed once: the closed ones are not closed again.
    expect(d.history.flat().filter((command) => command.type === 'close')).toHaveLength(6);
    expect(new Set(d.history.flat().flatMap((command) => (command.type === 'close' ? [command.disconnect.code] : [])))).toEqual(
      new Set([4001, 4000, 4008, 1001]),
    );
  });
  // 4003 (auth_failed) and 4029 (flood): see the authentication and limits tests above.
});

describe('session core: resume and seek', () => {
  it('resumes from memory: the backlog from the ring, then a resumed report, with one bounds read and no read-back', () => {
    const d = driver({ logSize: 20 });
    const client = d.connect().auth();
    client.send({ type: 'subscribe', id: 's', stream: 'patterns', from: { offsets: { '0': 12 } }, credits: 100 });
    d.answer('bounds', d.bounds());
    expect(client.last('subscribed').backlog).toBe(8);
    expect(client.events('s').map((event) => event.o)).toEqual([12, 13, 14, 15, 16, 17, 18, 19]);
    const { report } = client.last('resumed');
    expect(report).toEqual({ count: 8, range: { '0': [12, 20] }, fromRing: 8, fromKafka: 0, lagRecords: 0, lagMs: T0 - 1_190 });
    expect(d.reads).toEqual([]);
  });

  it('resumes from the log: positions older than the ring are read back, then the ring takes over', () => {
    const d = driver({ logSize: 30, ringCapacity: 10 });
    const client = d.connect().auth();
    client.send({ type: 'subscribe', id: 's', stream: 'patterns', from: { cursor: offsets({ 0: 5 }) }, credits: 100 });
    d.answer('bounds', d.bounds());
    const first = d.pending('log');
    expect(first.read.from).toEqual(new Map([[0, 5]]));
    d.feed({ type: 'result', connection: first.connection, ticket: first.ticket, result: d.logRead(first.read.from) });
    d.settle();
    const second = d.pending('log');
    expect(second.read.from).toEqual(new Map([[0, 15]]));
    d.feed({ type: 'result', connection: second.connection, ticket: second.ticket, result: d.logRead(second.read.from) });
    d.settle();
    expect(client.events('s').map((event) => event.o)).toEqual(Array.from({ length: 25 }, (_, index) => 5 + index));
    expect(client.last('resumed').report).toMatchObject({ count: 25, fromKafka: 20, fromRing: 5 });
  });

  it('keeps records read back beyond the credits, and delivers them when credits come', () => {
    const d = driver({ logSize: 30, ringCapacity: 10 });
    const client = d.connect().auth();
    client.send({ type: 'subscribe', id: 's', stream: 'patterns', from: 'earliest', credits: 4 });
    d.answer('bounds', d.bounds());
    const read = d.pending('log');
    d.feed({ type: 'result', connection: read.connection, ticket: read.ticket, result: d.logRead(read.read.from, 20) });
    d.settle();
    expect(client.events('s')).toHaveLength(4);
    client.send({ type: 'credit', id: 's', n: 100 });
    expect(client.events('s').map((event) => event.o)).toEqual(Array.from({ length: 30 }, (_, index) => index));
    expect(d.reads).toEqual([]);
  });

  it('retries a failed or empty read-back after a delay, and drops the answer to a read a seek made stale', () => {
    const d = driver({ logSize: 30, ringCapacity: 10 });
    const client = d.connect().auth();
    client.send({ type: 'subscribe', id: 's', stream: 'patterns', from: 'earliest' });
    d.answer('bounds', d.bounds());
    d.fail('log', 'failed');
    expect(d.retries).toEqual([{ type: 'retryAfter', delayMs: 1_000, connection: client.id, subscription: 's' }]);
    d.feed({ type: 'retry', connection: client.id, subscription: 's' });
    d.settle();
    d.answer('log', d.logRead(new Map([[0, 0]]), 0));
    expect(d.retries).toHaveLength(2);
    expect(d.logs).toEqual(['warn: Kafka read-back failed; retrying', 'warn: read-back made no progress']);
    d.feed({ type: 'retry', connection: client.id, subscription: 's' });
    d.settle();
    const stale = d.pending('log');
    client.send({ type: 'seek', id: 's', to: { offsets: { '0': 25 } } });
    d.answer('bounds', d.bounds());
    d.feed({ type: 'result', connection: stale.connection, ticket: stale.ticket, result: d.logRead(stale.read.from) });
    d.settle();
    expect(client.events('s').map((event) => event.o)).toEqual([25, 26, 27, 28, 29]);
  });

  it('starts from a time through the log’s offsets for it', () => {
    const d = driver({ logSize: 10 });
    const client = d.connect().auth();
    client.send({ type: 'subscribe', id: 's', stream: 'patterns', from: { timestamp: 1_075 } });
    d.answer('bounds', d.bounds());
    const command = d.pending('offsetsForTime');
    expect(command.read.timestampMs).toBe(1_075);
    d.reply(command, { kind: 'offsetsForTime', offsets: new Map([[0, 8]]) });
    expect(client.events('s').map((event) => event.o)).toEqual([8, 9]);
  });

  it('seeks: replaces the credits when asked and restarts from the new position', () => {
    const d = driver({ logSize: 10 });
    const client = d.connect().auth();
    client.send({ type: 'subscribe', id: 's', stream: 'patterns', credits: 100 });
    client.send({ type: 'seek', id: 's', to: { offsets: { '0': 7 } }, credits: 2 });
    d.answer('bounds', d.bounds());
    expect(client.last('seeked')).toEqual({ type: 'seeked', id: 's', backlog: 3, cursor: offsets({ 0: 7 }) });
    expect(client.events('s').map((event) => event.o)).toEqual([7, 8]);
    client.send({ type: 'seek', id: 's', to: 'latest', credits: 5 });
    expect(client.last('seeked').backlog).toBe(0);
    d.append(0, 1);
    expect(client.events('s').map((event) => event.o)).toEqual([7, 8, 10]);
  });

  it('rejects bad cursors and unknown partitions, and is unavailable when the log cannot be reached', () => {
    const d = driver({ logSize: 3 });
    const client = d.connect().auth();
    client.send({ type: 'subscribe', id: 'a', stream: 'patterns', from: { cursor: 'c1.nonsense' } });
    d.answer('bounds', d.bounds());
    client.send({
      type: 'subscribe',
      id: 'b',
      stream: 'patterns',
      from: { cursor: encodeCursor({ stream: 'bars', epoch: EPOCH, next: {} }) },
    });
    d.answer('bounds', d.bounds());
    client.send({ type: 'subscribe', id: 'c', stream: 'patterns', from: { offsets: { '7': 0 } } });
    d.answer('bounds', d.bounds());
    client.send({ type: 'subscribe', id: 'd', stream: 'patterns', from: 'earliest' });
    d.fail('bounds', 'failed');
    expect(client.of('error').map((frame) => [frame.id, frame.code])).toEqual([
      ['a', 'bad_cursor'],
      ['b', 'bad_cursor'],
      ['c', 'bad_field'],
      ['d', 'unavailable'],
    ]);
  });

  it('re-reads the topic metadata for partitions a cursor names that it has not seen', () => {
    const d = driver({ logSize: 3 });
    const client = d.connect().auth();
    const cursor = offsets({ 0: 1, 1: 0 });
    client.send({ type: 'subscribe', id: 's', stream: 'patterns', from: { cursor } });
    d.answer('bounds', d.bounds());
    d.answer('refreshPartitions', { kind: 'refreshPartitions' });
    d.answer('bounds', d.bounds());
    expect(client.last('error')).toMatchObject({
      id: 's',
      code: 'bad_cursor',
      message: 'the cursor names partitions the topic does not have: 1',
    });
    client.send({ type: 'subscribe', id: 't', stream: 'patterns', from: { cursor } });
    d.answer('bounds', d.bounds());
    // The refresh found partition 1 (the tail added its ring).
    d.rings.set(1, new PartitionRing(100, 0));
    d.log.set(1, []);
    d.answer('refreshPartitions', { kind: 'refreshPartitions' });
    d.answer('bounds', d.bounds());
    expect(client.last('subscribed')).toMatchObject({ id: 't', cursor: offsets({ 0: 1, 1: 0 }) });
    client.send({ type: 'subscribe', id: 'u', stream: 'patterns', from: { cursor: offsets({ 0: 1, 2: 0 }) } });
    d.answer('bounds', d.bounds());
    d.fail('refreshPartitions', 'failed');
    expect(client.last('error')).toMatchObject({ id: 'u', code: 'unavailable' });
  });

  it('takes partitions added at runtime from their log start', () => {
    const d = driver({ logSize: 2 });
    const client = d.connect().auth();
    client.send({ type: 'subscribe', id: 's', stream: 'patterns' });
    const ring = new PartitionRing(100, 0);
    ring.append({ events: [patternEvent(1, 0, 'A'), patternEvent(1, 1, 'B')], nextOffset: 2 });
    d.rings.set(1, ring);
    d.feed({ type: 'partitionsAdded', stream: 'patterns', added: new Map([[1, 0]]) });
    d.settle();
    expect(client.events('s').map((event) => `${event.p}:${event.o}`)).toEqual(['1:0', '1:1']);
  });
});

describe('session core: unrecoverable positions and the snapshot path', () => {
  it('pauses a subscription whose position left retention until it seeks to the oldest position', () => {
    const d = driver({ logSize: 10 });
    const client = d.connect().auth();
    client.send({ type: 'subscribe', id: 's', stream: 'patterns', from: { offsets: { '0': 2 } } });
    d.answer('bounds', d.bounds(4));
    const frame = client.last('unrecoverable');
    expect(frame).toEqual({
      type: 'unrecoverable',
      id: 's',
      reason: 'retention',
      requested: { '0': 2 },
      oldest: offsets({ 0: 4 }),
      oldestOffsets: { '0': 4 },
      snapshotAvailable: true,
    });
    d.append(0, 1);
    expect(client.events('s')).toEqual([]);
    client.send({ type: 'seek', id: 's', to: { cursor: frame.oldest } });
    d.answer('bounds', d.bounds(4));
    expect(client.events('s').map((event) => event.o)).toEqual([4, 5, 6, 7, 8, 9, 10]);
    expect(client.last('resumed').report.count).toBe(7);
  });

  it('declares positions ahead of the log and cursors of another epoch unrecoverable', () => {
    const d = driver({ logSize: 5 });
    const client = d.connect().auth();
    client.send({ type: 'subscribe', id: 'ahead', stream: 'patterns', from: { offsets: { '0': 9 } } });
    d.answer('bounds', d.bounds());
    client.send({
      type: 'subscribe',
      id: 'old',
      stream: 'patterns',
      from: { cursor: encodeCursor({ stream: 'patterns', epoch: 'e0', next: { 0: 1 } }) },
    });
    d.answer('bounds', d.bounds());
    expect(client.of('unrecoverable').map((frame) => [frame.id, frame.reason])).toEqual([
      ['ahead', 'ahead'],
      ['old', 'epoch'],
    ]);
  });

  it('declares a read-back of deleted records unrecoverable, with the bounds of the log or else of the rings', () => {
    const d = driver({ logSize: 30, ringCapacity: 10 });
    const client = d.connect().auth();
    client.send({ type: 'subscribe', id: 's', stream: 'patterns', from: { offsets: { '0': 2 } } });
    d.answer('bounds', d.bounds());
    d.fail('log', 'outOfRange');
    d.answer('bounds', d.bounds(15));
    expect(client.last('unrecoverable')).toMatchObject({ id: 's', reason: 'retention', requested: { '0': 2 }, oldestOffsets: { '0': 15 } });
    expect(d.retries).toEqual([]);
    // The topic recreated and the log unreachable: the rings' coverage stands in for the log's bounds.
    client.send({ type: 'seek', id: 's', to: 'latest' });
    d.feed({ type: 'topicReset', stream: 'patterns' });
    d.fail('bounds', 'failed');
    expect(client.last('unrecoverable')).toMatchObject({ id: 's', reason: 'epoch', requested: { '0': 30 }, oldestOffsets: { '0': 20 } });
  });

  it('recovers with a snapshot from the read model at offsets inside the log, then live from them', () => {
    const d = driver({ logSize: 5, readModel: true });
    const client = d.connect().auth();
    const items = [{ key: 'A', ts: 1, data: { symbol: 'A' } }];
    client.send({ type: 'subscribe', id: 'r', stream: 'patterns', from: 'snapshot' });
    const snapshotRead = d.pending('snapshot');
    expect(snapshotRead.read).toMatchObject({ kind: 'snapshot', stream: 'patterns' });
    d.reply(snapshotRead, { kind: 'snapshot', snapshot: { source: 'redis', next: new Map([[0, 3]]), items } });
    d.answer('bounds', d.bounds());
    expect(client.frames.slice(-4).map((frame) => frame.type)).toEqual(['subscribed', 'snapshot', 'events', 'resumed']);
    expect(client.last('snapshot')).toEqual({ type: 'snapshot', id: 'r', cursor: offsets({ 0: 3 }), source: 'redis', items });
    expect(client.events('r').map((event) => event.o)).toEqual([3, 4]);
  });

  it('falls back to a snapshot folded from the rings when the read model is behind the log, fails or has none', () => {
    const d = driver({ logSize: 4, readModel: true });
    const client = d.connect().auth();
    client.send({ type: 'subscribe', id: 'k', stream: 'patterns', from: 'snapshot', filter: { symbols: ['A'] } });
    d.answer('snapshot', { kind: 'snapshot', snapshot: { source: 'redis', next: new Map([[0, 99]]), items: [] } });
    d.answer('bounds', d.bounds());
    client.send({ type: 'subscribe', id: 'f', stream: 'patterns', from: 'snapshot' });
    d.fail('snapshot', 'failed');
    client.send({ type: 'subscribe', id: 'n', stream: 'patterns', from: 'snapshot' });
    d.answer('snapshot', { kind: 'snapshot', snapshot: undefined });
    expect(client.of('snapshot').map((frame) => [frame.id, frame.source])).toEqual([
      ['k', 'kafka'],
      ['f', 'kafka'],
      ['n', 'kafka'],
    ]);
    expect(client.last('resumed').id).toBe('n');
    expect(d.logs).toEqual(['warn: read-model snapshot failed; using the in-memory one']);
  });

  it('folds the snapshot from the rings when there is no read model, without a read', () => {
    const d = driver({ logSize: 4 });
    const client = d.connect().auth();
    client.send({ type: 'subscribe', id: 's', stream: 'patterns', from: 'snapshot', filter: { symbols: ['B'] } });
    expect(d.reads).toEqual([]);
    expect(client.frames.slice(-3).map((frame) => frame.type)).toEqual(['subscribed', 'snapshot', 'resumed']);
    expect(client.last('snapshot')).toMatchObject({ id: 's', source: 'kafka', cursor: offsets({ 0: 4 }) });
  });
});
