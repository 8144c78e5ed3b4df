import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { RestBar, RestIncomeStatement, RestRatios, RestTicker } from '../rest-map.js';
import type { MassiveRestData } from '../simulator/reference.js';
import { answerMassiveRest } from '../simulator/rest-routes.js';

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
  // The routes and response shapes are the simulator's (one stand-in for Massive REST); this server adds the faults.
  const routes: MassiveRestData = {
    bars: (symbol) => data.bars?.[symbol] ?? [],
    tickers: () => data.tickers ?? [],
    details: (symbol) => data.details?.[symbol],
    ratios: (symbol) => data.ratios?.[symbol],
    incomeStatements: (symbol) => data.incomeStatements?.[symbol] ?? [],
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
      return json(
        res,
        429,
        { status: 'ERROR', error: 'You have exceeded the maximum requests per minute' },
        retryAfter === undefined ? {} : { 'retry-after': String(retryAfter) },
      );
    }
    const answer = answerMassiveRest(routes, url, { baseUrl, pageSize, requestId: `req-${requests.length}` });
    return json(res, answer.status, answer.body);
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
