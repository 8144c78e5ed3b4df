import {
  TickflowClient,
  type ClientStatus,
  type Credentials,
  type ResumeReport,
  type SnapshotItem,
  type StartPosition,
  type StreamName,
  type Subscription,
  type SubscriptionFilter,
  type WireEvent,
} from '../../gateway/client/index.js';
import { messageOf } from './api.js';

/** The gateway URL from the page (the API fills the meta tag in); {host} is this page's host name. */
export function gatewayUrl(): string {
  const configured = document.querySelector<HTMLMetaElement>('meta[name="tickflow-gateway"]')?.content || 'ws://{host}:3001/ws';
  return configured.replace('{host}', location.hostname);
}

/** The connection as the page shows it: the SDK's state, or `offline` while the browser says it has no network. */
export type LiveState = ClientStatus | 'offline';

export interface LiveStatus {
  readonly state: LiveState;
  readonly detail?: string;
  /** Events received since the page opened. */
  readonly received: number;
  /** Milliseconds between the newest event's record time and its arrival. */
  readonly lagMs?: number;
  /** Records between the subscription's position and the head of the log (heartbeats, resume reports). */
  readonly lagRecords?: number;
  /** The last recovery, in plain words. */
  readonly report?: string;
}

export interface PatternEventData {
  readonly patternId: string;
  readonly symbol: string;
  readonly kind: string;
  readonly direction?: string;
}

/** How often arriving events reach the screen (and the status line): at most one render per FLUSH_MS. */
const FLUSH_MS = 200;

const cursorKey = (scope: string) => `tickflow.cursor:${scope}`;

const count = (n: number, what: string) => `${n.toLocaleString('en-US')} ${what}${n === 1 ? '' : 's'}`;

/**
 * A recovery in plain words: how long the connection was away (undefined: the page's first connection, resuming
 * from its saved cursor, `fromSaved`, or catching up from where it asked to start), what the gateway replayed, and
 * whether the log still held the position (snapshotItems set: it did not, and the view restarted from a snapshot of
 * the current state).
 */
export function describeRecovery(recovery: {
  readonly awayMs: number | undefined;
  readonly fromSaved: boolean;
  readonly report: ResumeReport;
  readonly snapshotItems?: number;
}): string {
  const { awayMs, fromSaved, report, snapshotItems } = recovery;
  const opening =
    awayMs !== undefined
      ? `back after ${Math.max(1, Math.round(awayMs / 1000))} s`
      : fromSaved
        ? 'resumed from the saved position'
        : 'caught up with the log';
  if (snapshotItems !== undefined)
    return (
      `${opening}: the log no longer held our position, so the view was reloaded from a snapshot ` +
      `(${count(snapshotItems, 'item')}); events from the gap were not replayed, ${count(report.count, 'event')} since`
    );
  return `${opening}: ${count(report.count, 'event')} replayed, nothing missed`;
}

/**
 * One live gateway subscription for a screen: the SDK client with the screen's stream and filter, its state,
 * lag and recovery report published to the page's status line. With a `scope`, the cursor is saved per scope in
 * localStorage and a reload resumes from it. The browser's `offline` event drops the connection at once (an
 * offline WebSocket is not closed by the browser, it just stops delivering) and `online` reconnects without waiting
 * out the backoff. When the log no longer holds the position, the subscription restarts from a snapshot
 * (`onSnapshot`: the screen reloads its rows) and the report says so.
 */
export function follow<T = Record<string, unknown>>(options: {
  /** The signed-in session's token, or an API key (the live feed's `#apiKey=`). */
  readonly auth: Credentials;
  readonly stream: StreamName;
  readonly filter: SubscriptionFilter;
  readonly scope?: string;
  /** Where to start without a saved cursor (default: the live head). */
  readonly from?: StartPosition | 'snapshot';
  /** The events that arrived since the last call, at most every FLUSH_MS (a burst is one render, not hundreds). */
  readonly onEvents: (events: WireEvent<T>[]) => void;
  readonly onStatus: (status: LiveStatus) => void;
  readonly onSnapshot?: (items: SnapshotItem<T>[]) => void;
}): () => void {
  let received = 0;
  let lagMs: number | undefined;
  let lagRecords: number | undefined;
  let state: LiveState = 'connecting';
  let detail: string | undefined;
  let report: string | undefined;
  /** When the connection was lost (undefined while open, and before the first connection). */
  let lostAt: number | undefined;
  let snapshotItems: number | undefined;
  let stopped = false;
  const publish = () => {
    if (!stopped) options.onStatus({ state: navigator.onLine ? state : 'offline', detail, received, lagMs, lagRecords, report });
  };
  let batch: WireEvent<T>[] = [];
  let flushTimer: ReturnType<typeof setTimeout> | undefined;
  const flush = () => {
    flushTimer = undefined;
    const events = batch;
    batch = [];
    save();
    if (events.length > 0) options.onEvents(events);
    publish();
  };
  const client = new TickflowClient({
    url: gatewayUrl,
    auth: options.auth,
    maxBackoffMs: 5_000,
    onStatus: (next, why) => {
      if (state === 'open' && next !== 'open') lostAt ??= Date.now();
      state = next;
      detail = why;
      publish();
    },
  });
  const saved = options.scope ? (localStorage.getItem(cursorKey(options.scope)) ?? undefined) : undefined;
  const save = () => {
    if (options.scope && subscription.cursor) localStorage.setItem(cursorKey(options.scope), subscription.cursor);
  };
  const subscription: Subscription = client.subscribe({
    stream: options.stream,
    filter: options.filter,
    ...(saved ? { cursor: saved } : {}),
    ...(options.from ? { from: options.from } : {}),
    onUnrecoverable: 'snapshot',
    onSnapshot: (items) => {
      // A snapshot asked for (`from`) is a start, not a recovery: only one that replaces a lost position is reported.
      if (options.from !== 'snapshot' || received > 0 || lostAt !== undefined) snapshotItems = items.length;
      save();
      options.onSnapshot?.(items as SnapshotItem<T>[]);
    },
    onResumed: (resume) => {
      report = describeRecovery({
        awayMs: lostAt === undefined ? undefined : Date.now() - lostAt,
        fromSaved: saved !== undefined,
        report: resume,
        ...(snapshotItems !== undefined ? { snapshotItems } : {}),
      });
      lostAt = undefined;
      snapshotItems = undefined;
      lagRecords = resume.lagRecords;
      // The replayed events are all taken from the SDK by now: shown with the report, the counts agree with it.
      clearTimeout(flushTimer);
      flush();
    },
    onLag: (lag) => {
      lagRecords = lag;
      publish();
    },
  });
  const wentOffline = () => {
    lostAt ??= Date.now();
    client.dropConnection();
    publish();
  };
  const cameOnline = () => {
    client.reconnectNow();
    publish();
  };
  addEventListener('offline', wentOffline);
  addEventListener('online', cameOnline);
  client.connect().catch((error: unknown) => {
    state = 'failed';
    detail = messageOf(error);
    publish();
  });
  void (async () => {
    try {
      for await (const event of subscription) {
        received += 1;
        lagMs = Math.max(0, Date.now() - event.ts);
        batch.push(event as WireEvent<T>);
        flushTimer ??= setTimeout(flush, FLUSH_MS);
      }
    } catch (error) {
      if (!stopped) {
        state = 'failed';
        detail = messageOf(error);
        publish();
      }
    }
  })();
  return () => {
    stopped = true;
    clearTimeout(flushTimer);
    removeEventListener('offline', wentOffline);
    removeEventListener('online', cameOnline);
    client.close();
  };
}
