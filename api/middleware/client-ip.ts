import { getConnInfo } from '@hono/node-server/conninfo';
import type { Context } from 'hono';

/**
 * The client's IP. Behind `trustedHops` proxies, each appending the address it saw to X-Forwarded-For, the client
 * is the entry `trustedHops` from the right: entries further left were written by the client and prove nothing.
 */
export function clientIpFrom(forwardedFor: string | undefined, socketAddress: string, trustedHops: number): string {
  if (trustedHops <= 0 || forwardedFor === undefined) return socketAddress;
  const entries = forwardedFor
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry.length > 0);
  if (entries.length === 0) return socketAddress;
  // Fewer entries than trusted hops: the leftmost was still written by a trusted proxy.
  return entries[Math.max(0, entries.length - trustedHops)]!;
}

/** The IP of the request's client (the rate limits' key for callers without a credential). */
export function clientIp(c: Context, trustedHops: number): string {
  return clientIpFrom(c.req.header('x-forwarded-for'), socketAddress(c), trustedHops);
}

function socketAddress(c: Context): string {
  try {
    return getConnInfo(c).remote.address ?? 'unknown';
  } catch {
    // app.request() in tests has no socket.
    return 'local';
  }
}
