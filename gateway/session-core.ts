import type { Principal } from './access.js';
import { selectBatch, type Delivery } from './batch.js';
import {
  DISCONNECTS,
  type ClientFrame,
  type Disconnect,
  type ErrorCode,
  type Limits,
  type ResumeReport,
  type ServerFrame,
  type SnapshotItem,
  type StartPosition,
} from './client/protocol.js';
import type { GatewayConfig } from './config.js';
import { CursorError, decodeCursor, encodeCursor, encodePosition } from './cursor.js';
import { compileFilter, matches, type EventFilter } from './filter.js';
import { createFrameParser, TokenBucket, type ParseResult } from './protocol.js';
import { snapshotFromRecords, type Snapshot } from './snapshot.js';
import { wireOf, type PartitionBounds, type PartitionRead, type StreamName } from './types.js';

/**
 * The gateway's session logic as a pure core: `step(core, state, input, env)` -> `{ state, commands }`. Inputs are
 * socket events (open, client frame bytes, drain, close), the tails' news (records appended, partitions added, topic
 * recreated), the answers to reads the core asked for, and timer ticks. Commands are frames to send, sockets to
 * close with a named code, reads to issue (credentials, universes, snapshots, log bounds and read-backs), a delivery
 * flush or a retry to schedule, metrics and log lines. No I/O, no timers, no clock: time is `env.now`.
 *
 * `env` also carries two read-only views of memory the shell owns: the tails' rings (the recent log, read at each
 * subscription's position; copying them into inputs would cost the fan-out) and each socket's send-buffer level.
 * Same state, input and env give the same state and commands.
 *
 * The state is updated in place and returned (10k connections: a copy per record would cost the fan-out its
 * throughput); a caller treats the state it passed as consumed. The shell is session.ts; the tests that need no
 * socket nor port are session-core.test.ts.
 */

// ---------------------------------------------------------------- rules and environment

/** What the core enforces and announces, from the gateway's config. */
export interface SessionRules {
  readonly limits: Limits;
  readonly serverName: string;
  readonly heartbeatMs: number;
  readonly defaultCredits: number;
  readonly maxBufferedBytes: number;
  readonly authTimeoutMs: number;
  readonly idleTimeoutMs: number;
  readonly stallTimeoutMs: number;
  /** Connections held at most; a socket that opens beyond it is closed at once (`DISCONNECTS.full`). */
  readonly maxConnections: number;
  /** Whether a read model answers snapshots; without one they are folded from the rings. */
  readonly readModelSnapshots: boolean;
}

export const MAX_SNAPSHOT_ITEMS = 5_000;
/** Frames dropped in a row by the rate limit before the connection is closed (4029). */
export const FLOOD_CLOSE_AFTER = 500;
/** Delay before a failed read-back is tried again. */
export const READ_BACK_RETRY_MS = 1_000;
/** Rounds of delivery one subscription gets per flush before others take their turn. */
const ROUNDS_PER_FLUSH = 8;

/** The limits a gateway announces in `welcome` and enforces, from its config. */
export function limitsOf(config: GatewayConfig): Limits {
  return {
    maxFrameBytes: config.GATEWAY_MAX_FRAME_BYTES,
    maxEventsPerFrame: config.GATEWAY_MAX_BATCH,
    maxSnapshotItems: MAX_SNAPSHOT_ITEMS,
    maxSubscriptions: config.GATEWAY_MAX_SUBSCRIPTIONS,
    maxSymbolsPerSubscription: config.GATEWAY_MAX_SYMBOLS,
    maxCredits: config.GATEWAY_MAX_CREDITS,
    framesPerSecond: config.GATEWAY_FRAMES_PER_SECOND,
    frameBurst: config.GATEWAY_FRAME_BURST,
  };
}

export function rulesOf(config: GatewayConfig, serverName: string, readModelSnapshots: boolean): SessionRules {
  return {
    limits: limitsOf(config),
    serverName,
    heartbeatMs: config.GATEWAY_HEARTBEAT_MS,
    defaultCredits: config.GATEWAY_DEFAULT_CREDITS,
    maxBufferedBytes: config.GATEWAY_MAX_BUFFERED_BYTES,
    authTimeoutMs: config.GATEWAY_AUTH_TIMEOUT_MS,
    idleTimeoutMs: config.GATEWAY_IDLE_TIMEOUT_MS,
    stallTimeoutMs: config.GATEWAY_STALL_TIMEOUT_MS,
    maxConnections: config.GATEWAY_MAX_CONNECTIONS,
    readModelSnapshots,
  };
}

/** The rules with what is derived from them once (the frame parser). */
export interface SessionCore {
  readonly rules: SessionRules;
  readonly parse: (text: string) => ParseResult;
}

export function sessionCore(rules: SessionRules): SessionCore {
  return { rules, parse: createFrameParser(rules.limits) };
}

/** What the core reads of a partition's ring (ring.ts). */
export interface RingView {
  readonly coveredFrom: number;
  readonly nextOffset: number;
  readonly capacity: number;
  read(offset: number, limit: number): PartitionRead | undefined;
}

/** What the core reads of a stream's tail (topic-tail.ts): its rings and its topic's name and epoch. */
export interface StreamView {
  readonly rings: ReadonlyMap<number, RingView>;
  readonly topic: { readonly topic: string; readonly epoch: string };
}

/** The world as the shell sees it when an input arrives. */
export interface SessionEnv {
  readonly now: number;
  readonly streams: ReadonlyMap<StreamName, StreamView>;
  /** Bytes waiting in a connection's send buffer. */
  bufferedBytes(connection: number): number;
}

// ---------------------------------------------------------------- inputs and commands

/** Reads the core asks the shell to make; the answer comes back as a `result` (or `failed`) input with the ticket. */
export type SessionRead =
  | { readonly kind: 'authenticate'; readonly credentials: { readonly token?: string; readonly apiKey?: string } }
  | { readonly kind: 'universe'; readonly userId: string; readonly key: string }
  | { readonly kind: 'snapshot'; readonly stream: StreamName; readonly filter: EventFilter }
  | { readonly kind: 'bounds'; readonly stream: StreamName }
  | { readonly kind: 'offsetsForTime'; readonly stream: StreamName; readonly timestampMs: number }
  | { readonly kind: 'refreshPartitions'; readonly stream: StreamName }
  /** A read-back of positions older than the ring. */
  | { readonly kind: 'log'; readonly stream: StreamName; readonly from: ReadonlyMap<number, number> };

export type ReadResult =
  | { readonly kind: 'authenticate'; readonly principal: Principal }
  | { readonly kind: 'universe'; readonly symbols: readonly string[] | undefined }
  | { readonly kind: 'snapshot'; readonly snapshot: Snapshot | undefined }
  | { readonly kind: 'bounds'; readonly bounds: ReadonlyMap<number, PartitionBounds> }
  | { readonly kind: 'offsetsForTime'; readonly offsets: ReadonlyMap<number, number> }
  | { readonly kind: 'refreshPartitions' }
  | { readonly kind: 'log'; readonly reads: ReadonlyMap<number, PartitionRead & PartitionBounds> };

