import type { MassiveRestData } from './reference.js';

/** An HTTP answer of the Massive REST stand-in. */
export interface RestAnswer {
  readonly status: number;
  readonly body: unknown;
}

/** The paths the backfill uses: aggregates, reference tickers (list and details), ratios and income statements. */
export function isMassiveRestPath(path: string): boolean {
  return path.startsWith('/v2/aggs/') || path.startsWith('/v3/reference/tickers') || path.startsWith('/stocks/financials/');
}

/**
 * Answers one Massive REST request from `data`, with the documented response shapes: `results`, `count`,
 * an absolute `next_url` carrying a `cursor` when more pages follow (the page size is the server's when
 * smaller than `limit`), 404 for an unknown ticker or route. Authentication is the caller's. Pure.
 */
export function answerMassiveRest(
  data: MassiveRestData,
  url: URL,
  options: { readonly baseUrl: string; readonly pageSize: number; readonly requestId: string },
): RestAnswer {
  const paginate = <T>(all: readonly T[], extra: Record<string, unknown> = {}): RestAnswer => {
    const offset = Number(url.searchParams.get('cursor') ?? '0');
    const limit = Math.min(options.pageSize, Number(url.searchParams.get('limit') ?? options.pageSize));
    const results = all.slice(offset, offset + limit);
    const next = new URL(url.pathname, options.baseUrl);
    for (const [key, value] of url.searchParams) if (key !== 'apiKey' && key !== 'cursor') next.searchParams.set(key, value);
    next.searchParams.set('cursor', String(offset + limit));
    return {
      status: 200,
      body: {
        status: 'OK',
        request_id: options.requestId,
        count: results.length,
        ...extra,
        results,
        ...(offset + limit < all.length ? { next_url: next.toString() } : {}),
      },
    };
  };
  const path = url.pathname;
  const aggs = /^\/v2\/aggs\/ticker\/([^/]+)\/range\/(\d+)\/(minute|day)\/([^/]+)\/([^/]+)$/.exec(path);
  if (aggs) {
    const symbol = decodeURIComponent(aggs[1]!);
    const bars = data.bars(symbol, aggs[3] as 'minute' | 'day', decodeURIComponent(aggs[4]!), decodeURIComponent(aggs[5]!));
    return paginate(bars, { ticker: symbol, adjusted: true, queryCount: bars.length, resultsCount: bars.length });
  }
  if (path === '/v3/reference/tickers') return paginate(data.tickers());
  const details = /^\/v3\/reference\/tickers\/([^/]+)$/.exec(path);
  if (details) {
    const found = data.details(decodeURIComponent(details[1]!));
    return found
      ? { status: 200, body: { status: 'OK', request_id: options.requestId, results: found } }
      : { status: 404, body: { status: 'NOT_FOUND', message: 'Ticker not found.' } };
  }
  if (path === '/stocks/financials/v1/ratios') {
    const ratios = data.ratios(url.searchParams.get('ticker') ?? '');
    return { status: 200, body: { status: 'OK', request_id: options.requestId, results: ratios ? [ratios] : [] } };
  }
  if (path === '/stocks/financials/v1/income-statements') return paginate(data.incomeStatements(url.searchParams.get('tickers') ?? ''));
  return { status: 404, body: { status: 'NOT_FOUND', message: `no route ${path}` } };
}
