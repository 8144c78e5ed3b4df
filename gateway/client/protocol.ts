/**
 * The gateway's JSON protocol (documented in gateway/asyncapi.yaml). Shared by the server and the SDK;
 * types and constants only, so the browser bundle carries no validation library.
 */
export type StreamName = 'patterns' | 'bars';
export type PatternTier = 'INTRADAY' | 'DAILY' | 'COMBO';
export type PatternKind = 'DETECTED' | 'UPDATED' | 'EXPIRED';

export interface SubscriptionFilter {
  symbols?: string[];
  /** A universe key: one of the user's own universes or a built-in one. */
  universe?: string;
  patterns?: string[];
  tiers?: PatternTier[];
  kinds?: PatternKind[];
}

/** Where a subscription starts or a seek goes. */
export type StartPosition = 'latest' | 'earliest' | { cursor: string } | { timestamp: number } | { offsets: Record<string, number> };
// A subscribe without `from` starts at 'latest'. Cursors are opaque: store and send back the server's, never build one.

export type ClientFrame =
  | { type: 'auth'; token: string }
  | { type: 'auth'; apiKey: string }
  | {
      type: 'subscribe';
      id: string;
      stream: StreamName;
      filter?: SubscriptionFilter;
      from?: StartPosition | 'snapshot';
      conflate?: boolean;
      credits?: number;
    }
  | { type: 'credit'; id: string; n: number }
  /** `credits`, when given, replaces the subscription's credit balance (a client that discards its buffer on seek). */
  | { type: 'seek'; id: string; to: StartPosition; credits?: number }
  | { type: 'unsubscribe'; id: string }
  | { type: 'ping'; nonce?: string };

/** One delivered record: partition, offset (its position), record time, key and the decoded value. */
export interface WireEvent<T = Record<string, unknown>> {
  p: number;
  o: number;
  ts: number;
  key: string;
  data: T;
  /** With conflation: how many events of this key the delivery stands for (absent = 1). */
  folded?: number;
}

/**
 * One item of a snapshot: the current state of one thing the subscription covers, not a log record (no
 * partition or offset). Patterns: one item per active pattern, `data` its PatternState; bars: one item per
 * symbol, `data` its bar snapshot (gateway/asyncapi.yaml documents both).
 */
export interface SnapshotItem<T = Record<string, unknown>> {
  /** The symbol. */
  key: string;
  /** Patterns: when the pattern was detected; bars: the start of the latest bar (ms). */
  ts: number;
  data: T;
}

export type PartitionRange = Record<string, [number, number]>;

export interface ResumeReport {
  /** Events (deliveries, when conflating) sent between the subscription's start and the head of the log as it was then. */
  count: number;
  /** Per partition: [first offset read, next offset] of the recovered span. */
  range: PartitionRange;
  /** Offsets covered from the in-memory ring and read back from Kafka (records of any kind, filtered ones too). */
  fromRing: number;
  fromKafka: number;
  /** Records (of any kind) still behind the head when the report was made, and the age of the last event. */
  lagRecords: number;
  lagMs: number;
}

export type ErrorCode =
  | 'malformed_json'
  | 'unknown_type'
  | 'bad_field'
  | 'frame_too_large'
  | 'rate_limited'
  | 'not_authenticated'
  | 'already_authenticated'
  | 'auth_failed'
  | 'forbidden_universe'
  | 'unknown_subscription'
  | 'duplicate_subscription'
  | 'too_many_subscriptions'
  | 'subscription_too_large'
  | 'bad_cursor'
  | 'unavailable'
  | 'internal';

export type ServerFrame =
  | { type: 'welcome'; server: string; heartbeatMs: number; limits: Limits }
  | { type: 'authenticated'; userId: string; via: 'token' | 'apiKey' }
  | {
      type: 'subscribed';
      id: string;
      stream: StreamName;
      cursor: string;
      /**
       * Offsets between the start position and the head of the log when the subscription started: an upper bound
       * on the events to come before `resumed` (it counts transaction markers and records the filter drops too).
       */
      backlog: number;
      conflate: boolean;
    }
  | { type: 'events'; id: string; cursor: string; events: WireEvent[] }
  | { type: 'resumed'; id: string; cursor: string; report: ResumeReport }
  | { type: 'snapshot'; id: string; cursor: string; source: 'redis' | 'kafka'; items: SnapshotItem[] }
  | {
      type: 'unrecoverable';
      id: string;
      reason: 'retention' | 'epoch' | 'ahead';
      requested: Record<string, number>;
      /** The oldest position still available (every partition at its log start). */
      oldest: string;
      oldestOffsets: Record<string, number>;
      snapshotAvailable: boolean;
    }
  | { type: 'seeked'; id: string; cursor: string; backlog: number }
  | { type: 'unsubscribed'; id: string }
  | { type: 'heartbeat'; ts: number; subscriptions: Record<string, { cursor: string; credits: number; lagRecords: number }> }
  | { type: 'pong'; ts: number; nonce?: string }
  | { type: 'error'; code: ErrorCode; message: string; id?: string; path?: string };

export interface Limits {
  /** The largest frame a client may send (bytes). */
  maxFrameBytes: number;
  /** The most events one `events` frame carries (server frames are bounded by count, not bytes). */
  maxEventsPerFrame: number;
  /** The most items one `snapshot` frame carries. */
  maxSnapshotItems: number;
  maxSubscriptions: number;
  maxSymbolsPerSubscription: number;
  maxCredits: number;
  framesPerSecond: number;
  frameBurst: number;
}

/** A WebSocket close: its code, the name the gateway counts it under (metric label), and the reason sent. */
export interface Disconnect {
  readonly code: number;
  readonly name: string;
  readonly reason: string;
}

/**
 * Every WebSocket close code the gateway and the SDK use, named once (gateway/asyncapi.yaml documents them). 1009
 * (frame above four times the limit) is uWebSockets.js's own and not sent by this code.
 */
export const DISCONNECTS = {
  /** Authenticated, but no subscription for GATEWAY_IDLE_TIMEOUT_MS. */
  idle: { code: 4000, name: 'idle', reason: 'idle: no subscription' },
  /** No successful auth frame within GATEWAY_AUTH_TIMEOUT_MS. */
  authTimeout: { code: 4001, name: 'auth_timeout', reason: 'authentication timed out' },
  /** The credential was refused: the SDK does not reconnect after it. */
  authFailed: { code: 4003, name: 'auth_failed', reason: 'authentication failed' },
  /** The send buffer stayed full for GATEWAY_STALL_TIMEOUT_MS: the peer stopped reading. */
  stalled: { code: 4008, name: 'stalled', reason: 'the connection stopped reading' },
  /** Too many frames dropped in a row by the rate limit. */
  flood: { code: 4029, name: 'flood', reason: 'too many frames' },
  /**
   * The gateway holds GATEWAY_MAX_CONNECTIONS connections already: refused at open, before the welcome (1013 is
   * WebSocket's "try again later"); the SDK reconnects with backoff.
   */
  full: { code: 1013, name: 'full', reason: 'too many connections: try again later' },
  /** The gateway is stopping; clients reconnect (to another instance). */
  shutdown: { code: 1001, name: 'shutdown', reason: 'gateway shutting down' },
  /** The SDK's close(). */
  clientClosed: { code: 1000, name: 'client_closed', reason: 'client closed' },
  /** The SDK's dropConnection(): it reconnects and resumes. */
  clientDropped: { code: 4999, name: 'client_dropped', reason: 'client dropped the connection' },
} as const satisfies Record<string, Disconnect>;