/**
 * Why a read failed: `refused` (the authenticator refused the credential; its message may be shown), `unavailable`
 * (the database could not be reached), `outOfRange` (the log no longer holds the offsets), `failed` (anything else).
 */
export type ReadFailure = 'refused' | 'unavailable' | 'outOfRange' | 'failed';

export type SessionInput =
  | { readonly type: 'open'; readonly connection: number }
  /** A frame from the client, as received. */
  | { readonly type: 'message'; readonly connection: number; readonly data: ArrayBuffer | Uint8Array; readonly binary: boolean }
  /** The socket's send buffer drained. */
  | { readonly type: 'drain'; readonly connection: number }
  /** The socket closed (by either side). */
  | { readonly type: 'closed'; readonly connection: number }
  | { readonly type: 'appended'; readonly stream: StreamName }
  | { readonly type: 'partitionsAdded'; readonly stream: StreamName; readonly added: ReadonlyMap<number, number> }
  | { readonly type: 'topicReset'; readonly stream: StreamName }
  /** The delivery flush asked for by `flushSoon`. */
  | { readonly type: 'flush' }
  /** The retry asked for by `retryAfter`. */
  | { readonly type: 'retry'; readonly connection: number; readonly subscription: string }
  | { readonly type: 'heartbeat' }
  /** Housekeeping, every second: timeouts and stalled peers. */
  | { readonly type: 'tick' }
  | { readonly type: 'shutdown' }
  | { readonly type: 'result'; readonly connection: number; readonly ticket: number; readonly result: ReadResult }
  | {
      readonly type: 'failed';
      readonly connection: number;
      readonly ticket: number;
      readonly failure: ReadFailure;
      readonly message: string;
      /** The error itself, only passed on to log lines. */
      readonly error?: unknown;
    };

export type SessionMetric =
  | { readonly name: 'clientFrames'; readonly frameType: string }
  | { readonly name: 'subscriptions'; readonly delta: 1 | -1 }
  | { readonly name: 'backpressurePauses' };

export type SessionCommand =
  | { readonly type: 'send'; readonly connection: number; readonly frame: ServerFrame }
  /** An `events` frame: the shell writes the events' cached wire bytes after the head. */
  | {
      readonly type: 'events';
      readonly connection: number;
      readonly stream: StreamName;
      readonly id: string;
      readonly cursor: string;
      readonly deliveries: readonly Delivery[];
    }
  | { readonly type: 'close'; readonly connection: number; readonly disconnect: Disconnect }
  | { readonly type: 'read'; readonly connection: number; readonly ticket: number; readonly read: SessionRead }
  /** Feed a `flush` input soon (after the current I/O callbacks). */
  | { readonly type: 'flushSoon' }
  /** Feed a `retry` input after `delayMs`. */
  | { readonly type: 'retryAfter'; readonly delayMs: number; readonly connection: number; readonly subscription: string }
  | { readonly type: 'metric'; readonly metric: SessionMetric }
  | {
      readonly type: 'log';
      readonly level: 'warn' | 'error';
      readonly message: string;
      readonly fields: Readonly<Record<string, unknown>>;
    };

export interface Transition {
  readonly state: SessionState;
  readonly commands: readonly SessionCommand[];
}

// ---------------------------------------------------------------- state

interface ResumeState {
  readonly target: Map<number, number>;
  readonly start: Map<number, number>;
  count: number;
  fromRing: number;
  fromKafka: number;
}

export interface SubscriptionState {
  readonly id: string;
  readonly stream: StreamName;
  readonly connection: ConnectionState;
  readonly filter: EventFilter;
  readonly conflate: boolean;
  epoch: string;
  next: Map<number, number>;
  credits: number;
  state: 'active' | 'paused';
  /** A read-back is in flight. */
  reading: boolean;
  scheduled: boolean;
  /** Bumped by seek/unsubscribe, so answers to reads issued before are dropped. */
  generation: number;
  /** Records read back beyond what the credits allowed; used before reading again. */
  stash: Map<number, PartitionRead>;
  resume: ResumeState | undefined;
  lastEventTs: number;
}

type SubscribeFrame = Extract<ClientFrame, { type: 'subscribe' }>;
type StartOk = { ok: true; next: Map<number, number>; bounds: ReadonlyMap<number, PartitionBounds> | undefined };
type StartResult =
  | StartOk
  | { ok: false; unrecoverable: Extract<ServerFrame, { type: 'unrecoverable' }> }
  | { ok: false; error: ErrorCode; message: string };

/** Resolving a start position that needs the log: which answer it waits for, and what it learnt so far. */
interface StartProgress {
  readonly from: Exclude<StartPosition, 'latest'>;
  stage: 'bounds' | 'time' | 'refresh' | 'refreshBounds';
  bounds?: ReadonlyMap<number, PartitionBounds>;
  requested?: Map<number, number>;
}

/** The frame being handled while it waits for a read; later frames wait behind it, in order. */
type FrameOp =
  | { readonly kind: 'auth' }
  | {
      readonly kind: 'subscribe';
      readonly frame: SubscribeFrame;
      stage: 'universe' | 'snapshot' | 'snapshotBounds' | 'start';
      filter?: EventFilter;
      snapshot?: Snapshot;
      start?: StartProgress;
    }
  | { readonly kind: 'seek'; readonly subscription: SubscriptionState; readonly to: StartPosition; readonly start: StartProgress };

/** Who waits for the answer to a ticket. */
type Wait =
  | { readonly for: 'frame' }
  | {
      readonly for: 'readBack';
      readonly subscription: SubscriptionState;
      readonly generation: number;
      readonly missing: ReadonlyMap<number, number>;
    }
  | {
      readonly for: 'unrecoverable';
      readonly subscription: SubscriptionState;
      readonly reason: 'retention' | 'epoch';
      readonly requested: ReadonlyMap<number, number>;
    };

export interface ConnectionState {
  readonly id: number;
  readonly openedAt: number;
  principal: Principal | undefined;
  readonly subscriptions: Map<string, SubscriptionState>;
  readonly bucket: TokenBucket;
  floodDrops: number;
  lastRateErrorAt: number;
  /** A close was asked for: nothing more is sent. */
  closing: boolean;
  waitingDrain: boolean;
  bufferFullSince: number | undefined;
  lastSubscribedAt: number;
  /** The frame waiting for a read, and the frames received after it. */
  op: FrameOp | undefined;
  opTicket: number;
  readonly queued: ClientFrame[];
  readonly waits: Map<number, Wait>;
  /** Bytes of events frames decided in step `emittedInStep`, not yet in the send buffer the env reports. */
  emittedBytes: number;
  emittedInStep: number;
}

export interface SessionState {
  readonly connections: Map<number, ConnectionState>;
  readonly byStream: Map<StreamName, Set<SubscriptionState>>;
  /** Subscriptions to pump at the next flush. */
  readonly queue: SubscriptionState[];
  flushRequested: boolean;
  /** The gateway is stopping: a socket that still opens (an upgrade already under way) is closed at once. */
  stopping: boolean;
  nextTicket: number;
  steps: number;
}

