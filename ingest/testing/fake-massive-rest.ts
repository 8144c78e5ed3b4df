import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { RestBar, RestIncomeStatement, RestRatios, RestTicker } from '../rest-map.js';

export interface FakeMassiveData {
  readonly bars?: Record<string, readonly RestBar[]>;
  readonly tickers?: readonly RestTicker[];
  readonly details?: Record<string, RestTicker>;
  readonly ratios?: Record<string, RestRatios>;
  readonly incomeStatements?: Record<string, readonly RestIncomeStatement[]>;
  /** Results per page (the server's, whatever `limit` asks). */
  readonly pageSize?: number;
}

export interface FakeMassiveRest {
  readonly baseUrl: string;
  /** Every request, as path + query, without the apiKey. */
  readonly requests: string[];
  /** The next `count` requests get 429 (with Retry-After when given). */
  rateLimitNext(count: number, retryAfterSeconds?: number): void;
  /** From the `after`-th next request on, answer 503 until healed. */
  breakAfter(after: number): void;
  heal(): void;
  close(): Promise<void>;
}

/**
 * A local stand-in for api.massive.com with the documented response shapes: absolute `next_url`
 * with a cursor, 429 without retry, 401 without apiKey. Used by tests and demos only.
 */
export async function startFakeMassiveRest(data: FakeMassiveData): Promise<FakeMassiveRest> {
  const requests: string[] = [];
  let rateLimited = 0;
  let retryAfter: number | undefined;
  let breakIn: number | undefined;
  const pageSize = data.pageSize ?? 50_000;
  let baseUrl = '';

  const json = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
    res.writeHead(status, { 'content-type': 'application/json', ...headers });
    res.end(JSON.stringify(body));
  };

  const paginate = <T>(res: ServerResponse, url: URL, all: readonly T[], extra: Record<string, unknown> = {}) => {
    const offset = Number(url.searchParams.get('cursor') ?? '0');
    const limit = Math.min(pageSize, Number(url.searchParams.get('limit') ?? pageSize));
    const results = all.slice(offset, offset + limit);
    const next = new URL(url.pathname, baseUrl);
    for (const [key, value] of url.searchParams) if (key !== 'apiKey' && key !== 'cursor') next.searchParams.set(key, value);
    next.searchParams.set('cursor', String(offset + limit));
    json(res, 200, {
      status: 'OK',
      request_id: `req-${requests.length}`,
      count: results.length,
      ...extra,
      results,
      ...(offset + limit < all.length ? { next_url: next.toString() } : {}),
    });
  };

  const handle = (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', baseUrl);
    const logged = new URL(url);
    logged.searchParams.delete('apiKey');
    requests.push(`${logged.pathname}${logged.search}`);
    if (!url.searchParams.get('apiKey')) return json(res, 401, { status: 'ERROR', error: 'API Key was not provided' });
    if (breakIn !== undefined) {
      if (breakIn <= 0) return json(res, 503, { status: 'ERROR', error: 'unavailable' });
      breakIn -= 1;
    }
    if (rateLimited > 0) {
      rateLimited -= 1;
      return json(res, 429, { status: 'ERROR', error: 'You have exceeded the maximum requests per minute' }, retryAfter === undefined ? {} : { 'retry-after': String(retryAfter) });
    }
    const path = url.pathname;
    const aggs = /^\/v2\/aggs\/ticker\/([^/]+)\/range\/(\d+)\/(minute|day)\/([^/]+)\/([^/]+)$/.exec(path);
    if (aggs) {
      const symbol = decodeURIComponent(aggs[1]!);
      const bars = data.bars?.[symbol] ?? [];
      return paginate(res, url, bars, { ticker: symbol, adjusted: true, queryCount: bars.length, resultsCount: bars.length });
    }
    if (path === '/v3/reference/tickers') return paginate(res, url, data.tickers ?? []);
    const details = /^\/v3\/reference\/tickers\/([^/]+)$/.exec(path);
    if (details) {
      const found = data.details?.[decodeURIComponent(details[1]!)];
      return found ? json(res, 200, { status: 'OK', request_id: 'x', results: found }) : json(res, 404, { status: 'NOT_FOUND', message: 'Ticker not found.' });
    }
    if (path === '/stocks/financials/v1/ratios') {
      const ratios = data.ratios?.[url.searchParams.get('ticker') ?? ''];
      return json(res, 200, { status: 'OK', request_id: 'x', results: ratios ? [ratios] : [] });
    }
    if (path === '/stocks/financials/v1/income-statements') {
      return paginate(res, url, data.incomeStatements?.[url.searchParams.get('tickers') ?? ''] ?? []);
    }
    return json(res, 404, { status: 'NOT_FOUND', message: `no route ${path}` });
  };

  const server = createServer(handle);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    baseUrl,
    requests,
    rateLimitNext: (count, seconds) => {
      rateLimited = count;
      retryAfter = seconds;
    },
    breakAfter: (after) => {
      breakIn = after;
    },
    heal: () => {
      breakIn = undefined;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
