import { createRequire } from 'node:module';

// Imported for its effect by every module that makes kafkajs clients (platform/kafka.ts, stack/local-stack.ts).

/** The part of kafkajs's (CommonJS, untyped) request queue that the throttle check below touches. */
interface KafkajsRequestQueue {
  throttledUntil: number;
  throttleCheckTimeoutId: NodeJS.Timeout | null;
  pending: unknown[];
  checkPendingRequests(): void;
  scheduleCheckPendingRequests(): void;
}

/** kafkajs's request queue class (its prototype is patched below; exported for that patch's test). */
export const KafkajsRequestQueue = createRequire(import.meta.url)('kafkajs/src/network/requestQueue/index.js') as {
  new (options: Record<string, unknown>): KafkajsRequestQueue;
  prototype: KafkajsRequestQueue;
};

// kafkajs 2.2.4 (its last release) arms the queue's throttle check after every response with
// `setTimeout(check, throttledUntil - Date.now())`, a negative delay whenever the broker is not throttling. Node 20
// used 1 ms silently; Node 23 and later (24 is the production runtime) also print a TimeoutNegativeWarning on stderr
// (once per process): a warning in normal operation. The same method with the delay clamped to the 1 ms Node uses
// anyway.
KafkajsRequestQueue.prototype.scheduleCheckPendingRequests = function (this: KafkajsRequestQueue) {
  if (this.throttleCheckTimeoutId) return;
  const untilUnthrottled = this.throttledUntil - Date.now();
  // kafkajs's CHECK_PENDING_REQUESTS_INTERVAL (10 ms) when requests wait.
  const delay = this.pending.length > 0 && untilUnthrottled <= 0 ? 10 : untilUnthrottled;
  this.throttleCheckTimeoutId = setTimeout(
    () => {
      this.throttleCheckTimeoutId = null;
      this.checkPendingRequests();
    },
    Math.max(1, delay),
  );
};
