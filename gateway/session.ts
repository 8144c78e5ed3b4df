import type { Logger } from '../platform/index.js';
import { AuthError } from '../platform/index.js';
import { isDatabaseUnavailable } from '../store/availability.js';
import type { Authenticator, Principal, UniverseResolver } from './access.js';
import { deliveriesFrame, selectBatch, type FrameScratch } from './batch.js';
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
import { OffsetOutOfRangeError, type LogSource } from './kafka-log.js';
import { createFrameParser, TokenBucket } from './protocol.js';
import { snapshotFromRecords, type SnapshotSource } from './snapshot.js';
import type { TopicTail } from './topic-tail.js';
import { wireOf, type PartitionBounds, type PartitionRead, type StreamName } from './types.js';

/**
 * The gateway's client sessions: authentication, subscribe, credit, seek, resume (from the rings or read back
 * from Kafka), conflation, limits and close codes, behind ports. Nothing here touches a socket, a timer or the
 * clock: a connection speaks through its `SessionTransport` (uWebSockets.js in transport-uws.ts, a fake in
 * session.test.ts), time comes from `clock`, deferred work goes through `scheduler`, and the log, credentials
 * and snapshots are the `LogSource`, `Authenticator` and `SnapshotSource` interfaces. As Centrifuge's Client
 * behind its Transport, the same logic runs under test without a socket.
 */

/** What a session needs from its socket. */
export interface SessionTransport {
  /** Sends one text frame (a string or its UTF-8 bytes; the bytes may be a scratch view, copied at once). */
  send(frame: string | Buffer): void;
  /** Closes the socket with a named close code. */
  close(disconnect: Disconnect): void;
  /** Bytes waiting in the socket's send buffer. */
  bufferedAmount(): number;
}

/** Deferred work: `immediate` after the current I/O callbacks (delivery batches), `after` a delay (retries). */
export interface SessionScheduler {
  immediate(task: () => void): void;
  after(delayMs: number, task: () => void): void;
}

/** What sessions read of a stream's tail: its rings, its topic and a metadata refresh. */
export type SessionTail = Pick<TopicTail, 'rings' | 'topic' | 'refreshPartitions'>;

/** The counters and gauges sessions move (metrics.ts registers them with prom-client). */
export interface SessionMetrics {
  readonly connections: { set(value: number): void };
  readonly subscriptions: { inc(): void; dec(): void };
  readonly delivered: { inc(labels: { stream: StreamName }, value: number): void };
  readonly frames: { inc(labels: { type: string }): void };
  readonly errors: { inc(labels: { code: ErrorCode }): void };
  readonly readBacks: { inc(): void };
  readonly unrecoverable: { inc(labels: { reason: string }): void };
  readonly backpressure: { inc(): void };
  readonly sendBuffer: { set(value: number): void };
  readonly closes: { inc(labels: { reason: string }): void };
}

export interface SessionOptions {
  readonly config: GatewayConfig;
  readonly tails: ReadonlyMap<StreamName, SessionTail>;
  readonly source: LogSource;
  readonly authenticator: Authenticator;
  readonly universes: UniverseResolver;
  readonly logger: Logger;
  readonly metrics: SessionMetrics;
  readonly serverName: string;
  readonly clock: () => number;
  readonly scheduler: SessionScheduler;
  /** Snapshots from the read model; without it (or when it cannot answer) snapshots come from the rings. */
  readonly snapshots?: SnapshotSource;
  /** Sees every frame sent, as sent (the integration tests check each against gateway/asyncapi.yaml). */
  readonly onFrameSent?: (frame: string | Buffer) => void;
}

interface ResumeState {
  readonly target: Map<number, number>;
  readonly start: Map<number, number>;
  count: number;
  fromRing: number;
  fromKafka: number;
}

interface Subscription {
  readonly id: string;
  readonly stream: StreamName;
  readonly connection: Connection;
  readonly filter: EventFilter;
  readonly conflate: boolean;
  epoch: string;
  next: Map<number, number>;
  credits: number;
  state: 'active' | 'paused';
  /** A Kafka read-back is in flight. */
  reading: boolean;
  scheduled: boolean;
  /** Bumped by seek/unsubscribe, so results of reads started before are dropped. */
  generation: number;
  /** Records read back from Kafka beyond what the credits allowed; used before reading again. */
  stash: Map<number, PartitionRead>;
  resume: ResumeState | undefined;
  lastEventTs: number;
}

/** One client connection; the transport keeps it as its handle and passes it back with each socket event. */
export interface Connection {
  readonly id: number;
  readonly transport: SessionTransport;
  readonly openedAt: number;
  principal: Principal | undefined;
  authenticating: boolean;
  readonly subscriptions: Map<string, Subscription>;
  readonly bucket: TokenBucket;
  floodDrops: number;
  lastRateErrorAt: number;
  /** Frames are handled one after another, so a credit never overtakes the subscribe it refers to. */
  chain: Promise<void>;
  closed: boolean;
  waitingDrain: boolean;
  bufferFullSince: number | undefined;
  lastSubscribedAt: number;
}

