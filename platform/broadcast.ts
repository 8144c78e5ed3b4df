import type { IHeaders } from 'kafkajs';

/**
 * Benchmark symbols (SPY by default) are written to every partition of the aggregate topics, so that
 * each processor instance sees the benchmark in the same log order as its own symbols: relative strength
 * then stays deterministic under replay and rebalances. The copy in the symbol's own (murmur2) partition is
 * the canonical one; the others carry this header, and every consumer except the processors skips them.
 */
export const BROADCAST_COPY_HEADER = 'tickflow-broadcast-copy';

export function isBroadcastCopy(headers: IHeaders | undefined): boolean {
  return headers !== undefined && headers[BROADCAST_COPY_HEADER] !== undefined;
}
