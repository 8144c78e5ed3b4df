/**
 * Tickflow gateway client for Node 20 (pass `WebSocket` from the `ws` package, or use Node's global one where
 * present) and browsers. It keeps each subscription's cursor, reconnects with exponential backoff and jitter,
 * resumes every subscription from its cursor, drops events it has already delivered (by partition and
 * offset), and paces the server with credits: the server never sends more than the iterator can hold.
 */
// platform/backoff.ts is pure (no Node API), so the browser bundle (esbuild, platform: 'browser') can carry it.
import { backoffDelay } from '../../platform/backoff.js';
import {
  DISCONNECTS,
  type ClientFrame,
  type ServerFrame,
  type SnapshotItem,
  type StartPosition,
  type StreamName,
  type SubscriptionFilter,
  type WireEvent,
  type ResumeReport,
} from './protocol.js';

export type * from './protocol.js';
export { DISCONNECTS } from './protocol.js';

/** The parts of the WHATWG WebSocket the client uses (browsers, Node's global, and `ws` all provide them). */
export interface WebSocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: ((event: unknown) => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  onclose: ((event: { code: number; reason: string }) => void) | null;
  onerror: ((event: unknown) => void) | null;
}
export type WebSocketFactory = new (url: string) => WebSocketLike;

export type Credentials = { token: string | (() => string | Promise<string>) } | { apiKey: string };

export interface ClientOptions {
  /** ws(s)://host:port/ws, or a function choosing the URL for each (re)connection (fail over between instances). */
  readonly url: string | (() => string);
  readonly auth: Credentials;
  readonly WebSocket?: WebSocketFactory;
  readonly initialBackoffMs?: number;
  readonly maxBackoffMs?: number;
  /** Called on every state change, e.g. to show it in a page. */
  readonly onStatus?: (status: ClientStatus, detail?: string) => void;
}

export type ClientStatus = 'connecting' | 'open' | 'reconnecting' | 'closed' | 'failed';

export interface SubscribeOptions {
  readonly stream: StreamName;
  readonly filter?: SubscriptionFilter;
  /** Where to start when there is no cursor yet (default: the live head). */
  readonly from?: StartPosition | 'snapshot';
  /** A cursor saved from an earlier run; wins over `from`. */
  readonly cursor?: string;
  readonly conflate?: boolean;
  /** Events the client may hold unread (the credit window). */
  readonly window?: number;
  /**
   * What to do when the position can no longer be served: `fail` ends the iterator with an
   * UnrecoverableError; `oldest` seeks to `earliest` (the oldest position left); `snapshot` re-subscribes from a
   * snapshot (see `onSnapshot`).
   */
  readonly onUnrecoverable?: 'fail' | 'oldest' | 'snapshot';
  readonly onResumed?: (report: ResumeReport) => void;
  /**
   * Called with each snapshot (`from: 'snapshot'`, or `onUnrecoverable: 'snapshot'`): the current state, one
   * item per active pattern or per symbol. Snapshot items are states, not events: the iterator yields only the
   * events after the snapshot. The latest snapshot is also kept in `Subscription.snapshot`.
   */
  readonly onSnapshot?: (items: SnapshotItem[], source: 'redis' | 'kafka') => void;
  /** Called with each heartbeat's lag: records between this subscription's position and the head of the log. */
  readonly onLag?: (lagRecords: number) => void;
}

export class UnrecoverableError extends Error {
  override name = 'UnrecoverableError';
  constructor(readonly frame: Extract<ServerFrame, { type: 'unrecoverable' }>) {
    super(`position unrecoverable (${frame.reason}); oldest available: ${JSON.stringify(frame.oldestOffsets)}`);
  }
}

export class GatewayError extends Error {
  override name = 'GatewayError';
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(`${code}: ${message}`);
  }
}

const OPEN = 1;
let nextSubscriptionId = 1;

interface Buffered {
  readonly event: WireEvent;
  /** Set on the last event of a frame: the cursor after it. */
  readonly cursorAfter?: string;
}

