import {
  GetStocksAggregatesSortEnum,
  GetStocksAggregatesTimespanEnum,
  ListTickersMarketEnum,
  restClient,
  type DefaultApi,
} from '@massive.com/client-js';
import type { Logger } from '../platform/index.js';
import { backoffDelay } from '../platform/backoff.js';
import type { RestBar, RestIncomeStatement, RestRatios, RestTicker } from './rest-map.js';

export interface Page<T> {
  readonly results: readonly T[];
  readonly nextUrl: string | undefined;
}

export interface MassiveRestOptions {
  readonly apiKey: string;
  /** https://api.massive.com, or a local fake server in tests. */
  readonly baseUrl: string;
  readonly maxRetries?: number;
  readonly backoffMs?: number;
  readonly logger: Logger;
  /** Injected in tests so that backoff does not wait for real. */
  readonly sleep?: (ms: number) => Promise<void>;
}

/** An HTTP failure with its status (429, 5xx…) and the server's Retry-After, if any. */
export class RestStatusError extends Error {
  override name = 'RestStatusError';
  constructor(
    readonly status: number,
    readonly retryAfterMs: number | undefined,
    message: string,
  ) {
    super(message);
  }
}

function retryAfter(header: unknown): number | undefined {
  if (typeof header !== 'string' && typeof header !== 'number') return undefined;
  const seconds = Number(header);
  return Number.isFinite(seconds) ? Math.max(0, seconds * 1000) : undefined;
}

/** The status of a failed call, whether it came from the client (AxiosError) or from fetch. */
export function statusOf(error: unknown): { status: number; retryAfterMs: number | undefined } | undefined {
  if (error instanceof RestStatusError) return { status: error.status, retryAfterMs: error.retryAfterMs };
  const response = (error as { response?: { status?: unknown; headers?: Record<string, unknown> } } | null)?.response;
  if (response && typeof response.status === 'number')
    return { status: response.status, retryAfterMs: retryAfter(response.headers?.['retry-after']) };
  return undefined;
}

const retriable = (status: number) => status === 429 || status >= 500;

/**
 * Massive REST through @massive.com/client-js, plus what the client lacks: retries with exponential
 * backoff on 429/5xx (honouring Retry-After) and page-by-page `next_url` following. The client's own
 * `pagination: true` merges pages in reverse order and cannot resume, so pages are followed here; the
 * cursor URL of each page is what the checkpoint stores.
 */
export class MassiveRest {
  private readonly client: DefaultApi;
  private readonly sleep: (ms: number) => Promise<void>;
  /** Requests answered 429, for tests and logs. */
  rateLimited = 0;

  constructor(private readonly options: MassiveRestOptions) {
    this.client = restClient(options.apiKey, options.baseUrl.replace(/\/+$/, ''), { pagination: false });
    this.sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
  }

  async call<T>(what: string, request: () => Promise<T>): Promise<T> {
    const maxRetries = this.options.maxRetries ?? 8;
    const base = this.options.backoffMs ?? 1000;
    for (let attempt = 0; ; attempt += 1) {
      try {
        return await request();
      } catch (error) {
        const failure = statusOf(error);
        if (!failure || !retriable(failure.status) || attempt >= maxRetries) {
          throw failure ? new RestStatusError(failure.status, failure.retryAfterMs, `${what}: HTTP ${failure.status}`) : error;
        }
        if (failure.status === 429) this.rateLimited += 1;
        // Capped after the jitter (so mostly 60 s once the exponential passes it), as this client always has.
        const delay = failure.retryAfterMs ?? Math.min(60_000, backoffDelay({ baseMs: base, maxMs: Infinity, jitter: 'equal' }, attempt));
        this.options.logger.warn(
          { what, status: failure.status, attempt: attempt + 1, delayMs: Math.round(delay) },
          'REST call failed; retrying',
        );
        await this.sleep(delay);
      }
    }
  }

  /** Follows a `next_url` (absolute, carries the cursor); the key is added as the API expects. */
  async nextPage<T>(nextUrl: string): Promise<Page<T>> {
    return this.call(`GET ${new URL(nextUrl).pathname}`, async () => {
      const url = new URL(nextUrl);
      url.searchParams.set('apiKey', this.options.apiKey);
      const response = await fetch(url);
      if (!response.ok)
        throw new RestStatusError(response.status, retryAfter(response.headers.get('retry-after') ?? undefined), `HTTP ${response.status}`);
      const body = (await response.json()) as { results?: T[]; next_url?: string };
      return { results: body.results ?? [], nextUrl: body.next_url };
    });
  }

  async bars(symbol: string, timespan: 'minute' | 'day', from: string, to: string, limit = 50_000): Promise<Page<RestBar>> {
    const body = await this.call(`aggregates ${symbol}`, () =>
      this.client.getStocksAggregates({
        stocksTicker: symbol,
        multiplier: 1,
        timespan: timespan === 'minute' ? GetStocksAggregatesTimespanEnum.Minute : GetStocksAggregatesTimespanEnum.Day,
        from,
        to,
        adjusted: true,
        sort: GetStocksAggregatesSortEnum.Asc,
        limit,
      }),
    );
    return { results: (body.results ?? []) as RestBar[], nextUrl: (body as { next_url?: string }).next_url };
  }

  async tickers(options: { readonly limit?: number; readonly search?: string } = {}): Promise<Page<RestTicker>> {
    const body = await this.call('tickers', () =>
      this.client.listTickers({
        market: ListTickersMarketEnum.Stocks,
        active: true,
        limit: options.limit ?? 1000,
        ...(options.search ? { search: options.search } : {}),
      }),
    );
    return { results: (body.results ?? []) as RestTicker[], nextUrl: body.next_url };
  }

  /** Ticker details; undefined when the API has none (404), so the list entry is kept as it is. */
  async tickerDetails(symbol: string): Promise<RestTicker | undefined> {
    try {
      const body = await this.call(`ticker details ${symbol}`, () => this.client.getTicker({ ticker: symbol }));
      return body.results as RestTicker | undefined;
    } catch (error) {
      if (error instanceof RestStatusError && error.status === 404) return undefined;
      throw error;
    }
  }

  async ratios(symbol: string): Promise<RestRatios | undefined> {
    const body = await this.call(`ratios ${symbol}`, () => this.client.getStocksFinancialsV1Ratios({ ticker: symbol, limit: 1 }));
    return body.results?.[0] as RestRatios | undefined;
  }

  async incomeStatements(symbol: string): Promise<RestIncomeStatement[]> {
    const body = await this.call(`income statements ${symbol}`, () =>
      this.client.getStocksFinancialsV1IncomeStatements({ tickers: symbol, timeframe: 'quarterly', sort: 'period_end.desc', limit: 8 }),
    );
    return (body.results ?? []) as RestIncomeStatement[];
  }
}