export function initialSessionState(streams: Iterable<StreamName>): SessionState {
  return {
    connections: new Map(),
    byStream: new Map([...streams].map((stream) => [stream, new Set<SubscriptionState>()])),
    queue: [],
    flushRequested: false,
    stopping: false,
    nextTicket: 1,
    steps: 0,
  };
}

// ---------------------------------------------------------------- the step

/** One step of the core: the state after `input`, and what the shell is to do. */
export function step(core: SessionCore, state: SessionState, input: SessionInput, env: SessionEnv): Transition {
  const out: SessionCommand[] = [];
  state.steps += 1;
  const ctx: Ctx = { core, state, env, out };
  switch (input.type) {
    case 'open':
      open(ctx, input.connection);
      break;
    case 'message': {
      const connection = state.connections.get(input.connection);
      if (connection && !connection.closing) message(ctx, connection, input.data, input.binary);
      break;
    }
    case 'drain': {
      const connection = state.connections.get(input.connection);
      if (connection) drain(ctx, connection);
      break;
    }
    case 'closed':
      closed(ctx, input.connection);
      break;
    case 'appended':
      for (const subscription of state.byStream.get(input.stream) ?? []) schedule(ctx, subscription);
      break;
    case 'partitionsAdded':
      partitionsAdded(ctx, input.stream, input.added);
      break;
    case 'topicReset':
      for (const subscription of state.byStream.get(input.stream) ?? [])
        declareUnrecoverable(ctx, subscription, 'epoch', new Map(subscription.next));
      break;
    case 'flush':
      flush(ctx);
      break;
    case 'retry': {
      const subscription = state.connections.get(input.connection)?.subscriptions.get(input.subscription);
      if (subscription) schedule(ctx, subscription);
      break;
    }
    case 'heartbeat':
      heartbeat(ctx);
      break;
    case 'tick':
      housekeeping(ctx);
      break;
    case 'shutdown':
      state.stopping = true;
      for (const connection of state.connections.values()) closeConnection(ctx, connection, DISCONNECTS.shutdown);
      break;
    case 'result':
    case 'failed':
      answered(ctx, input);
      break;
  }
  return { state, commands: out };
}

interface Ctx {
  readonly core: SessionCore;
  readonly state: SessionState;
  readonly env: SessionEnv;
  readonly out: SessionCommand[];
}

// ---------------------------------------------------------------- connections

function open(ctx: Ctx, id: number): void {
  const { now } = ctx.env;
  const { rules } = ctx.core;
  // Beyond the cap the socket gets no state at all (its later inputs find nothing), so memory stays at the cap.
  if (ctx.state.connections.size >= rules.maxConnections) {
    ctx.out.push({ type: 'close', connection: id, disconnect: DISCONNECTS.full });
    return;
  }
  const connection: ConnectionState = {
    id,
    openedAt: now,
    principal: undefined,
    subscriptions: new Map(),
    bucket: new TokenBucket(rules.limits.framesPerSecond, rules.limits.frameBurst, now),
    floodDrops: 0,
    lastRateErrorAt: 0,
    closing: false,
    waitingDrain: false,
    bufferFullSince: undefined,
    lastSubscribedAt: now,
    op: undefined,
    opTicket: 0,
    queued: [],
    waits: new Map(),
    emittedBytes: 0,
    emittedInStep: 0,
  };
  ctx.state.connections.set(id, connection);
  if (ctx.state.stopping) return closeConnection(ctx, connection, DISCONNECTS.shutdown);
  send(ctx, connection, { type: 'welcome', server: rules.serverName, heartbeatMs: rules.heartbeatMs, limits: rules.limits });
}

function closed(ctx: Ctx, id: number): void {
  const connection = ctx.state.connections.get(id);
  if (!connection) return;
  connection.closing = true;
  ctx.state.connections.delete(id);
  for (const subscription of connection.subscriptions.values()) removeSubscription(ctx, subscription);
}

function drain(ctx: Ctx, connection: ConnectionState): void {
  if (!connection.waitingDrain) return;
  if (ctx.env.bufferedBytes(connection.id) > ctx.core.rules.maxBufferedBytes) return;
  connection.waitingDrain = false;
  connection.bufferFullSince = undefined;
  for (const subscription of connection.subscriptions.values()) schedule(ctx, subscription);
}

function closeConnection(ctx: Ctx, connection: ConnectionState, disconnect: Disconnect): void {
  if (connection.closing) return;
  connection.closing = true;
  ctx.out.push({ type: 'close', connection: connection.id, disconnect });
}

function send(ctx: Ctx, connection: ConnectionState, frame: ServerFrame): void {
  if (!connection.closing) ctx.out.push({ type: 'send', connection: connection.id, frame });
}

function sendError(ctx: Ctx, connection: ConnectionState, code: ErrorCode, message: string, id?: string, path?: string): void {
  send(ctx, connection, { type: 'error', code, message, ...(id !== undefined ? { id } : {}), ...(path ? { path } : {}) });
}

function metric(ctx: Ctx, value: SessionMetric): void {
  ctx.out.push({ type: 'metric', metric: value });
}

function log(ctx: Ctx, level: 'warn' | 'error', message: string, fields: Record<string, unknown> = {}): void {
  ctx.out.push({ type: 'log', level, message, fields });
}

const decoder = new TextDecoder('utf-8', { fatal: true });

/** A frame from the client: rate-limited, decoded, parsed, then handled after the frames before it. */
function message(ctx: Ctx, connection: ConnectionState, data: ArrayBuffer | Uint8Array, binary: boolean): void {
  const { now } = ctx.env;
  const { limits } = ctx.core.rules;
  if (!connection.bucket.take(now)) {
    connection.floodDrops += 1;
    if (connection.floodDrops >= FLOOD_CLOSE_AFTER) {
      closeConnection(ctx, connection, DISCONNECTS.flood);
      return;
    }
    // One error per second at most: answering every dropped frame would amplify the flood.
    if (now - connection.lastRateErrorAt >= 1_000) {
      connection.lastRateErrorAt = now;
      sendError(
        ctx,
        connection,
        'rate_limited',
        `more than ${limits.framesPerSecond} frames per second (burst ${limits.frameBurst}); frames are being dropped`,
      );
    }
    return;
  }
  connection.floodDrops = 0;
  if (binary) {
    metric(ctx, { name: 'clientFrames', frameType: 'invalid' });
    sendError(ctx, connection, 'malformed_json', 'binary frames are not accepted; send JSON text');
    return;
  }
  let text: string;
  try {
    text = decoder.decode(data);
  } catch {
    sendError(ctx, connection, 'malformed_json', 'the frame is not valid UTF-8');
    return;
  }
  const parsed = ctx.core.parse(text);
  if (!parsed.ok) {
    metric(ctx, { name: 'clientFrames', frameType: 'invalid' });
    sendError(ctx, connection, parsed.code, parsed.message, parsed.id, parsed.path);
    return;
  }
  metric(ctx, { name: 'clientFrames', frameType: parsed.frame.type });
  // Frames are handled one after another, so a credit never overtakes the subscribe it refers to.
  if (connection.op) connection.queued.push(parsed.frame);
  else handle(ctx, connection, parsed.frame);
}