/** One subscription: an async iterable of events, exactly once and in order per partition. */
export class Subscription implements AsyncIterable<WireEvent> {
  readonly id = `s${nextSubscriptionId++}`;
  /** The cursor after the last event taken from the iterator: save it to resume later. */
  cursor: string | undefined;
  /** The cursor after the last event received (what a reconnect resumes from). */
  receivedCursor: string | undefined;
  duplicatesDropped = 0;
  lastReport: ResumeReport | undefined;
  /** Records behind the head of the log, as of the latest heartbeat (undefined before the first). */
  lagRecords: number | undefined;
  /** The items of the latest snapshot received. */
  snapshot: SnapshotItem[] | undefined;
  private readonly buffer: Buffered[] = [];
  private readonly lastOffset = new Map<number, number>();
  private waiter: { resolve: (result: IteratorResult<WireEvent>) => void; reject: (error: Error) => void } | undefined;
  private failure: Error | undefined;
  private ended = false;
  private consumedSinceCredit = 0;
  private pendingSeek: StartPosition | undefined;
  readonly window: number;

  constructor(
    private readonly client: TickflowClient,
    readonly options: SubscribeOptions,
  ) {
    this.window = options.window ?? 500;
    this.cursor = options.cursor;
    this.receivedCursor = options.cursor;
  }

  /** The subscribe frame for a (re)connection: from the last received cursor when there is one. */
  subscribeFrame(): ClientFrame {
    const from: StartPosition | 'snapshot' | undefined =
      this.pendingSeek ?? (this.receivedCursor ? { cursor: this.receivedCursor } : this.options.from);
    return {
      type: 'subscribe',
      id: this.id,
      stream: this.options.stream,
      ...(this.options.filter ? { filter: this.options.filter } : {}),
      ...(from !== undefined ? { from } : {}),
      ...(this.options.conflate ? { conflate: true } : {}),
      credits: Math.max(0, this.window - this.buffer.length),
    };
  }

  /** Moves the subscription on the open connection (no reconnect); buffered events are discarded. */
  seek(to: StartPosition): void {
    this.buffer.length = 0;
    this.pendingSeek = to;
    this.consumedSinceCredit = 0;
    this.client.sendFrame({ type: 'seek', id: this.id, to, credits: this.window });
  }

  close(): void {
    if (this.ended) return;
    this.ended = true;
    this.client.sendFrame({ type: 'unsubscribe', id: this.id });
    this.client.forget(this);
    this.waiter?.resolve({ value: undefined, done: true });
    this.waiter = undefined;
  }

  /** Handles a frame addressed to this subscription. */
  receive(frame: ServerFrame): void {
    switch (frame.type) {
      case 'subscribed':
        this.receivedCursor = frame.cursor;
        this.cursor ??= frame.cursor;
        return;
      case 'seeked':
        this.pendingSeek = undefined;
        this.lastOffset.clear();
        this.buffer.length = 0;
        this.receivedCursor = frame.cursor;
        this.cursor = frame.cursor;
        return;
      case 'events': {
        let kept = 0;
        for (const event of frame.events) {
          const last = this.lastOffset.get(event.p);
          if (last !== undefined && event.o <= last) {
            this.duplicatesDropped += 1;
            continue;
          }
          this.lastOffset.set(event.p, event.o);
          this.push({ event });
          kept += 1;
        }
        // Credits spent on duplicates are given back at once; they never reach the iterator.
        if (kept < frame.events.length) this.client.sendFrame({ type: 'credit', id: this.id, n: frame.events.length - kept });
        this.receivedCursor = frame.cursor;
        const lastEntry = this.buffer[this.buffer.length - 1];
        if (kept > 0 && lastEntry) this.buffer[this.buffer.length - 1] = { event: lastEntry.event, cursorAfter: frame.cursor };
        else if (this.buffer.length === 0) this.cursor = frame.cursor;
        return;
      }
      case 'snapshot': {
        // The snapshot covers everything before its cursor: events still buffered from before it are superseded,
        // and their credits are given back.
        const superseded = this.buffer.length;
        this.buffer.length = 0;
        this.lastOffset.clear();
        if (superseded > 0) this.client.sendFrame({ type: 'credit', id: this.id, n: superseded });
        this.receivedCursor = frame.cursor;
        this.cursor = frame.cursor;
        this.snapshot = frame.items;
        this.options.onSnapshot?.(frame.items, frame.source);
        return;
      }
      case 'resumed':
        this.lastReport = frame.report;
        this.options.onResumed?.(frame.report);
        return;
      case 'unrecoverable': {
        const policy = this.options.onUnrecoverable ?? 'fail';
        if (policy === 'fail') return this.fail(new UnrecoverableError(frame));
        this.lastOffset.clear();
        this.receivedCursor = undefined;
        // `earliest` rather than the frame's `oldest` cursor: retention may have moved on since it was made.
        if (policy === 'oldest') this.seek('earliest');
        else {
          // A fresh subscription from a snapshot: unsubscribe the paused one first.
          this.client.sendFrame({ type: 'unsubscribe', id: this.id });
          this.pendingSeek = undefined;
          this.client.sendFrame({ ...(this.subscribeFrame() as Extract<ClientFrame, { type: 'subscribe' }>), from: 'snapshot' });
        }
        return;
      }
      case 'error':
        if (
          frame.code === 'bad_cursor' ||
          frame.code === 'forbidden_universe' ||
          frame.code === 'subscription_too_large' ||
          frame.code === 'bad_field'
        ) {
          this.fail(new GatewayError(frame.code, frame.message));
        }
        return;
      default:
        return;
    }
  }

