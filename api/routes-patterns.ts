import { createRoute, z, type OpenAPIHono } from '@hono/zod-openapi';
import type { Context, TypedResponse } from 'hono';
import { broadScanDependencies, broadScanGuard, scanCacheKey, scanScope, statsCacheKey, symbolVersionKeys } from './cache-key.js';
import { timings, type ApiEnv, type ApiServices } from './context.js';
import { contentEtag, etagOf } from './etags.js';
import { findPattern, patternCounts, patternStats, patternSummary, scanPatterns } from './patterns-store.js';
import { normaliseCountQuery } from './pattern-counts.js';
import { ApiError } from './errors.js';
import { commonErrors, notModified, credentialRequired, json, problem } from './openapi-responses.js';
import { agesOf, normaliseScanQuery, pageOf, scopeSymbols, timesOf, withAge, type PatternTimes, type PatternView } from './scan.js';
import {
  CountsQuerySchema,
  CountsResponseSchema,
  PatternDetailSchema,
  PRESET_PARAMETERS,
  ScanQuerySchema,
  ScanResponseSchema,
  StatsQuerySchema,
  StatsResponseSchema,
  SummaryResponseSchema,
} from './schemas.js';
import { resolveUniverse } from '../store/accounts/universes.js';

const scanRoute = createRoute({
  method: 'get',
  path: '/api/patterns/scan',
  operationId: 'scanPatterns',
  tags: ['patterns'],
  summary: 'Scan current patterns with the dashboard filters',
  description:
    'Filters by pattern types, symbols and/or a universe, tier, direction, confidence, relative strength and relative volume (each between a minimum and a maximum), RSI and detection time. ' +
    'Paging: `next_cursor` (keyset, stable while events arrive) or `page`/`per_page` (offset, up to API_MAX_OFFSET_ROWS rows deep: 5,000 by default; ' +
    'a deeper page answers 400 naming `page`, and the cursor reads on at constant cost). Cached in Redis per normalised query and projection version. ' +
    'Parameters are parsed strictly: numbers are decimal (not empty, not hex), whole numbers are digits only, times are real calendar instants from 1970 to 9999; ' +
    'anything else, and a cursor this API did not issue for the same query, answers 400 naming the field. ' +
    '`age_seconds` and `expires_in_seconds` are measured against the market clock (event time), the clock that also decides `status`.',
  security: credentialRequired,
  request: { query: ScanQuerySchema },
  responses: { 200: json(ScanResponseSchema, 'A page of patterns'), ...notModified, ...commonErrors },
});

const detailRoute = createRoute({
  method: 'get',
  path: '/api/patterns/{id}',
  operationId: 'getPattern',
  tags: ['patterns'],
  summary: 'One pattern: its current state and its event history',
  request: {
    params: z.object({
      id: z
        .string()
        .min(1)
        .max(200)
        .openapi({ param: { name: 'id', in: 'path' } }),
    }),
  },
  responses: {
    200: json(PatternDetailSchema, 'The pattern'),
    ...notModified,
    404: problem('No such pattern'),
    ...commonErrors,
  },
});

const statsRoute = createRoute({
  method: 'get',
  path: '/api/patterns/stats',
  operationId: 'getPatternStats',
  tags: ['patterns'],
  summary: 'Counts of active patterns by tier and by pattern; detections per hour',
  request: { query: StatsQuerySchema },
  responses: { 200: json(StatsResponseSchema, 'Statistics'), ...notModified, ...commonErrors },
});

const countsRoute = createRoute({
  method: 'get',
  path: '/api/patterns/counts',
  operationId: 'getPatternCounts',
  tags: ['patterns'],
  summary:
    'Detections over a time window: by direction, the most active symbols, and per time bucket (with its directions, pattern types and tiers)',
  description:
    'Counts the detections (DETECTED events of the log, as `/api/patterns/stats` counts them per hour) in [`since`, `until`), filtered by pattern types, tier, ' +
    "and symbols and/or a universe as `/api/patterns/scan` is. The default window is the 24 hours up to the end of the market clock's hour. " +
    'Parameters are parsed strictly; anything else answers 400 naming the field (`until` not later than `since`, `since` with `hours`, too many buckets for the window). ' +
    'Cached per query for at most 5 seconds.',
  security: credentialRequired,
  request: { query: CountsQuerySchema },
  responses: { 200: json(CountsResponseSchema, 'Counts'), ...notModified, ...commonErrors },
});