/** Handles the frames that waited behind a finished one, until one waits for a read in turn. */
function frameDone(ctx: Ctx, connection: ConnectionState): void {
  connection.op = undefined;
  while (!connection.op && !connection.closing && connection.queued.length > 0) handle(ctx, connection, connection.queued.shift()!);
}

/** Issues a read for the connection's current frame. */
function awaitRead(ctx: Ctx, connection: ConnectionState, read: SessionRead): void {
  const ticket = ctx.state.nextTicket++;
  connection.opTicket = ticket;
  connection.waits.set(ticket, { for: 'frame' });
  ctx.out.push({ type: 'read', connection: connection.id, ticket, read });
}

function issueRead(ctx: Ctx, connection: ConnectionState, wait: Wait, read: SessionRead): void {
  const ticket = ctx.state.nextTicket++;
  connection.waits.set(ticket, wait);
  ctx.out.push({ type: 'read', connection: connection.id, ticket, read });
}

// ---------------------------------------------------------------- frames

function handle(ctx: Ctx, connection: ConnectionState, frame: ClientFrame): void {
  if (frame.type === 'ping') {
    send(ctx, connection, { type: 'pong', ts: ctx.env.now, ...(frame.nonce !== undefined ? { nonce: frame.nonce } : {}) });
    return;
  }
  if (frame.type === 'auth') {
    if (connection.principal) {
      sendError(ctx, connection, 'already_authenticated', 'this connection is already authenticated');
      return;
    }
    connection.op = { kind: 'auth' };
    awaitRead(ctx, connection, {
      kind: 'authenticate',
      credentials: 'token' in frame ? { token: frame.token } : { apiKey: frame.apiKey },
    });
    return;
  }
  if (!connection.principal) {
    sendError(ctx, connection, 'not_authenticated', 'send an auth frame first', 'id' in frame ? frame.id : undefined);
    return;
  }
  switch (frame.type) {
    case 'subscribe':
      subscribe(ctx, connection, connection.principal, frame);
      return;
    case 'credit': {
      const subscription = subscriptionOf(ctx, connection, frame.id);
      if (!subscription) return;
      subscription.credits = Math.min(ctx.core.rules.limits.maxCredits, subscription.credits + frame.n);
      schedule(ctx, subscription);
      return;
    }
    case 'seek': {
      const subscription = subscriptionOf(ctx, connection, frame.id);
      if (!subscription) return;
      if (frame.credits !== undefined) subscription.credits = frame.credits;
      seek(ctx, subscription, frame.to);
      return;
    }
    case 'unsubscribe': {
      const subscription = subscriptionOf(ctx, connection, frame.id);
      if (!subscription) return;
      removeSubscription(ctx, subscription);
      connection.subscriptions.delete(subscription.id);
      connection.lastSubscribedAt = ctx.env.now;
      send(ctx, connection, { type: 'unsubscribed', id: subscription.id });
      return;
    }
  }
}

function subscriptionOf(ctx: Ctx, connection: ConnectionState, id: string): SubscriptionState | undefined {
  const subscription = connection.subscriptions.get(id);
  if (!subscription) sendError(ctx, connection, 'unknown_subscription', `no subscription ${JSON.stringify(id)} on this connection`, id);
  return subscription;
}

function authenticated(ctx: Ctx, connection: ConnectionState, input: Answer): void {
  if (input.type === 'result' && input.result.kind === 'authenticate') {
    const { principal } = input.result;
    connection.principal = principal;
    connection.lastSubscribedAt = ctx.env.now;
    send(ctx, connection, { type: 'authenticated', userId: principal.userId, via: principal.via });
  } else if (input.type === 'failed' && input.failure === 'unavailable') {
    // The credential could not be checked (the database restarting): not the client's fault, it may try again.
    log(ctx, 'warn', 'authentication could not reach PostgreSQL', { err: input.error });
    sendError(ctx, connection, 'unavailable', 'credentials cannot be checked right now; send the auth frame again shortly');
  } else {
    const refused = input.type === 'failed' && input.failure === 'refused';
    if (!refused) log(ctx, 'error', 'authentication failed unexpectedly', { err: input.type === 'failed' ? input.error : undefined });
    sendError(ctx, connection, 'auth_failed', refused ? input.message : 'authentication failed');
    closeConnection(ctx, connection, DISCONNECTS.authFailed);
  }
  frameDone(ctx, connection);
}

function subscribe(ctx: Ctx, connection: ConnectionState, principal: Principal, frame: SubscribeFrame): void {
  const { id, stream } = frame;
  const { limits } = ctx.core.rules;
  if (connection.subscriptions.has(id))
    return sendError(ctx, connection, 'duplicate_subscription', `subscription ${JSON.stringify(id)} already exists`, id);
  if (connection.subscriptions.size >= limits.maxSubscriptions)
    return sendError(ctx, connection, 'too_many_subscriptions', `at most ${limits.maxSubscriptions} subscriptions per connection`, id);
  if (!ctx.env.streams.has(stream)) return sendError(ctx, connection, 'unavailable', `stream ${stream} is not served by this gateway`, id);
  const spec = frame.filter ?? {};
  if (stream === 'bars' && (spec.patterns || spec.tiers || spec.kinds))
    return sendError(ctx, connection, 'bad_field', 'bars take only symbols or a universe as filter', id, 'filter');
  if (spec.universe !== undefined) {
    connection.op = { kind: 'subscribe', frame, stage: 'universe' };
    awaitRead(ctx, connection, { kind: 'universe', userId: principal.userId, key: spec.universe });
    return;
  }
  filtered(ctx, connection, { kind: 'subscribe', frame, stage: 'universe' }, spec.symbols);
}

type SubscribeOp = Extract<FrameOp, { kind: 'subscribe' }>;

/** The subscription's symbols are known (after its universe, if any). */
function filtered(ctx: Ctx, connection: ConnectionState, op: SubscribeOp, symbols: readonly string[] | undefined): void {
  const { frame } = op;
  const spec = frame.filter ?? {};
  const max = ctx.core.rules.limits.maxSymbolsPerSubscription;
  if ((symbols?.length ?? 0) > max)
    return sendError(ctx, connection, 'subscription_too_large', `a subscription may cover at most ${max} symbols`, frame.id);
  op.filter = compileFilter({ symbols, patterns: spec.patterns, tiers: spec.tiers, kinds: spec.kinds });
  if (frame.from === 'snapshot' && ctx.core.rules.readModelSnapshots) {
    op.stage = 'snapshot';
    connection.op = op;
    awaitRead(ctx, connection, { kind: 'snapshot', stream: frame.stream, filter: op.filter });
    return;
  }
  startSubscription(ctx, connection, op);
}

/** No read-model snapshot: the subscription starts where its frame says (the head for a snapshot from the rings). */
function startSubscription(ctx: Ctx, connection: ConnectionState, op: SubscribeOp): void {
  const { frame } = op;
  const from: StartPosition = frame.from === undefined || frame.from === 'snapshot' ? 'latest' : frame.from;
  if (from === 'latest') return subscribed(ctx, connection, op, latestStart(ctx, frame.stream), undefined);
  op.stage = 'start';
  op.start = { from, stage: 'bounds' };
  connection.op = op;
  awaitRead(ctx, connection, { kind: 'bounds', stream: frame.stream });
}