  private push(entry: Buffered): void {
    if (this.waiter) {
      const waiter = this.waiter;
      this.waiter = undefined;
      this.taken(entry);
      waiter.resolve({ value: entry.event, done: false });
      return;
    }
    this.buffer.push(entry);
  }

  private taken(entry: Buffered): void {
    if (entry.cursorAfter) this.cursor = entry.cursorAfter;
    this.consumedSinceCredit += 1;
    // Top the window up in halves: fewer credit frames than one per event, and the pipe never runs dry.
    if (this.consumedSinceCredit >= Math.max(1, Math.floor(this.window / 2))) {
      this.client.sendFrame({ type: 'credit', id: this.id, n: this.consumedSinceCredit });
      this.consumedSinceCredit = 0;
    }
  }

  /** The lag a heartbeat reported for this subscription. */
  noteLag(lagRecords: number): void {
    this.lagRecords = lagRecords;
    this.options.onLag?.(lagRecords);
  }

  /** Credits for a resubscription already count what is buffered; drop the unsent top-up. */
  resetCreditCount(): void {
    this.consumedSinceCredit = 0;
  }

  fail(error: Error): void {
    this.failure = error;
    this.ended = true;
    this.client.forget(this);
    this.waiter?.reject(error);
    this.waiter = undefined;
  }

  next(): Promise<IteratorResult<WireEvent>> {
    const entry = this.buffer.shift();
    if (entry) {
      this.taken(entry);
      return Promise.resolve({ value: entry.event, done: false });
    }
    if (this.failure) return Promise.reject(this.failure);
    if (this.ended) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve, reject) => {
      this.waiter = { resolve, reject };
    });
  }

  [Symbol.asyncIterator](): AsyncIterator<WireEvent> {
    return {
      next: () => this.next(),
      return: () => {
        this.close();
        return Promise.resolve({ value: undefined, done: true });
      },
    };
  }
}

/** A connection to the gateway that survives disconnects. */
export class TickflowClient {
  private socket: WebSocketLike | undefined;
  private readonly subscriptions = new Map<string, Subscription>();
  private authenticated = false;
  private closedByUser = false;
  private attempt = 0;
  private reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  private readyWaiters: { resolve: () => void; reject: (error: Error) => void }[] = [];
  private readonly Socket: WebSocketFactory;
  reconnects = 0;
  userId: string | undefined;

  constructor(readonly options: ClientOptions) {
    const fallback = (globalThis as { WebSocket?: WebSocketFactory }).WebSocket;
    const Socket = options.WebSocket ?? fallback;
    if (!Socket) throw new Error('no WebSocket implementation: pass options.WebSocket (e.g. the `ws` package on Node 20)');
    this.Socket = Socket;
  }

  /** Opens the connection; resolves once authenticated. */
  connect(): Promise<void> {
    this.closedByUser = false;
    const ready = this.whenReady();
    this.open();
    return ready;
  }

  private whenReady(): Promise<void> {
    if (this.authenticated) return Promise.resolve();
    return new Promise((resolve, reject) => this.readyWaiters.push({ resolve, reject }));
  }

  subscribe(options: SubscribeOptions): Subscription {
    const subscription = new Subscription(this, options);
    this.subscriptions.set(subscription.id, subscription);
    if (this.authenticated) this.sendFrame(subscription.subscribeFrame());
    return subscription;
  }

  /**
   * Drops the connection without closing the client: it reconnects and resumes (for tests, failover, and a browser
   * that reports it went offline). The socket is let go at once: one that cannot finish its closing handshake (the
   * network is gone) delivers nothing more, and the reconnect does not wait for it.
   */
  dropConnection(): void {
    const socket = this.socket;
    if (!socket || this.reconnectTimer !== undefined) return;
    this.socket = undefined;
    this.authenticated = false;
    socket.close(DISCONNECTS.clientDropped.code, DISCONNECTS.clientDropped.reason);
    if (!this.closedByUser) this.scheduleReconnect(`${DISCONNECTS.clientDropped.code} ${DISCONNECTS.clientDropped.reason}`);
  }

