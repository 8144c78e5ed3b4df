import type { Registry } from 'prom-client';
import type { Logger } from '../platform/index.js';
import type { TopicTail } from './topic-tail.js';
import type { StreamName } from './types.js';
import type { UwsApp, UwsResponse } from './uws-runtime.js';

export interface HttpRoutesOptions {
  readonly tails: ReadonlyMap<StreamName, Pick<TopicTail, 'lastPollAt' | 'topic'>>;
  readonly registry: Registry;
  readonly logger: Logger;
  /** The SDK bundled for browsers (served at /sdk.js). */
  readonly sdkBundle: () => Promise<string>;
  readonly connectionCount: () => number;
  /** The uWS build serving: /ready reports `degraded` (still 200) on the `ws` emulation, so it never goes unnoticed. */
  readonly transport: { readonly build: string; readonly native: boolean };
  /** Serve /metrics here too (false in production: GATEWAY_OPS_PORT serves it). */
  readonly publicMetrics: boolean;
  /** True once a stop has begun: /ready answers 503 before connections are closed. */
  readonly draining: () => boolean;
  /** Where / redirects (GATEWAY_DASHBOARD_URL): the dashboard's live feed; {host} is the request's host name. */
  readonly dashboardUrl: string;
}

/** The host name a request named (its Host header without the port), when it is a plain host name or address. */
export function requestHostName(hostHeader: string): string {
  const name = hostHeader.replace(/:\d+$/, '');
  return /^(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])$/.test(name) ? name : '127.0.0.1';
}

/**
 * The gateway's HTTP endpoints: /health, /ready, /metrics, /sdk.js, and / redirecting to the dashboard's live feed
 * (the live page the gateway used to serve is part of the dashboard now; browsers keep a link's #fragment, e.g.
 * `#apiKey=…`, across the redirect, so old links still work).
 */
export function routeHttp(app: UwsApp, options: HttpRoutesOptions): void {
  const replyAsync = (res: UwsResponse, produce: () => Promise<{ type: string; body: string }>): void => {
    let aborted = false;
    res.onAborted(() => {
      aborted = true;
    });
    produce().then(
      ({ type, body }) => {
        if (!aborted) reply(res, '200 OK', type, body);
      },
      (error: unknown) => {
        options.logger.error({ err: error }, 'HTTP handler failed');
        if (!aborted) reply(res, '500 Internal Server Error', 'application/json', JSON.stringify({ error: 'internal error' }));
      },
    );
  };
  app.get('/health', (res) => reply(res, '200 OK', 'application/json', JSON.stringify({ status: 'ok' })));
  app.get('/ready', (res) => {
    const now = Date.now();
    const streams = Object.fromEntries(
      [...options.tails].map(([stream, tail]) => [stream, { lastPollAgeMs: now - tail.lastPollAt, epoch: tail.topic.epoch }]),
    );
    const draining = options.draining();
    const ok = !draining && Object.values(streams).every((entry) => entry.lastPollAgeMs < 30_000);
    const status = draining ? 'draining' : !ok ? 'down' : options.transport.native ? 'ok' : 'degraded';
    const transport = options.transport.native
      ? options.transport
      : {
          ...options.transport,
          error: 'no native uWebSockets.js build loaded: serving on the slow ws emulation (GATEWAY_ALLOW_WS_EMULATION)',
        };
    reply(
      res,
      ok ? '200 OK' : '503 Service Unavailable',
      'application/json',
      JSON.stringify({ status, streams, transport, connections: options.connectionCount() }),
    );
  });
  if (options.publicMetrics)
    app.get('/metrics', (res) =>
      replyAsync(res, async () => ({ type: options.registry.contentType, body: await options.registry.metrics() })),
    );
  app.get('/sdk.js', (res) => replyAsync(res, async () => ({ type: 'text/javascript; charset=utf-8', body: await options.sdkBundle() })));
  app.get('/', (res, req) => {
    const location = options.dashboardUrl.replace('{host}', requestHostName(req.getHeader('host')));
    res.cork(() => {
      res.writeStatus('302 Found').writeHeader('location', location).writeHeader('cache-control', 'no-store').end();
    });
  });
  app.get('/*', (res) => reply(res, '404 Not Found', 'application/json', JSON.stringify({ error: 'not found' })));
}

function reply(res: UwsResponse, status: string, type: string, body: string | Buffer): void {
  res.cork(() => {
    res.writeStatus(status).writeHeader('content-type', type).writeHeader('cache-control', 'no-store').end(body);
  });
}