type StartResult =
  | { ok: true; next: Map<number, number>; bounds: Map<number, PartitionBounds> | undefined }
  | { ok: false; unrecoverable: Extract<ServerFrame, { type: 'unrecoverable' }> }
  | { ok: false; error: ErrorCode; message: string };

const FLOOD_CLOSE_AFTER = 500;
const MAX_SNAPSHOT_ITEMS = 5_000;

/** The limits a gateway announces in `welcome` and enforces, from its config. */
function limitsOf(config: GatewayConfig): Limits {
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

/** Every connection of one gateway, their subscriptions and the pull-driven delivery to them. */
export class GatewaySessions {
  private readonly connections = new Set<Connection>();
  private readonly byStream = new Map<StreamName, Set<Subscription>>();
  private readonly queue: Subscription[] = [];
  private flushScheduled = false;
  private nextConnectionId = 1;
  private readonly parse: ReturnType<typeof createFrameParser>;
  readonly limits: Limits;
  private readonly decoder = new TextDecoder('utf-8', { fatal: true });
  private readonly metrics: SessionMetrics;
  /** Transports copy what they send (uWebSockets.js into the socket or its own buffer), so one buffer serves every frame. */
  private readonly frameScratch: FrameScratch = { buffer: Buffer.allocUnsafeSlow(256 * 1024) };
  /** Made once: scheduling a flush makes no closure. */
  private readonly flushQueue = (): void => this.flush();

  constructor(private readonly options: SessionOptions) {
    this.limits = limitsOf(options.config);
    this.parse = createFrameParser(this.limits);
    this.metrics = options.metrics;
    for (const stream of options.tails.keys()) this.byStream.set(stream, new Set());
  }

  get connectionCount(): number {
    return this.connections.size;
  }

  /** Bytes waiting in the send buffers of every connection, and the largest of one connection. */
  sendBuffers(): { total: number; largest: number } {
    let total = 0;
    let largest = 0;
    for (const connection of this.connections) {
      if (connection.closed) continue;
      const buffered = connection.transport.bufferedAmount();
      total += buffered;
      largest = Math.max(largest, buffered);
    }
    return { total, largest };
  }

  /** Closes every connection (the gateway is stopping). */
  shutdown(): void {
    for (const connection of [...this.connections]) {
      if (!connection.closed) connection.transport.close(DISCONNECTS.shutdown);
    }
  }

  // ---------------------------------------------------------------- the tails

  /** Records arrived on `stream`: its subscriptions read on. */
  appended(stream: StreamName): void {
    for (const subscription of this.byStream.get(stream)!) this.schedule(subscription);
  }

  /** Partitions were added to `stream`'s topic, each with its log start. */
  partitionsAdded(stream: StreamName, added: ReadonlyMap<number, number>): void {
    // Every record of a new partition is newer than any position: subscriptions take it from its log start.
    for (const subscription of this.byStream.get(stream)!) {
      if (subscription.state !== 'active') continue;
      for (const [partition, logStart] of added) if (!subscription.next.has(partition)) subscription.next.set(partition, logStart);
      this.schedule(subscription);
    }
  }

  /** `stream`'s topic was recreated: every position in it is void. */
  topicReset(stream: StreamName): void {
    for (const subscription of this.byStream.get(stream)!)
      void this.declareUnrecoverable(subscription, 'epoch', Object.fromEntries(subscription.next));
  }

  // ---------------------------------------------------------------- connections

  /** A socket opened: the connection is greeted with `welcome`; the transport keeps the returned handle. */
  open(transport: SessionTransport): Connection {
    const now = this.options.clock();
    const connection: Connection = {
      id: this.nextConnectionId++,
      transport,
      openedAt: now,
      principal: undefined,
      authenticating: false,
      subscriptions: new Map(),
      bucket: new TokenBucket(this.limits.framesPerSecond, this.limits.frameBurst, now),
      floodDrops: 0,
      lastRateErrorAt: 0,
      chain: Promise.resolve(),
      closed: false,
      waitingDrain: false,
      bufferFullSince: undefined,
      lastSubscribedAt: now,
    };
    this.connections.add(connection);
    this.metrics.connections.set(this.connections.size);
    this.send(connection, {
      type: 'welcome',
      server: this.options.serverName,
      heartbeatMs: this.options.config.GATEWAY_HEARTBEAT_MS,
      limits: this.limits,
    });
    return connection;
  }

  /** The socket closed (by either side): nothing is sent to it any more. */
  disconnected(connection: Connection): void {
    connection.closed = true;
    this.connections.delete(connection);
    for (const subscription of connection.subscriptions.values()) this.removeSubscription(subscription);
    this.metrics.connections.set(this.connections.size);
  }

  /** The socket's send buffer drained: delivery paused on back-pressure resumes once it is below the limit. */
  drain(connection: Connection): void {
    if (!connection.waitingDrain) return;
    if (connection.transport.bufferedAmount() > this.options.config.GATEWAY_MAX_BUFFERED_BYTES) return;
    connection.waitingDrain = false;
    connection.bufferFullSince = undefined;
    for (const subscription of connection.subscriptions.values()) this.schedule(subscription);
  }

  /** A frame from the client: rate-limited, decoded, parsed, then handled after the frames before it. */
  message(connection: Connection, message: ArrayBuffer, isBinary: boolean): void {
    if (connection.closed) return;
    const now = this.options.clock();
    if (!connection.bucket.take(now)) {
      connection.floodDrops += 1;
      if (connection.floodDrops >= FLOOD_CLOSE_AFTER) {
        this.closeConnection(connection, DISCONNECTS.flood);
        return;
      }
      // One error per second at most: answering every dropped frame would amplify the flood.
      if (now - connection.lastRateErrorAt >= 1_000) {
        connection.lastRateErrorAt = now;
        this.sendError(
          connection,
          'rate_limited',
          `more than ${this.limits.framesPerSecond} frames per second (burst ${this.limits.frameBurst}); frames are being dropped`,
        );
      }
      return;
    }
    connection.floodDrops = 0;
    if (isBinary) {
      this.metrics.frames.inc({ type: 'invalid' });
      this.sendError(connection, 'malformed_json', 'binary frames are not accepted; send JSON text');
      return;
    }
    let text: string;
    try {
      text = this.decoder.decode(message);
    } catch {
      this.sendError(connection, 'malformed_json', 'the frame is not valid UTF-8');
      return;
    }
    const parsed = this.parse(text);
    if (!parsed.ok) {
      this.metrics.frames.inc({ type: 'invalid' });
      this.sendError(connection, parsed.code, parsed.message, parsed.id, parsed.path);
      return;
    }
    this.metrics.frames.inc({ type: parsed.frame.type });
    connection.chain = connection.chain
      .then(() => this.handle(connection, parsed.frame))
      .catch((error: unknown) => {
        this.options.logger.error({ err: error, connection: connection.id }, 'frame handler failed');
        this.sendError(connection, 'internal', 'the gateway failed to handle the frame');
      });
  }

  private closeConnection(connection: Connection, disconnect: Disconnect): void {
    if (connection.closed) return;
    this.metrics.closes.inc({ reason: disconnect.name });
    connection.transport.close(disconnect);
  }

  private send(connection: Connection, frame: ServerFrame): void {
    this.sendText(connection, JSON.stringify(frame));
  }

  /** Sends a text frame; `text` may be UTF-8 bytes. */
  private sendText(connection: Connection, text: string | Buffer): void {
    if (connection.closed) return;
    this.options.onFrameSent?.(text);
    connection.transport.send(text);
  }

  private sendError(connection: Connection, code: ErrorCode, message: string, id?: string, path?: string): void {
    this.metrics.errors.inc({ code });
    this.send(connection, { type: 'error', code, message, ...(id !== undefined ? { id } : {}), ...(path ? { path } : {}) });
  }

  // ---------------------------------------------------------------- frames

  private async handle(connection: Connection, frame: ClientFrame): Promise<void> {
    if (connection.closed) return;
    if (frame.type === 'ping') {
      this.send(connection, { type: 'pong', ts: this.options.clock(), ...(frame.nonce !== undefined ? { nonce: frame.nonce } : {}) });
      return;
    }
    if (frame.type === 'auth') return this.authenticate(connection, frame);
    if (!connection.principal) {
      this.sendError(connection, 'not_authenticated', 'send an auth frame first', 'id' in frame ? frame.id : undefined);
      return;
    }
    switch (frame.type) {
      case 'subscribe':
        return this.subscribe(connection, connection.principal, frame);
      case 'credit': {
        const subscription = this.subscriptionOf(connection, frame.id);
        if (!subscription) return;
        subscription.credits = Math.min(this.limits.maxCredits, subscription.credits + frame.n);
        this.schedule(subscription);
        return;
      }
      case 'seek': {
        const subscription = this.subscriptionOf(connection, frame.id);
        if (!subscription) return;
        if (frame.credits !== undefined) subscription.credits = frame.credits;
        return this.seek(subscription, frame.to);
      }
      case 'unsubscribe': {
        const subscription = this.subscriptionOf(connection, frame.id);
        if (!subscription) return;
        this.removeSubscription(subscription);
        connection.subscriptions.delete(subscription.id);
        connection.lastSubscribedAt = this.options.clock();
        this.send(connection, { type: 'unsubscribed', id: subscription.id });
        return;
      }
    }
  }

  private subscriptionOf(connection: Connection, id: string): Subscription | undefined {
    const subscription = connection.subscriptions.get(id);
    if (!subscription) this.sendError(connection, 'unknown_subscription', `no subscription ${JSON.stringify(id)} on this connection`, id);
    return subscription;
  }

  private async authenticate(connection: Connection, frame: Extract<ClientFrame, { type: 'auth' }>): Promise<void> {
    if (connection.principal || connection.authenticating) {
      this.sendError(connection, 'already_authenticated', 'this connection is already authenticated');
      return;
    }
    connection.authenticating = true;
    try {
      const principal = await this.options.authenticator.authenticate('token' in frame ? { token: frame.token } : { apiKey: frame.apiKey });
      connection.principal = principal;
      connection.lastSubscribedAt = this.options.clock();
      this.send(connection, { type: 'authenticated', userId: principal.userId, via: principal.via });
    } catch (error) {
      // The credential could not be checked (the database restarting): not the client's fault, it may try again.
      if (isDatabaseUnavailable(error)) {
        this.options.logger.warn({ err: error }, 'authentication could not reach PostgreSQL');
        this.sendError(connection, 'unavailable', 'credentials cannot be checked right now; send the auth frame again shortly');
        return;
      }
      const message = error instanceof AuthError ? error.message : 'authentication failed';
      if (!(error instanceof AuthError)) this.options.logger.error({ err: error }, 'authentication failed unexpectedly');
      this.sendError(connection, 'auth_failed', message);
      this.closeConnection(connection, DISCONNECTS.authFailed);
    } finally {
      connection.authenticating = false;
    }
  }

  private async subscribe(connection: Connection, principal: Principal, frame: Extract<ClientFrame, { type: 'subscribe' }>): Promise<void> {
    const { id, stream } = frame;
    if (connection.subscriptions.has(id))
      return this.sendError(connection, 'duplicate_subscription', `subscription ${JSON.stringify(id)} already exists`, id);
    if (connection.subscriptions.size >= this.limits.maxSubscriptions) {
      return this.sendError(
        connection,
        'too_many_subscriptions',
        `at most ${this.limits.maxSubscriptions} subscriptions per connection`,
        id,
      );
    }
    const tail = this.options.tails.get(stream);
    if (!tail) return this.sendError(connection, 'unavailable', `stream ${stream} is not served by this gateway`, id);
    const filterSpec = frame.filter ?? {};
    if (stream === 'bars' && (filterSpec.patterns || filterSpec.tiers || filterSpec.kinds)) {
      return this.sendError(connection, 'bad_field', 'bars take only symbols or a universe as filter', id, 'filter');
    }
    let symbols = filterSpec.symbols;
    if (filterSpec.universe !== undefined) {
      const universe = await this.options.universes.symbolsFor(principal.userId, filterSpec.universe);
      if (!universe) {
        return this.sendError(
          connection,
          'forbidden_universe',
          `no universe ${JSON.stringify(filterSpec.universe)} is yours or built in`,
          id,
          'filter.universe',
        );
      }
      symbols = symbols ? symbols.filter((symbol) => universe.includes(symbol)) : [...universe];
    }
    if ((symbols?.length ?? 0) > this.limits.maxSymbolsPerSubscription) {
      return this.sendError(
        connection,
        'subscription_too_large',
        `a subscription may cover at most ${this.limits.maxSymbolsPerSubscription} symbols`,
        id,
      );
    }
    const snapshot = frame.from === 'snapshot';
    const filter = compileFilter({ symbols, patterns: filterSpec.patterns, tiers: filterSpec.tiers, kinds: filterSpec.kinds });
    const fromReadModel = snapshot ? await this.readModelSnapshot(tail, stream, filter) : undefined;
    const from: StartPosition = frame.from === undefined || frame.from === 'snapshot' ? 'latest' : frame.from;
    const start = fromReadModel?.start ?? (await this.resolveStart(tail, stream, from, id));
    if (connection.closed) return;
    if (!start.ok) {
      if ('error' in start) return this.sendError(connection, start.error, start.message, id);
      // Registered but paused: the client may seek on it, or unsubscribe.
    }
    const subscription: Subscription = {
      id,
      stream,
      connection,
      filter,
      conflate: frame.conflate ?? false,
      epoch: tail.topic.epoch,
      next: start.ok ? start.next : new Map(),
      credits: frame.credits ?? this.options.config.GATEWAY_DEFAULT_CREDITS,
      state: start.ok ? 'active' : 'paused',
      reading: false,
      scheduled: false,
      generation: 0,
      stash: new Map(),
      resume: undefined,
      lastEventTs: 0,
    };
    connection.subscriptions.set(id, subscription);
    this.byStream.get(stream)!.add(subscription);
    this.metrics.subscriptions.inc();
    if (!start.ok) {
      this.metrics.unrecoverable.inc({ reason: start.unrecoverable.reason });
      this.send(connection, start.unrecoverable);
      return;
    }
    // Every start but the head is a recovery that ends with `resumed`, a snapshot from memory (at the head) too.
    const backlog = this.beginResume(subscription, start, frame.from === undefined || frame.from === 'latest');
    this.send(connection, {
      type: 'subscribed',
      id,
      stream,
      cursor: this.cursorOf(subscription),
      backlog,
      conflate: subscription.conflate,
    });
    if (fromReadModel)
      this.send(connection, {
        type: 'snapshot',
        id,
        cursor: this.cursorOf(subscription),
        source: 'redis',
        items: [...fromReadModel.items],
      });
    else if (snapshot) this.sendSnapshot(subscription, tail);
    this.schedule(subscription);
  }

  /** A snapshot from the read model, usable when its offsets are still inside the log; else undefined. */
  private async readModelSnapshot(
    tail: SessionTail,
    stream: StreamName,
    filter: EventFilter,
  ): Promise<{ start: Extract<StartResult, { ok: true }>; items: readonly SnapshotItem[] } | undefined> {
    if (!this.options.snapshots) return undefined;
    try {
      const result = await this.options.snapshots.snapshot(stream, tail.topic.topic, filter);
      if (!result) return undefined;
      const bounds = await this.options.source.bounds(tail.topic.topic);
      const next = new Map<number, number>();
      for (const [partition, { logStart, high }] of bounds) {
        const offset = result.next.get(partition) ?? logStart;
        if (offset < logStart || offset > high) return undefined;
        next.set(partition, offset);
      }
      return { start: { ok: true, next, bounds }, items: result.items };
    } catch (error) {
      this.options.logger.warn({ err: error }, 'read-model snapshot failed; using the in-memory one');
      return undefined;
    }
  }

  /** Sets the resume bookkeeping of a (re)started subscription; returns its backlog. */
  private beginResume(subscription: Subscription, start: Extract<StartResult, { ok: true }>, atHead: boolean): number {
    let backlog = 0;
    if (start.bounds)
      for (const [partition, next] of start.next) backlog += Math.max(0, (start.bounds.get(partition)?.high ?? next) - next);
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

  private async seek(subscription: Subscription, to: StartPosition): Promise<void> {
    const tail = this.options.tails.get(subscription.stream)!;
    subscription.generation += 1;
    subscription.stash.clear();
    const start = await this.resolveStart(tail, subscription.stream, to, subscription.id);
    const { connection } = subscription;
    if (connection.closed || !connection.subscriptions.has(subscription.id)) return;
    if (!start.ok) {
      if ('error' in start) return this.sendError(connection, start.error, start.message, subscription.id);
      subscription.state = 'paused';
      this.metrics.unrecoverable.inc({ reason: start.unrecoverable.reason });
      this.send(connection, start.unrecoverable);
      return;
    }
    subscription.epoch = tail.topic.epoch;
    subscription.next = start.next;
    subscription.state = 'active';
    const backlog = this.beginResume(subscription, start, to === 'latest');
    this.send(connection, { type: 'seeked', id: subscription.id, cursor: this.cursorOf(subscription), backlog });
    this.schedule(subscription);
  }

  /** Where a subscription starts: the head, the log start, a cursor, a time or explicit offsets. */
  private async resolveStart(tail: SessionTail, stream: StreamName, from: StartPosition, id: string): Promise<StartResult> {
    const { topic } = tail;
    if (from === 'latest')
      return { ok: true, next: new Map([...tail.rings].map(([partition, ring]) => [partition, ring.nextOffset])), bounds: undefined };
    let bounds: Map<number, PartitionBounds>;
    try {
      bounds = await this.options.source.bounds(topic.topic);
    } catch (error) {
      this.options.logger.warn({ err: error }, 'reading log bounds failed');
      return { ok: false, error: 'unavailable', message: 'the log is not reachable right now; try again' };
    }
    if (from === 'earliest')
      return { ok: true, next: new Map([...bounds].map(([partition, { logStart }]) => [partition, logStart])), bounds };
    if ('timestamp' in from) {
      const offsets = await this.options.source.offsetsForTime(topic.topic, from.timestamp);
      return { ok: true, next: offsets, bounds };
    }
    let requested: Map<number, number>;
    if ('cursor' in from) {
      let cursor;
      try {
        cursor = decodeCursor(from.cursor);
      } catch (error) {
        return { ok: false, error: 'bad_cursor', message: error instanceof CursorError ? error.message : 'bad cursor' };
      }
      if (cursor.stream !== stream)
        return { ok: false, error: 'bad_cursor', message: `the cursor belongs to stream ${cursor.stream}, not ${stream}` };
      requested = new Map(Object.entries(cursor.next).map(([partition, offset]) => [Number(partition), offset]));
      if (cursor.epoch !== topic.epoch)
        return { ok: false, unrecoverable: this.unrecoverableFrame(id, stream, 'epoch', requested, bounds) };
      if ([...requested.keys()].some((partition) => !tail.rings.has(partition))) {
        // A cursor from an instance that saw partitions added before this one did: learn of them now, or the
        // new partitions would start from their log start instead of the cursor's offsets.
        try {
          await tail.refreshPartitions();
          bounds = await this.options.source.bounds(topic.topic);
        } catch (error) {
          this.options.logger.warn({ err: error }, 'reading topic metadata failed');
          return { ok: false, error: 'unavailable', message: 'the log is not reachable right now; try again' };
        }
        const unknown = [...requested.keys()].filter((partition) => !tail.rings.has(partition));
        if (unknown.length > 0)
          return { ok: false, error: 'bad_cursor', message: `the cursor names partitions the topic does not have: ${unknown.join(', ')}` };
      }
    } else {
      requested = new Map(Object.entries(from.offsets).map(([partition, offset]) => [Number(partition), offset]));
      for (const partition of requested.keys()) {
        if (!bounds.has(partition)) return { ok: false, error: 'bad_field', message: `the topic has no partition ${partition}` };
      }
    }
    const next = new Map<number, number>();
    for (const [partition, { logStart, high }] of bounds) {
      // A partition the position does not name starts at its log start (cursor) or at the head (explicit offsets).
      const offset = requested.get(partition) ?? ('cursor' in from ? logStart : high);
      if (offset < logStart) return { ok: false, unrecoverable: this.unrecoverableFrame(id, stream, 'retention', requested, bounds) };
      if (offset > high) return { ok: false, unrecoverable: this.unrecoverableFrame(id, stream, 'ahead', requested, bounds) };
      next.set(partition, offset);
    }
    return { ok: true, next, bounds };
  }

  private unrecoverableFrame(
    id: string,
    stream: StreamName,
    reason: 'retention' | 'epoch' | 'ahead',
    requested: ReadonlyMap<number, number>,
    bounds: ReadonlyMap<number, PartitionBounds>,
  ): Extract<ServerFrame, { type: 'unrecoverable' }> {
    const tail = this.options.tails.get(stream)!;
    const oldestOffsets = Object.fromEntries([...bounds].map(([partition, { logStart }]) => [String(partition), logStart]));
    return {
      type: 'unrecoverable',
      id,
      reason,
      requested: Object.fromEntries([...requested].map(([partition, offset]) => [String(partition), offset])),
      oldest: encodeCursor({
        stream,
        epoch: tail.topic.epoch,
        next: Object.fromEntries([...bounds].map(([partition, { logStart }]) => [partition, logStart])),
      }),
      oldestOffsets,
      snapshotAvailable: true,
    };
  }

  private async declareUnrecoverable(
    subscription: Subscription,
    reason: 'retention' | 'epoch',
    requested: Record<number, number>,
  ): Promise<void> {
    subscription.state = 'paused';
    subscription.generation += 1;
    const tail = this.options.tails.get(subscription.stream)!;
    let bounds: Map<number, PartitionBounds>;
    try {
      bounds = await this.options.source.bounds(tail.topic.topic);
    } catch {
      bounds = new Map([...tail.rings].map(([partition, ring]) => [partition, { logStart: ring.coveredFrom, high: ring.nextOffset }]));
    }
    this.metrics.unrecoverable.inc({ reason });
    const requestedMap = new Map(Object.entries(requested).map(([partition, offset]) => [Number(partition), offset]));
    this.send(subscription.connection, this.unrecoverableFrame(subscription.id, subscription.stream, reason, requestedMap, bounds));
  }

  private sendSnapshot(subscription: Subscription, tail: SessionTail): void {
    // The records held in the rings (primed from Kafka at start) up to the subscription's start, folded into states.
    const records: { key: string; data: Record<string, unknown> }[] = [];
    // Symbol, pattern and tier never change within a pattern's life, so records can be filtered on them before
    // decoding; the kind only on the folded state (its last event's).
    const stateless = { ...subscription.filter, kinds: undefined };
    for (const [partition, ring] of tail.rings) {
      const until = subscription.next.get(partition) ?? ring.nextOffset;
      const read = ring.read(ring.coveredFrom, ring.capacity);
      for (const event of read?.events ?? []) {
        if (event.offset < until && matches(stateless, event))
          records.push({ key: event.key, data: (JSON.parse(wireOf(event).toString('utf8')) as { data: Record<string, unknown> }).data });
      }
    }
    const items = snapshotFromRecords(subscription.stream, records, subscription.filter, MAX_SNAPSHOT_ITEMS);
    this.send(subscription.connection, {
      type: 'snapshot',
      id: subscription.id,
      cursor: this.cursorOf(subscription),
      source: 'kafka',
      items,
    });
  }

  private removeSubscription(subscription: Subscription): void {
    subscription.generation += 1;
    subscription.state = 'paused';
    if (this.byStream.get(subscription.stream)!.delete(subscription)) this.metrics.subscriptions.dec();
  }

  private cursorOf(subscription: Subscription): string {
    return encodePosition(subscription.stream, subscription.epoch, subscription.next);
  }

  // ---------------------------------------------------------------- delivery

  private schedule(subscription: Subscription): void {
    if (subscription.scheduled) return;
    subscription.scheduled = true;
    this.queue.push(subscription);
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      this.options.scheduler.immediate(this.flushQueue);
    }
  }

  private flush(): void {
    this.flushScheduled = false;
    const batch = this.queue.splice(0);
    for (const subscription of batch) {
      subscription.scheduled = false;
      try {
        this.pump(subscription);
      } catch (error) {
        this.options.logger.error({ err: error, subscription: subscription.id }, 'delivery failed');
      }
    }
  }

  /**
   * Sends what the subscription's credits and the socket's buffer allow, from the stash, the ring or (for
   * positions older than the ring) a Kafka read-back. Nothing is queued per client: a slow client only
   * holds a position, and reading resumes from it when credits or buffer space return.
   */
  private pump(subscription: Subscription): void {
    const { connection } = subscription;
    if (connection.closed || subscription.state !== 'active' || subscription.reading) return;
    const tail = this.options.tails.get(subscription.stream)!;
    const maxBatch = this.options.config.GATEWAY_MAX_BATCH;
    for (let round = 0; round < 8; round += 1) {
      if (subscription.credits <= 0) break;
      if (connection.transport.bufferedAmount() > this.options.config.GATEWAY_MAX_BUFFERED_BYTES) {
        if (!connection.waitingDrain) this.metrics.backpressure.inc();
        connection.waitingDrain = true;
        connection.bufferFullSince ??= this.options.clock();
        return;
      }
      const reads = new Map<number, PartitionRead>();
      const stashed = new Set<number>();
      const missing = new Map<number, number>();
      for (const [partition, offset] of subscription.next) {
        const held = subscription.stash.get(partition);
        if (held) {
          if (held.nextOffset > offset) {
            reads.set(partition, { events: held.events.filter((event) => event.offset >= offset), nextOffset: held.nextOffset });
            stashed.add(partition);
            continue;
          }
          subscription.stash.delete(partition);
        }
        const ring = tail.rings.get(partition);
        if (!ring || offset >= ring.nextOffset) continue;
        const read = ring.read(offset, maxBatch);
        if (read) reads.set(partition, read);
        else missing.set(partition, offset);
      }
      if (missing.size > 0 && reads.size === 0) {
        void this.readBack(subscription, missing);
        return;
      }
      if (reads.size === 0) break;
      const progressed = this.deliver(subscription, reads, stashed);
      if (!progressed) break;
    }
    this.checkResumed(subscription);
    if (subscription.credits > 0 && this.hasMore(subscription, tail)) this.schedule(subscription);
  }

  private hasMore(subscription: Subscription, tail: SessionTail): boolean {
    for (const [partition, offset] of subscription.next) {
      if (subscription.stash.has(partition)) return true;
      const ring = tail.rings.get(partition);
      if (ring && offset < ring.nextOffset) return true;
    }
    return false;
  }

  /** Sends one batch from `reads`; partitions in `fromKafka` were read back from Kafka. Returns whether any position moved. */
  private deliver(subscription: Subscription, reads: ReadonlyMap<number, PartitionRead>, fromKafka: ReadonlySet<number>): boolean {
    const batch = selectBatch(
      reads,
      subscription.filter,
      Math.min(subscription.credits, this.options.config.GATEWAY_MAX_BATCH),
      subscription.conflate,
    );
    let progressed = false;
    for (const [partition, next] of batch.next) {
      const before = subscription.next.get(partition) ?? 0;
      if (next <= before) continue;
      progressed = true;
      subscription.next.set(partition, next);
      if (subscription.resume) {
        const scanned = reads.get(partition)!.events.filter((event) => event.offset >= before && event.offset < next).length;
        if (fromKafka.has(partition)) subscription.resume.fromKafka += scanned;
        else subscription.resume.fromRing += scanned;
      }
      const held = subscription.stash.get(partition);
      if (held && next >= held.nextOffset) subscription.stash.delete(partition);
    }
    const count = batch.deliveries.length;
    if (count > 0) {
      subscription.credits -= count;
      subscription.lastEventTs = batch.deliveries[count - 1]!.event.timestampMs;
      if (subscription.resume) subscription.resume.count += count;
      this.metrics.delivered.inc({ stream: subscription.stream }, count);
      this.sendText(
        subscription.connection,
        deliveriesFrame(
          `{"type":"events","id":${JSON.stringify(subscription.id)},"cursor":${JSON.stringify(this.cursorOf(subscription))},"events":[`,
          batch.deliveries,
          ']}',
          this.frameScratch,
        ),
      );
    }
    return progressed;
  }

  private async readBack(subscription: Subscription, missing: Map<number, number>): Promise<void> {
    const tail = this.options.tails.get(subscription.stream)!;
    const generation = subscription.generation;
    subscription.reading = true;
    this.metrics.readBacks.inc();
    // What to do afterwards: pump again now (also when a seek made this read stale), later (a failed read), or not
    // at all (the position is gone; the subscription is paused until the client moves it).
    let after: 'now' | 'later' | 'stop' = 'now';
    try {
      const reads = await this.options.source.read(tail.topic, missing, { maxWaitMs: 0, maxBytesPerPartition: 1024 * 1024 });
      if (generation === subscription.generation) {
        for (const [partition, read] of reads) {
          const from = missing.get(partition)!;
          if (read.nextOffset > from) subscription.stash.set(partition, { events: read.events, nextOffset: read.nextOffset });
          else {
            this.options.logger.warn({ partition, from, logStart: read.logStart, high: read.high }, 'read-back made no progress');
            after = 'later';
          }
        }
      }
      // The stash is delivered by the next pump, within the credits and buffer limits.
    } catch (error) {
      if (generation === subscription.generation && !subscription.connection.closed) {
        if (error instanceof OffsetOutOfRangeError) {
          after = 'stop';
          subscription.reading = false;
          await this.declareUnrecoverable(subscription, 'retention', Object.fromEntries(subscription.next));
        } else {
          this.options.logger.warn({ err: error, subscription: subscription.id }, 'Kafka read-back failed; retrying');
          after = 'later';
        }
      }
    } finally {
      subscription.reading = false;
    }
    if (subscription.connection.closed || after === 'stop') return;
    if (after === 'later') this.options.scheduler.after(1_000, () => this.schedule(subscription));
    else this.schedule(subscription);
  }

  private checkResumed(subscription: Subscription): void {
    const { resume } = subscription;
    if (!resume) return;
    const tail = this.options.tails.get(subscription.stream)!;
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
      lagMs: subscription.lastEventTs > 0 ? Math.max(0, this.options.clock() - subscription.lastEventTs) : 0,
    };
    subscription.resume = undefined;
    this.send(subscription.connection, { type: 'resumed', id: subscription.id, cursor: this.cursorOf(subscription), report });
  }

  // ---------------------------------------------------------------- timers

  /** Every GATEWAY_HEARTBEAT_MS: each authenticated connection hears its subscriptions' positions. */
  heartbeat(): void {
    const ts = this.options.clock();
    for (const connection of this.connections) {
      if (!connection.principal) continue;
      const subscriptions: Record<string, { cursor: string; credits: number; lagRecords: number }> = {};
      for (const subscription of connection.subscriptions.values()) {
        const tail = this.options.tails.get(subscription.stream)!;
        let lagRecords = 0;
        for (const [partition, next] of subscription.next)
          lagRecords += Math.max(0, (tail.rings.get(partition)?.nextOffset ?? next) - next);
        subscriptions[subscription.id] = { cursor: this.cursorOf(subscription), credits: subscription.credits, lagRecords };
      }
      this.send(connection, { type: 'heartbeat', ts, subscriptions });
    }
  }

  /** Every second: closes connections that did not authenticate, stay idle or stopped reading. */
  housekeeping(now: number): void {
    const { config } = this.options;
    this.metrics.sendBuffer.set(this.sendBuffers().total);
    for (const connection of this.connections) {
      if (!connection.principal && now - connection.openedAt > config.GATEWAY_AUTH_TIMEOUT_MS) {
        this.closeConnection(connection, DISCONNECTS.authTimeout);
      } else if (
        connection.principal &&
        connection.subscriptions.size === 0 &&
        now - connection.lastSubscribedAt > config.GATEWAY_IDLE_TIMEOUT_MS
      ) {
        this.closeConnection(connection, DISCONNECTS.idle);
      } else if (connection.bufferFullSince !== undefined && now - connection.bufferFullSince > config.GATEWAY_STALL_TIMEOUT_MS) {
        if (connection.transport.bufferedAmount() > config.GATEWAY_MAX_BUFFERED_BYTES)
          this.closeConnection(connection, DISCONNECTS.stalled);
        else connection.bufferFullSince = undefined;
      }
    }
  }
}