  /**
   * Skips the rest of a backoff wait and reconnects at once (e.g. when a browser reports it is online again);
   * does nothing unless a reconnect is pending.
   */
  reconnectNow(): void {
    if (this.closedByUser || this.reconnectTimer === undefined) return;
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
    this.reconnects += 1;
    this.open();
  }

  close(): void {
    this.closedByUser = true;
    clearTimeout(this.reconnectTimer);
    for (const subscription of [...this.subscriptions.values()]) subscription.close();
    this.socket?.close(DISCONNECTS.clientClosed.code, DISCONNECTS.clientClosed.reason);
    this.status('closed');
  }

  sendFrame(frame: ClientFrame): void {
    if (this.authenticated && this.socket?.readyState === OPEN) this.socket.send(JSON.stringify(frame));
  }

  forget(subscription: Subscription): void {
    this.subscriptions.delete(subscription.id);
  }

  private status(status: ClientStatus, detail?: string): void {
    this.options.onStatus?.(status, detail);
  }

  private open(): void {
    this.status(this.attempt === 0 ? 'connecting' : 'reconnecting');
    const socket = new this.Socket(typeof this.options.url === 'function' ? this.options.url() : this.options.url);
    this.socket = socket;
    socket.onmessage = (event) => {
      if (this.socket !== socket) return;
      let frame: ServerFrame;
      try {
        frame = JSON.parse(String(event.data)) as ServerFrame;
      } catch {
        return;
      }
      void this.onFrame(socket, frame);
    };
    socket.onclose = (event) => {
      if (this.socket !== socket) return;
      this.authenticated = false;
      if (this.closedByUser) return;
      if (event.code === DISCONNECTS.authFailed.code) {
        this.status('failed', event.reason);
        for (const waiter of this.readyWaiters.splice(0))
          waiter.reject(new GatewayError('auth_failed', event.reason || DISCONNECTS.authFailed.reason));
        for (const subscription of [...this.subscriptions.values()]) subscription.fail(new GatewayError('auth_failed', event.reason));
        return;
      }
      this.scheduleReconnect(`${event.code} ${event.reason}`);
    };
    socket.onerror = () => {
      // onclose follows and schedules the reconnect.
    };
  }

  private scheduleReconnect(reason: string): void {
    const initial = this.options.initialBackoffMs ?? 250;
    const max = this.options.maxBackoffMs ?? 10_000;
    const delay = backoffDelay({ baseMs: initial, maxMs: max, jitter: 'equal' }, this.attempt);
    this.attempt += 1;
    this.status('reconnecting', reason);
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      this.reconnects += 1;
      this.open();
    }, delay);
  }

  private async onFrame(socket: WebSocketLike, frame: ServerFrame): Promise<void> {
    switch (frame.type) {
      case 'welcome': {
        const { auth } = this.options;
        let credentials: { apiKey: string } | { token: string };
        try {
          credentials =
            'apiKey' in auth ? { apiKey: auth.apiKey } : { token: typeof auth.token === 'function' ? await auth.token() : auth.token };
        } catch {
          // No token to be had right now (e.g. a refresh the API rate-limited): try again after a backoff.
          if (this.socket === socket) this.dropConnection();
          return;
        }
        if (socket.readyState === OPEN) socket.send(JSON.stringify({ type: 'auth', ...credentials }));
        return;
      }
      case 'authenticated':
        this.authenticated = true;
        this.attempt = 0;
        this.userId = frame.userId;
        this.status('open');
        for (const subscription of this.subscriptions.values()) {
          subscription.resetCreditCount();
          this.sendFrame(subscription.subscribeFrame());
        }
        for (const waiter of this.readyWaiters.splice(0)) waiter.resolve();
        return;
      case 'heartbeat':
        for (const [id, position] of Object.entries(frame.subscriptions)) this.subscriptions.get(id)?.noteLag(position.lagRecords);
        return;
      case 'pong':
        return;
      case 'error':
        if (frame.id) this.subscriptions.get(frame.id)?.receive(frame);
        return;
      default:
        if ('id' in frame) this.subscriptions.get(frame.id)?.receive(frame);
    }
  }
}
