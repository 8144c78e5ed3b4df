import {
  TickflowClient,
  type ClientStatus,
  type ResumeReport,
  type Subscription,
  type SubscriptionFilter,
} from '../../gateway/client/index.js';

/** The gateway URL from the page (the API fills the meta tag in); {host} is this page's host name. */
export function gatewayUrl(): string {
  const configured = document.querySelector<HTMLMetaElement>('meta[name="tickflow-gateway"]')?.content || 'ws://{host}:3001/ws';
  return configured.replace('{host}', location.hostname);
}

export interface LiveStatus {
  readonly state: ClientStatus;
  readonly detail?: string;
  /** Events received since the page opened. */
  readonly received: number;
  /** Milliseconds between the newest event's record time and its arrival. */
  readonly lagMs?: number;
  readonly report?: string;
}

export interface PatternEventData {
  readonly patternId: string;
  readonly symbol: string;
  readonly kind: string;
}

const cursorKey = (scope: string) => `tickflow.cursor:${scope}`;

/** A resume report in plain words. */
export function describeReport(report: ResumeReport): string {
  const count = report.count.toLocaleString('en-US');
  return `resumed: ${count} event${report.count === 1 ? '' : 's'} replayed, nothing missed`;
}

/**
 * The live pattern stream for one scanner view: the SDK subscription with the view's filters, resuming from the
 * cursor saved for that view (localStorage), so a reload continues where the page was.
 */
export function followPatterns(options: {
  readonly token: () => Promise<string>;
  readonly filter: SubscriptionFilter;
  readonly scope: string;
  readonly onEvent: (event: PatternEventData) => void;
  readonly onStatus: (status: LiveStatus) => void;
}): () => void {
  let received = 0;
  let lagMs: number | undefined;
  let state: ClientStatus = 'connecting';
  let detail: string | undefined;
  let report: string | undefined;
  const publish = () => options.onStatus({ state, detail, received, lagMs, report });
  const client = new TickflowClient({
    url: gatewayUrl,
    auth: { token: async () => options.token() },
    onStatus: (next, why) => {
      state = next;
      detail = why;
      publish();
    },
  });
  const saved = localStorage.getItem(cursorKey(options.scope)) ?? undefined;
  const subscription: Subscription = client.subscribe({
    stream: 'patterns',
    filter: options.filter,
    ...(saved ? { cursor: saved } : {}),
    onUnrecoverable: 'oldest',
    onResumed: (resume) => {
      report = describeReport(resume);
      publish();
    },
  });
  let stopped = false;
  client.connect().catch((error: unknown) => {
    state = 'failed';
    detail = error instanceof Error ? error.message : String(error);
    publish();
  });
  void (async () => {
    try {
      for await (const event of subscription) {
        received += 1;
        lagMs = Math.max(0, Date.now() - event.ts);
        if (subscription.cursor) localStorage.setItem(cursorKey(options.scope), subscription.cursor);
        options.onEvent(event.data as unknown as PatternEventData);
        publish();
      }
    } catch (error) {
      if (!stopped) {
        state = 'failed';
        detail = error instanceof Error ? error.message : String(error);
        publish();
      }
    }
  })();
  return () => {
    stopped = true;
    client.close();
  };
}