function latestStart(ctx: Ctx, stream: StreamName): StartOk {
  const next = new Map<number, number>();
  for (const [partition, ring] of ctx.env.streams.get(stream)!.rings) next.set(partition, ring.nextOffset);
  return { ok: true, next, bounds: undefined };
}

/** The read-model snapshot's offsets, if still inside the log; else undefined. */
function readModelStart(snapshot: Snapshot, bounds: ReadonlyMap<number, PartitionBounds>): StartOk | undefined {
  const next = new Map<number, number>();
  for (const [partition, { logStart, high }] of bounds) {
    const offset = snapshot.next.get(partition) ?? logStart;
    if (offset < logStart || offset > high) return undefined;
    next.set(partition, offset);
  }
  return { ok: true, next, bounds };
}

function subscribed(
  ctx: Ctx,
  connection: ConnectionState,
  op: SubscribeOp,
  start: StartResult,
  fromReadModel: readonly SnapshotItem[] | undefined,
): void {
  const { frame } = op;
  const { id, stream } = frame;
  if (!start.ok && 'error' in start) return sendError(ctx, connection, start.error, start.message, id);
  const subscription: SubscriptionState = {
    id,
    stream,
    connection,
    filter: op.filter!,
    conflate: frame.conflate ?? false,
    epoch: ctx.env.streams.get(stream)!.topic.epoch,
    next: start.ok ? start.next : new Map(),
    credits: frame.credits ?? ctx.core.rules.defaultCredits,
    // Registered but paused when unrecoverable: the client may seek on it, or unsubscribe.
    state: start.ok ? 'active' : 'paused',
    reading: false,
    scheduled: false,
    generation: 0,
    stash: new Map(),
    resume: undefined,
    lastEventTs: 0,
  };
  connection.subscriptions.set(id, subscription);
  ctx.state.byStream.get(stream)!.add(subscription);
  metric(ctx, { name: 'subscriptions', delta: 1 });
  if (!start.ok) {
    send(ctx, connection, start.unrecoverable);
    return;
  }
  // Every start but the head is a recovery that ends with `resumed`, a snapshot from memory (at the head) too.
  const backlog = beginResume(subscription, start, frame.from === undefined || frame.from === 'latest');
  send(ctx, connection, { type: 'subscribed', id, stream, cursor: cursorOf(subscription), backlog, conflate: subscription.conflate });
  if (fromReadModel)
    send(ctx, connection, { type: 'snapshot', id, cursor: cursorOf(subscription), source: 'redis', items: [...fromReadModel] });
  else if (frame.from === 'snapshot') sendSnapshot(ctx, subscription);
  schedule(ctx, subscription);
}

/** Sets the resume bookkeeping of a (re)started subscription; returns its backlog. */
function beginResume(subscription: SubscriptionState, start: StartOk, atHead: boolean): number {
  let backlog = 0;
  if (start.bounds) for (const [partition, next] of start.next) backlog += Math.max(0, (start.bounds.get(partition)?.high ?? next) - next);
  subscription.resume = atHead
    ? undefined
    : {
        target: new Map(
          [...start.next].map(([partition, next]) => [partition, Math.max(next, start.bounds?.get(partition)?.high ?? next)]),
        ),
        start: new Map(start.next),
        count: 0,
        fromRing: 0,
        fromKafka: 0,
      };
  return backlog;
}

function seek(ctx: Ctx, subscription: SubscriptionState, to: StartPosition): void {
  subscription.generation += 1;
  subscription.stash.clear();
  if (to === 'latest') return sought(ctx, subscription, to, latestStart(ctx, subscription.stream));
  const { connection } = subscription;
  connection.op = { kind: 'seek', subscription, to, start: { from: to, stage: 'bounds' } };
  awaitRead(ctx, connection, { kind: 'bounds', stream: subscription.stream });
}

function sought(ctx: Ctx, subscription: SubscriptionState, to: StartPosition, start: StartResult): void {
  const { connection } = subscription;
  if (!connection.subscriptions.has(subscription.id)) return;
  if (!start.ok) {
    if ('error' in start) return sendError(ctx, connection, start.error, start.message, subscription.id);
    subscription.state = 'paused';
    send(ctx, connection, start.unrecoverable);
    return;
  }
  subscription.epoch = ctx.env.streams.get(subscription.stream)!.topic.epoch;
  subscription.next = start.next;
  subscription.state = 'active';
  const backlog = beginResume(subscription, start, to === 'latest');
  send(ctx, connection, { type: 'seeked', id: subscription.id, cursor: cursorOf(subscription), backlog });
  schedule(ctx, subscription);
}

// ---------------------------------------------------------------- answers to reads

type Answer = Extract<SessionInput, { type: 'result' | 'failed' }>;

function answered(ctx: Ctx, input: Answer): void {
  const connection = ctx.state.connections.get(input.connection);
  const wait = connection?.waits.get(input.ticket);
  if (!connection || !wait) return;
  connection.waits.delete(input.ticket);
  switch (wait.for) {
    case 'frame':
      if (connection.op && input.ticket === connection.opTicket) frameAnswered(ctx, connection, connection.op, input);
      return;
    case 'readBack':
      readBackAnswered(ctx, wait, input);
      return;
    case 'unrecoverable':
      unrecoverableAnswered(ctx, wait, input);
      return;
  }
}

function frameAnswered(ctx: Ctx, connection: ConnectionState, op: FrameOp, input: Answer): void {
  if (op.kind === 'auth') return authenticated(ctx, connection, input);
  // A step that awaits another read takes a new ticket; one that answered with an error is done already (returns).
  const ticket = connection.opTicket;
  if (op.kind === 'subscribe') {
    switch (op.stage) {
      case 'universe': {
        if (input.type === 'failed' || input.result.kind !== 'universe') return internalError(ctx, connection, input);
        const universe = input.result.symbols;
        const spec = op.frame.filter ?? {};
        if (!universe) {
          sendError(
            ctx,
            connection,
            'forbidden_universe',
            `no universe ${JSON.stringify(spec.universe)} is yours or built in`,
            op.frame.id,
            'filter.universe',
          );
          return frameDone(ctx, connection);
        }
        const symbols = spec.symbols ? spec.symbols.filter((symbol) => universe.includes(symbol)) : [...universe];
        filtered(ctx, connection, op, symbols);
        break;
      }
      case 'snapshot':
        if (input.type === 'result' && input.result.kind === 'snapshot' && input.result.snapshot) {
          op.snapshot = input.result.snapshot;
          op.stage = 'snapshotBounds';
          awaitRead(ctx, connection, { kind: 'bounds', stream: op.frame.stream });
          return;
        }
        if (input.type === 'failed') log(ctx, 'warn', 'read-model snapshot failed; using the in-memory one', { err: input.error });
        startSubscription(ctx, connection, op);
        break;
      case 'snapshotBounds': {
        const start =
          input.type === 'result' && input.result.kind === 'bounds' ? readModelStart(op.snapshot!, input.result.bounds) : undefined;
        if (input.type === 'failed') log(ctx, 'warn', 'read-model snapshot failed; using the in-memory one', { err: input.error });
        if (start) subscribed(ctx, connection, op, start, op.snapshot!.items);
        else startSubscription(ctx, connection, op);
        break;
      }
      case 'start': {
        const start = startAnswered(ctx, connection, op.frame.stream, op.frame.id, op.start!, input);
        if (!start) return;
        subscribed(ctx, connection, op, start, undefined);
        break;
      }
    }
  } else {
    const start = startAnswered(ctx, connection, op.subscription.stream, op.subscription.id, op.start, input);
    if (!start) return;
    sought(ctx, op.subscription, op.to, start);
  }
  if (connection.opTicket === ticket) frameDone(ctx, connection);
}