const summaryRoute = createRoute({
  method: 'get',
  path: '/api/patterns/summary',
  operationId: 'getPatternSummary',
  tags: ['patterns'],
  summary: 'Per tier: active count, mean confidence, latest detection and the most confident patterns',
  responses: { 200: json(SummaryResponseSchema, 'Summary'), ...notModified, ...commonErrors },
});

/** Each row's JSON without its closing brace, computed once per row object (cached rows are shared by every hit). */
const rowJsonPrefix = new WeakMap<PatternView, string>();

/**
 * The JSON of a page's rows with their age fields, equal to JSON.stringify(items.map(withAge)). A hit serves the
 * same row objects again and again, so each is serialised once; per request only the two ages are written.
 */
export function pageRowsJson(items: readonly PatternView[], times: readonly PatternTimes[], now: number): string {
  const rows = items.map((item, index) => {
    let prefix = rowJsonPrefix.get(item);
    if (prefix === undefined) {
      prefix = JSON.stringify(item).slice(0, -1);
      rowJsonPrefix.set(item, prefix);
    }
    const ages = agesOf(times[index] ?? timesOf(item), now, item.status === 'active');
    return `${prefix},"age_seconds":${ages.age_seconds},"expires_in_seconds":${ages.expires_in_seconds}}`;
  });
  return `[${rows.join(',')}]`;
}

/**
 * Stats and summary aggregate every active pattern, so any event changes them; recomputing them per event
 * would keep them permanently stale under a steady stream. They are cached per 5-second window instead:
 * at most 5 s old, and one aggregate query per window whatever the number of readers.
 */
const AGGREGATE_WINDOW_MS = 5_000;
const aggregateWindow = (now: number) => Math.floor(now / AGGREGATE_WINDOW_MS);

