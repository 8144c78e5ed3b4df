import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import { statsCacheKey, symbolCacheKey } from './cache-key.js';
import { timings, type ApiEnv, type ApiServices } from './context.js';
import { etagOf } from './etags.js';
import { ApiError } from './errors.js';
import { commonErrors, notModified, json, problem } from './openapi-responses.js';
import { parseInstant } from './scan.js';
import {
  BarsQuerySchema,
  BarsResponseSchema,
  SymbolDetailSchema,
  SymbolListSchema,
  SymbolParamSchema,
  SymbolsQuerySchema,
} from './schemas.js';
import { findSymbol, listBars, listSymbols, intervalsWithBars, symbolExists } from './symbols-store.js';

const notFound = problem('No such symbol');

const listRoute = createRoute({
  method: 'get',
  path: '/api/symbols',
  operationId: 'listSymbols',
  tags: ['symbols'],
  summary: 'Search reference data: ticker or name prefix, market, type, active',
  request: { query: SymbolsQuerySchema },
  responses: {
    200: json(SymbolListSchema, 'Matching symbols, ticker matches first'),
    ...notModified,
    ...commonErrors,
  },
});

const detailRoute = createRoute({
  method: 'get',
  path: '/api/symbols/{symbol}',
  operationId: 'getSymbol',
  tags: ['symbols'],
  summary: 'Details, latest fundamentals, last bar and active pattern count',
  request: { params: SymbolParamSchema },
  responses: { 200: json(SymbolDetailSchema, 'The symbol'), ...notModified, 404: notFound, ...commonErrors },
});

const barsRoute = createRoute({
  method: 'get',
  path: '/api/symbols/{symbol}/bars',
  operationId: 'getSymbolBars',
  tags: ['symbols'],
  summary: 'OHLCV bars of one symbol from the bar tables and their continuous aggregates (5m, 15m, 1h)',
  request: { params: SymbolParamSchema, query: BarsQuerySchema },
  responses: { 200: json(BarsResponseSchema, 'Bars, oldest first'), ...notModified, 404: notFound, ...commonErrors },
});

/** Reference data changes rarely and carries no version counter; its entries live a short, fixed time. */
const SYMBOL_LIST_TTL_BUCKET_MS = 60_000;

export function registerSymbolRoutes(app: OpenAPIHono<ApiEnv>, services: ApiServices): void {
  const { deps, cache, cachePrefix } = services;

  app.openapi(listRoute, async (c) => {
    const parameters = c.req.valid('query');
    const search = { ...parameters, active: parameters.active === undefined ? undefined : parameters.active === 'true' };
    const key = statsCacheKey(cachePrefix, 'symbols', { ...search, minute: Math.floor(services.now() / SYMBOL_LIST_TTL_BUCKET_MS) });
    const started = performance.now();
    const read = await cache.read('symbols', key, [], () => listSymbols(deps.db, search));
    c.header('ETag', etagOf(key, { ...read, stamp: undefined }));
    return c.json(
      {
        data: read.value,
        count: read.value.length,
        timings: timings(c.get('startedAt'), read.outcome === 'hit' ? null : performance.now() - started, read.outcome),
      },
      200,
    );
  });

  app.openapi(detailRoute, async (c) => {
    const { symbol } = c.req.valid('param');
    const key = symbolCacheKey(cachePrefix, symbol, 'detail');
    const started = performance.now();
    // The last bar is looked for around the later of the wall clock and the market clock (event time): with data
    // ahead of the wall clock (a simulator, a replay), a window around the wall clock finds an older bar instead.
    const around = Math.max(services.now(), await services.marketClock.now());
    const read = await cache.read(
      'symbol',
      key,
      [deps.readModelKeys.symbolVersion(symbol)],
      async () => (await findSymbol(deps.db, symbol, around)) ?? null,
      { refreshAhead: true },
    );
    if (read.value === null) throw new ApiError('not-found', `no symbol ${symbol}`);
    c.header('ETag', etagOf(key, read));
    return c.json(
      { ...read.value, timings: timings(c.get('startedAt'), read.outcome === 'hit' ? null : performance.now() - started, read.outcome) },
      200,
    );
  });

  app.openapi(barsRoute, async (c) => {
    const { symbol } = c.req.valid('param');
    const { interval, from, to, limit } = c.req.valid('query');
    const fromMs = from === undefined ? undefined : parseInstant('from', from);
    const toMs = to === undefined ? undefined : parseInstant('to', to);
    if (fromMs !== undefined && toMs !== undefined && fromMs >= toMs)
      throw new ApiError('validation', 'to must be later than from', [{ field: 'to', message: 'must be later than from' }]);
    const key = symbolCacheKey(cachePrefix, symbol, 'bars', { interval, fromMs, toMs, limit });
    const started = performance.now();
    const read = await cache.read('bars', key, [deps.readModelKeys.symbolVersion(symbol)], async () => {
      const bars = await listBars(deps.db, symbol, interval, fromMs, toMs, limit);
      return bars.length > 0 || (await symbolExists(deps.db, symbol)) ? bars : null;
    });
    if (read.value === null) {
      // A symbol known only from its bars (no reference data) is not "no symbol": say which intervals it has.
      const others = (await intervalsWithBars(deps.db, symbol)).filter((other) => other !== interval);
      throw new ApiError(
        'not-found',
        others.length > 0 ? `no ${interval} bars for ${symbol} (it has ${others.join(', ')} bars)` : `no symbol ${symbol}`,
      );
    }
    c.header('ETag', etagOf(key, read));
    return c.json(
      {
        symbol,
        interval,
        data: read.value,
        timings: timings(c.get('startedAt'), read.outcome === 'hit' ? null : performance.now() - started, read.outcome),
      },
      200,
    );
  });
}