/** A frame whose handling failed unexpectedly: answered with `internal`, and the next frame is handled. */
function internalError(ctx: Ctx, connection: ConnectionState, input: Answer): void {
  log(ctx, 'error', 'frame handler failed', { connection: connection.id, err: input.type === 'failed' ? input.error : input.result.kind });
  sendError(ctx, connection, 'internal', 'the gateway failed to handle the frame');
  frameDone(ctx, connection);
}

/**
 * One answer on the way to a start position: the position when it is known, or `undefined` while another read is
 * awaited (or the frame was answered with an internal error).
 */
function startAnswered(
  ctx: Ctx,
  connection: ConnectionState,
  stream: StreamName,
  id: string,
  progress: StartProgress,
  input: Answer,
): StartResult | undefined {
  const unavailable = { ok: false, error: 'unavailable', message: 'the log is not reachable right now; try again' } as const;
  const { from } = progress;
  switch (progress.stage) {
    case 'bounds': {
      if (input.type === 'failed' || input.result.kind !== 'bounds') {
        log(ctx, 'warn', 'reading log bounds failed', { err: input.type === 'failed' ? input.error : undefined });
        return unavailable;
      }
      const { bounds } = input.result;
      progress.bounds = bounds;
      if (from === 'earliest') {
        const next = new Map<number, number>();
        for (const [partition, { logStart }] of bounds) next.set(partition, logStart);
        return { ok: true, next, bounds };
      }
      if ('timestamp' in from) {
        progress.stage = 'time';
        awaitRead(ctx, connection, { kind: 'offsetsForTime', stream, timestampMs: from.timestamp });
        return undefined;
      }
      if ('offsets' in from) {
        const requested = new Map(Object.entries(from.offsets).map(([partition, offset]) => [Number(partition), offset]));
        for (const partition of requested.keys())
          if (!bounds.has(partition)) return { ok: false, error: 'bad_field', message: `the topic has no partition ${partition}` };
        return positionsIn(ctx, stream, id, requested, bounds, 'head');
      }
      let cursor;
      try {
        cursor = decodeCursor(from.cursor);
      } catch (error) {
        return { ok: false, error: 'bad_cursor', message: error instanceof CursorError ? error.message : 'bad cursor' };
      }
      if (cursor.stream !== stream)
        return { ok: false, error: 'bad_cursor', message: `the cursor belongs to stream ${cursor.stream}, not ${stream}` };
      const requested = new Map(Object.entries(cursor.next).map(([partition, offset]) => [Number(partition), offset]));
      progress.requested = requested;
      if (cursor.epoch !== ctx.env.streams.get(stream)!.topic.epoch)
        return { ok: false, unrecoverable: unrecoverableFrame(ctx, id, stream, 'epoch', requested, bounds) };
      const rings = ctx.env.streams.get(stream)!.rings;
      if ([...requested.keys()].some((partition) => !rings.has(partition))) {
        // A cursor from an instance that saw partitions added before this one did: learn of them now, or the
        // new partitions would start from their log start instead of the cursor's offsets.
        progress.stage = 'refresh';
        awaitRead(ctx, connection, { kind: 'refreshPartitions', stream });
        return undefined;
      }
      return positionsIn(ctx, stream, id, requested, bounds, 'logStart');
    }
    case 'time':
      if (input.type === 'failed' || input.result.kind !== 'offsetsForTime') {
        internalError(ctx, connection, input);
        return undefined;
      }
      return { ok: true, next: new Map(input.result.offsets), bounds: progress.bounds };
    case 'refresh':
    case 'refreshBounds': {
      if (input.type === 'failed') {
        log(ctx, 'warn', 'reading topic metadata failed', { err: input.error });
        return unavailable;
      }
      if (progress.stage === 'refresh') {
        progress.stage = 'refreshBounds';
        awaitRead(ctx, connection, { kind: 'bounds', stream });
        return undefined;
      }
      if (input.result.kind !== 'bounds') return unavailable;
      const { bounds } = input.result;
      const rings = ctx.env.streams.get(stream)!.rings;
      const requested = progress.requested!;
      const unknown = [...requested.keys()].filter((partition) => !rings.has(partition));
      if (unknown.length > 0)
        return { ok: false, error: 'bad_cursor', message: `the cursor names partitions the topic does not have: ${unknown.join(', ')}` };
      return positionsIn(ctx, stream, id, requested, bounds, 'logStart');
    }
  }
}

/**
 * The positions asked for, checked against the log's bounds. A partition the position does not name starts at its
 * log start (a cursor) or at the head (explicit offsets).
 */
function positionsIn(
  ctx: Ctx,
  stream: StreamName,
  id: string,
  requested: ReadonlyMap<number, number>,
  bounds: ReadonlyMap<number, PartitionBounds>,
  unnamed: 'logStart' | 'head',
): StartResult {
  const next = new Map<number, number>();
  for (const [partition, { logStart, high }] of bounds) {
    const offset = requested.get(partition) ?? (unnamed === 'logStart' ? logStart : high);
    if (offset < logStart) return { ok: false, unrecoverable: unrecoverableFrame(ctx, id, stream, 'retention', requested, bounds) };
    if (offset > high) return { ok: false, unrecoverable: unrecoverableFrame(ctx, id, stream, 'ahead', requested, bounds) };
    next.set(partition, offset);
  }
  return { ok: true, next, bounds };
}

function unrecoverableFrame(
  ctx: Ctx,
  id: string,
  stream: StreamName,
  reason: 'retention' | 'epoch' | 'ahead',
  requested: ReadonlyMap<number, number>,
  bounds: ReadonlyMap<number, PartitionBounds>,
): Extract<ServerFrame, { type: 'unrecoverable' }> {
  const oldestOffsets: Record<string, number> = {};
  const oldest: Record<number, number> = {};
  for (const [partition, { logStart }] of bounds) {
    oldestOffsets[String(partition)] = logStart;
    oldest[partition] = logStart;
  }
  return {
    type: 'unrecoverable',
    id,
    reason,
    requested: Object.fromEntries([...requested].map(([partition, offset]) => [String(partition), offset])),
    oldest: encodeCursor({ stream, epoch: ctx.env.streams.get(stream)!.topic.epoch, next: oldest }),
    oldestOffsets,
    snapshotAvailable: true,
  };
}