export function registerPatternRoutes(app: OpenAPIHono<ApiEnv>, services: ApiServices): void {
  const { deps, cache, cachePrefix } = services;

  /**
   * A saved filter preset is one of the user's universes whose `criteria` hold scan parameters. Parameters in
   * the query win over the preset's; the merged set is validated like a query (errors name `preset.<field>`).
   */
  async function applyPreset(
    c: Context<ApiEnv>,
    key: string,
  ): Promise<{ parameters: z.infer<typeof ScanQuerySchema>; presetSymbols: readonly string[] | undefined }> {
    const preset = await resolveUniverse(deps.db, c.get('userId'), key);
    if (!preset) throw new ApiError('validation', `unknown preset ${key}`, [{ field: 'preset', message: 'no such universe of yours' }]);
    const saved: Record<string, string | string[]> = {};
    for (const name of PRESET_PARAMETERS) {
      const value = preset.criteria[name];
      if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') saved[name] = String(value);
      // A saved empty list means no filter (a query's empty list parameter is refused instead).
      else if (Array.isArray(value) && value.length > 0) saved[name] = value.map(String);
    }
    const explicit = Object.fromEntries(
      Object.entries(c.req.queries()).map(([name, values]) => [name, values.length === 1 ? values[0]! : values]),
    );
    const parsed = ScanQuerySchema.safeParse({ ...saved, ...explicit });
    if (!parsed.success) {
      throw new ApiError(
        'validation',
        `preset ${key} holds invalid scan parameters`,
        parsed.error.issues.map((issue) => ({ field: `preset.${issue.path.map(String).join('.')}`, message: issue.message })),
      );
    }
    return { parameters: parsed.data, presetSymbols: preset.symbols.length > 0 ? preset.symbols : undefined };
  }

  /** The symbols of a built-in universe or one of the user's; 400 naming `universe` when there is none of that key. */
  async function universeSymbolsOf(c: Context<ApiEnv>, key: string): Promise<readonly string[]> {
    const universe = await resolveUniverse(deps.db, c.get('userId'), key);
    if (!universe) {
      const hint = c.get('userId') === undefined ? ' (sign in to use your own universes)' : '';
      throw new ApiError('validation', `unknown universe ${key}${hint}`, [{ field: 'universe', message: `unknown universe${hint}` }]);
    }
    return universe.symbols;
  }

  app.openapi(scanRoute, async (c) => {
    let parameters = c.req.valid('query');
    let presetSymbols: readonly string[] | undefined;
    if (parameters.preset !== undefined) ({ parameters, presetSymbols } = await applyPreset(c, parameters.preset));
    let universeSymbols: readonly string[] | undefined = presetSymbols;
    if (parameters.universe !== undefined) {
      const universe = await universeSymbolsOf(c, parameters.universe);
      universeSymbols = presetSymbols === undefined ? universe : scopeSymbols(presetSymbols, universe);
    }
    const maxOffsetRows = deps.config.API_MAX_OFFSET_ROWS;
    if (parameters.cursor === undefined && parameters.page * parameters.per_page > maxOffsetRows) {
      // An OFFSET reads and discards every row before the page, so its cost grows with the depth; a cursor's does not.
      const detail = `offset paging reaches at most ${maxOffsetRows} rows (page × per_page); to read deeper, follow pagination.next_cursor (keyset paging) from an earlier page`;
      throw new ApiError('validation', detail, [
        { field: 'page', message: `page × per_page must be at most ${maxOffsetRows}; use cursor to read deeper` },
      ]);
    }
    const query = normaliseScanQuery(parameters, universeSymbols);
    const key = scanCacheKey(cachePrefix, query);
    const scope = scanScope(query);
    // Scans of a few symbols depend on those symbols' versions. A broad scan depends on the symbols on its
    // page and the pattern scopes a row would have to fall in to enter it (broadScanDependencies), so events
    // elsewhere leave it valid. Both are exact; first pages (what dashboards poll) are refreshed ahead. Broad
    // scans may also be served a bounded time stale (API_CACHE_MAX_STALE_MS) while one refresh runs behind.
    const maxStaleMs = scope.kind === 'patterns' ? deps.config.API_CACHE_MAX_STALE_MS : 0;
    const refreshAhead = query.page.cursor === undefined && query.page.page <= 2;
    const load = () => scanPatterns(deps.db, query, services.scanCountCap, deps.preparedDb);
    const keys = deps.readModelKeys;
    // Newest-first pages depend on the hours up to the entry's expiry (rows detected while it lives). Detection times
    // are event time: when it runs ahead of the wall clock (a simulator or replay faster than real time) it may reach
    // any hour while the entry lives, so the page depends on its whole tiers (a horizon too far for hour scopes).
    const marketNow = await services.marketClock.now();
    const horizonMs = () => {
      const expiry = services.now() + deps.config.API_CACHE_TTL_SECONDS * 1000;
      return marketNow > expiry ? Number.MAX_SAFE_INTEGER : expiry;
    };
    const read =
      scope.kind === 'patterns'
        ? await cache.read('scan', key, broadScanGuard(query, keys), load, {
            refreshAhead,
            maxStaleMs,
            dependsOn: (result) => broadScanDependencies(query, result, keys, horizonMs()),
          })
        : await cache.read('scan', key, symbolVersionKeys(scope.symbols, keys), load, { refreshAhead, maxStaleMs });
    const { items, nextCursor } = pageOf(read.value.rows, query);
    const now = marketNow;
    c.header('ETag', etagOf(key, read));
    c.header('Cache-Control', 'private, no-cache');
    const pagination = {
      total: read.value.total,
      total_capped: read.value.totalCapped,
      page: query.page.cursor ? null : query.page.page,
      per_page: query.page.perPage,
      pages: Math.ceil(read.value.total / query.page.perPage),
      has_more: nextCursor !== undefined,
      next_cursor: nextCursor ?? null,
    };
    const scanned = { symbols: query.filters.symbols?.length ?? null, universe: parameters.universe ?? null };
    const timing = timings(c.get('startedAt'), read.outcome === 'hit' || read.outcome === 'stale' ? null : read.value.dbMs, read.outcome);
    // The same JSON as c.json({ data, pagination, query, timings }) (ScanResponseSchema), with the rows' JSON reused.
    const body = `{"data":${pageRowsJson(items, read.value.times, now)},"pagination":${JSON.stringify(pagination)},"query":${JSON.stringify(scanned)},"timings":${JSON.stringify(timing)}}`;
    return c.body(body, 200, { 'Content-Type': 'application/json' }) as unknown as TypedResponse<
      z.infer<typeof ScanResponseSchema>,
      200,
      'json'
    >;
  });

  app.openapi(statsRoute, async (c) => {
    const { hours } = c.req.valid('query');
    const marketNow = await services.marketClock.now();
    const key = statsCacheKey(cachePrefix, 'stats', {
      hours,
      window: aggregateWindow(services.now()),
      marketHour: Math.floor(marketNow / 3_600_000),
    });
    const started = performance.now();
    const read = await cache.read('stats', key, [], () => patternStats(deps.db, hours, marketNow));
    c.header('ETag', etagOf(key, read));
    return c.json(
      { ...read.value, timings: timings(c.get('startedAt'), read.outcome === 'hit' ? null : performance.now() - started, read.outcome) },
      200,
    );
  });

  app.openapi(countsRoute, async (c) => {
    const parameters = c.req.valid('query');
    const universe = parameters.universe === undefined ? undefined : await universeSymbolsOf(c, parameters.universe);
    const marketNow = await services.marketClock.now();
    const query = normaliseCountQuery(parameters, scopeSymbols(parameters.symbols, universe), marketNow);
    // Like the stats: any detection changes the counts, so they are cached per 5-second window (see AGGREGATE_WINDOW_MS).
    const key = statsCacheKey(cachePrefix, 'counts', { ...query, window: aggregateWindow(services.now()) });
    const started = performance.now();
    const read = await cache.read('counts', key, [], () => patternCounts(deps.db, query));
    c.header('ETag', etagOf(key, read));
    return c.json(
      {
        since: new Date(query.since).toISOString(),
        until: new Date(query.until).toISOString(),
        bucket: query.bucket,
        ...read.value,
        query: { symbols: query.symbols?.length ?? null, universe: parameters.universe ?? null },
        timings: timings(c.get('startedAt'), read.outcome === 'hit' ? null : performance.now() - started, read.outcome),
      },
      200,
    );
  });

  app.openapi(summaryRoute, async (c) => {
    const key = statsCacheKey(cachePrefix, 'summary', { window: aggregateWindow(services.now()) });
    const started = performance.now();
    const read = await cache.read('summary', key, [], () => patternSummary(deps.db));
    const now = await services.marketClock.now();
    c.header('ETag', etagOf(key, read));
    return c.json(
      {
        tiers: read.value.map((tier) => ({ ...tier, top: tier.top.map((item) => withAge(item, now)) })),
        timings: timings(c.get('startedAt'), read.outcome === 'hit' ? null : performance.now() - started, read.outcome),
      },
      200,
    );
  });

  app.openapi(detailRoute, async (c) => {
    const { id } = c.req.valid('param');
    const started = performance.now();
    const found = await findPattern(deps.db, id);
    if (!found) throw new ApiError('not-found', `no pattern ${id}`);
    c.header('ETag', contentEtag(found));
    return c.json(
      {
        data: withAge(found.pattern, await services.marketClock.now()),
        events: found.events,
        timings: timings(c.get('startedAt'), performance.now() - started, 'bypass'),
      },
      200,
    );
  });
}