/** A position that cannot be served any more: the subscription pauses until the client seeks; the log's bounds are read for the frame. */
function declareUnrecoverable(
  ctx: Ctx,
  subscription: SubscriptionState,
  reason: 'retention' | 'epoch',
  requested: ReadonlyMap<number, number>,
): void {
  subscription.state = 'paused';
  subscription.generation += 1;
  issueRead(
    ctx,
    subscription.connection,
    { for: 'unrecoverable', subscription, reason, requested },
    { kind: 'bounds', stream: subscription.stream },
  );
}

function unrecoverableAnswered(ctx: Ctx, wait: Extract<Wait, { for: 'unrecoverable' }>, input: Answer): void {
  const { subscription } = wait;
  let bounds: ReadonlyMap<number, PartitionBounds>;
  if (input.type === 'result' && input.result.kind === 'bounds') bounds = input.result.bounds;
  else {
    // The log is not reachable: the rings' coverage stands in for its bounds.
    const fromRings = new Map<number, PartitionBounds>();
    for (const [partition, ring] of ctx.env.streams.get(subscription.stream)!.rings)
      fromRings.set(partition, { logStart: ring.coveredFrom, high: ring.nextOffset });
    bounds = fromRings;
  }
  send(ctx, subscription.connection, unrecoverableFrame(ctx, subscription.id, subscription.stream, wait.reason, wait.requested, bounds));
}

function readBackAnswered(ctx: Ctx, wait: Extract<Wait, { for: 'readBack' }>, input: Answer): void {
  const { subscription, generation, missing } = wait;
  subscription.reading = false;
  const current = generation === subscription.generation;
  // What to do afterwards: pump again now (also when a seek made this read stale), later (a failed read), or not
  // at all (the position is gone; the subscription is paused until the client moves it).
  let after: 'now' | 'later' | 'stop' = 'now';
  if (input.type === 'result' && input.result.kind === 'log') {
    if (current) {
      for (const [partition, read] of input.result.reads) {
        const from = missing.get(partition)!;
        if (read.nextOffset > from) subscription.stash.set(partition, { events: read.events, nextOffset: read.nextOffset });
        else {
          log(ctx, 'warn', 'read-back made no progress', { partition, from, logStart: read.logStart, high: read.high });
          after = 'later';
        }
      }
    }
    // The stash is delivered by the next pump, within the credits and buffer limits.
  } else if (current) {
    if (input.type === 'failed' && input.failure === 'outOfRange') {
      after = 'stop';
      declareUnrecoverable(ctx, subscription, 'retention', new Map(subscription.next));
    } else {
      log(ctx, 'warn', 'Kafka read-back failed; retrying', {
        err: input.type === 'failed' ? input.error : undefined,
        subscription: subscription.id,
      });
      after = 'later';
    }
  }
  if (subscription.connection.closing || after === 'stop') return;
  if (after === 'later')
    ctx.out.push({
      type: 'retryAfter',
      delayMs: READ_BACK_RETRY_MS,
      connection: subscription.connection.id,
      subscription: subscription.id,
    });
  else schedule(ctx, subscription);
}

// ---------------------------------------------------------------- the tails

function partitionsAdded(ctx: Ctx, stream: StreamName, added: ReadonlyMap<number, number>): void {
  // Every record of a new partition is newer than any position: subscriptions take it from its log start.
  for (const subscription of ctx.state.byStream.get(stream) ?? []) {
    if (subscription.state !== 'active') continue;
    for (const [partition, logStart] of added) if (!subscription.next.has(partition)) subscription.next.set(partition, logStart);
    schedule(ctx, subscription);
  }
}

function sendSnapshot(ctx: Ctx, subscription: SubscriptionState): void {
  // The records held in the rings (primed from Kafka at start) up to the subscription's start, folded into states.
  const records: { key: string; data: Record<string, unknown> }[] = [];
  // Symbol, pattern and tier never change within a pattern's life, so records can be filtered on them before
  // decoding; the kind only on the folded state (its last event's).
  const stateless = { ...subscription.filter, kinds: undefined };
  for (const [partition, ring] of ctx.env.streams.get(subscription.stream)!.rings) {
    const until = subscription.next.get(partition) ?? ring.nextOffset;
    const read = ring.read(ring.coveredFrom, ring.capacity);
    for (const event of read?.events ?? []) {
      if (event.offset < until && matches(stateless, event))
        records.push({ key: event.key, data: (JSON.parse(wireOf(event).toString('utf8')) as { data: Record<string, unknown> }).data });
    }
  }
  const items = snapshotFromRecords(subscription.stream, records, subscription.filter, MAX_SNAPSHOT_ITEMS);
  send(ctx, subscription.connection, { type: 'snapshot', id: subscription.id, cursor: cursorOf(subscription), source: 'kafka', items });
}

function removeSubscription(ctx: Ctx, subscription: SubscriptionState): void {
  subscription.generation += 1;
  subscription.state = 'paused';
  if (ctx.state.byStream.get(subscription.stream)!.delete(subscription)) metric(ctx, { name: 'subscriptions', delta: -1 });
}

function cursorOf(subscription: SubscriptionState): string {
  return encodePosition(subscription.stream, subscription.epoch, subscription.next);
}

// ---------------------------------------------------------------- delivery

function schedule(ctx: Ctx, subscription: SubscriptionState): void {
  if (subscription.scheduled) return;
  subscription.scheduled = true;
  ctx.state.queue.push(subscription);
  if (!ctx.state.flushRequested) {
    ctx.state.flushRequested = true;
    ctx.out.push({ type: 'flushSoon' });
  }
}

function flush(ctx: Ctx): void {
  ctx.state.flushRequested = false;
  const batch = ctx.state.queue.splice(0);
  for (const subscription of batch) {
    subscription.scheduled = false;
    try {
      pump(ctx, subscription);
    } catch (error) {
      log(ctx, 'error', 'delivery failed', { err: error, subscription: subscription.id });
    }
  }
}

/**
 * Sends what the subscription's credits and the socket's buffer allow, from the stash, the ring or (for
 * positions older than the ring) a read-back. Nothing is queued per client: a slow client only holds a
 * position, and reading resumes from it when credits or buffer space return.
 */
function pump(ctx: Ctx, subscription: SubscriptionState): void {
  const { connection } = subscription;
  if (connection.closing || subscription.state !== 'active' || subscription.reading) return;
  const tail = ctx.env.streams.get(subscription.stream)!;
  const { rules } = ctx.core;
  const maxBatch = rules.limits.maxEventsPerFrame;
  for (let round = 0; round < ROUNDS_PER_FLUSH; round += 1) {
    if (subscription.credits <= 0) break;
    const buffered = ctx.env.bufferedBytes(connection.id);
    if (buffered > rules.maxBufferedBytes) {
      if (!connection.waitingDrain) metric(ctx, { name: 'backpressurePauses' });
      connection.waitingDrain = true;
      connection.bufferFullSince ??= ctx.env.now;
      return;
    }
    // The frames decided in this step are not in the socket yet: past the limit with them, the subscription waits
    // for the next flush, which sees the buffer as the socket left it (a drain event comes only after back-pressure).
    if (connection.emittedInStep === ctx.state.steps && buffered + connection.emittedBytes > rules.maxBufferedBytes) {
      schedule(ctx, subscription);
      return;
    }
    const reads = new Map<number, PartitionRead>();
    let stashed: Set<number> | undefined;
    let missing: Map<number, number> | undefined;
    for (const [partition, offset] of subscription.next) {
      const held = subscription.stash.get(partition);
      if (held) {
        if (held.nextOffset > offset) {
          reads.set(partition, { events: held.events.filter((event) => event.offset >= offset), nextOffset: held.nextOffset });
          (stashed ??= new Set()).add(partition);
          continue;
        }
        subscription.stash.delete(partition);
      }
      const ring = tail.rings.get(partition);
      if (!ring || offset >= ring.nextOffset) continue;
      const read = ring.read(offset, maxBatch);
      if (read) reads.set(partition, read);
      else (missing ??= new Map()).set(partition, offset);
    }
    if (missing && reads.size === 0) {
      readBack(ctx, subscription, missing);
      return;
    }
    if (reads.size === 0) break;
    if (!deliver(ctx, subscription, reads, stashed)) break;
  }
  checkResumed(ctx, subscription, tail);
  if (subscription.credits > 0 && hasMore(subscription, tail)) schedule(ctx, subscription);
}

function hasMore(subscription: SubscriptionState, tail: StreamView): boolean {
  for (const [partition, offset] of subscription.next) {
    if (subscription.stash.has(partition)) return true;
    const ring = tail.rings.get(partition);
    if (ring && offset < ring.nextOffset) return true;
  }
  return false;
}

/** Decides one batch from `reads`; partitions in `fromKafka` were read back. Returns whether any position moved. */
function deliver(
  ctx: Ctx,
  subscription: SubscriptionState,
  reads: ReadonlyMap<number, PartitionRead>,
  fromKafka: ReadonlySet<number> | undefined,
): boolean {
  const batch = selectBatch(
    reads,
    subscription.filter,
    Math.min(subscription.credits, ctx.core.rules.limits.maxEventsPerFrame),
    subscription.conflate,
  );
  let progressed = false;
  for (const [partition, next] of batch.next) {
    const before = subscription.next.get(partition) ?? 0;
    if (next <= before) continue;
    progressed = true;
    subscription.next.set(partition, next);
    if (subscription.resume) {
      let scanned = 0;
      for (const event of reads.get(partition)!.events) if (event.offset >= before && event.offset < next) scanned += 1;
      if (fromKafka?.has(partition)) subscription.resume.fromKafka += scanned;
      else subscription.resume.fromRing += scanned;
    }
    const held = subscription.stash.get(partition);
    if (held && next >= held.nextOffset) subscription.stash.delete(partition);
  }
  const { deliveries } = batch;
  const count = deliveries.length;
  if (count > 0) {
    const { connection } = subscription;
    subscription.credits -= count;
    subscription.lastEventTs = deliveries[count - 1]!.event.timestampMs;
    if (subscription.resume) subscription.resume.count += count;
    // The frame's size, as far as back-pressure cares: its events' bytes (the head and separators are small).
    let bytes = 0;
    for (let index = 0; index < count; index += 1) {
      const { event } = deliveries[index]!;
      bytes += event.wireEnd - event.wireStart;
    }
    if (connection.emittedInStep !== ctx.state.steps) {
      connection.emittedInStep = ctx.state.steps;
      connection.emittedBytes = 0;
    }
    connection.emittedBytes += bytes;
    if (!connection.closing)
      ctx.out.push({
        type: 'events',
        connection: connection.id,
        stream: subscription.stream,
        id: subscription.id,
        cursor: cursorOf(subscription),
        deliveries,
      });
  }
  return progressed;
}

function readBack(ctx: Ctx, subscription: SubscriptionState, missing: Map<number, number>): void {
  subscription.reading = true;
  issueRead(
    ctx,
    subscription.connection,
    { for: 'readBack', subscription, generation: subscription.generation, missing },
    { kind: 'log', stream: subscription.stream, from: missing },
  );
}

function checkResumed(ctx: Ctx, subscription: SubscriptionState, tail: StreamView): void {
  const { resume } = subscription;
  if (!resume) return;
  let lagRecords = 0;
  for (const [partition, target] of resume.target) {
    const next = subscription.next.get(partition) ?? 0;
    if (next < target) return;
    lagRecords += Math.max(0, (tail.rings.get(partition)?.nextOffset ?? next) - next);
  }
  const range: ResumeReport['range'] = {};
  for (const [partition, start] of resume.start) range[String(partition)] = [start, subscription.next.get(partition) ?? start];
  const report: ResumeReport = {
    count: resume.count,
    range,
    fromRing: resume.fromRing,
    fromKafka: resume.fromKafka,
    lagRecords,
    lagMs: subscription.lastEventTs > 0 ? Math.max(0, ctx.env.now - subscription.lastEventTs) : 0,
  };
  subscription.resume = undefined;
  send(ctx, subscription.connection, { type: 'resumed', id: subscription.id, cursor: cursorOf(subscription), report });
}

// ---------------------------------------------------------------- timers

/** Every heartbeat interval: each authenticated connection hears its subscriptions' positions. */
function heartbeat(ctx: Ctx): void {
  for (const connection of ctx.state.connections.values()) {
    if (!connection.principal) continue;
    const subscriptions: Record<string, { cursor: string; credits: number; lagRecords: number }> = {};
    for (const subscription of connection.subscriptions.values()) {
      const tail = ctx.env.streams.get(subscription.stream)!;
      let lagRecords = 0;
      for (const [partition, next] of subscription.next) lagRecords += Math.max(0, (tail.rings.get(partition)?.nextOffset ?? next) - next);
      subscriptions[subscription.id] = { cursor: cursorOf(subscription), credits: subscription.credits, lagRecords };
    }
    send(ctx, connection, { type: 'heartbeat', ts: ctx.env.now, subscriptions });
  }
}

/** Every second: closes connections that did not authenticate, stay idle or stopped reading. */
function housekeeping(ctx: Ctx): void {
  const { rules } = ctx.core;
  const { now } = ctx.env;
  for (const connection of ctx.state.connections.values()) {
    if (!connection.principal && now - connection.openedAt > rules.authTimeoutMs) {
      closeConnection(ctx, connection, DISCONNECTS.authTimeout);
    } else if (connection.principal && connection.subscriptions.size === 0 && now - connection.lastSubscribedAt > rules.idleTimeoutMs) {
      closeConnection(ctx, connection, DISCONNECTS.idle);
    } else if (connection.bufferFullSince !== undefined && now - connection.bufferFullSince > rules.stallTimeoutMs) {
      if (ctx.env.bufferedBytes(connection.id) > rules.maxBufferedBytes) closeConnection(ctx, connection, DISCONNECTS.stalled);
      else connection.bufferFullSince = undefined;
    }
  }
}
