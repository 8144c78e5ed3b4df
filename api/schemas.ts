import { z } from '@hono/zod-openapi';
import { INSTANT_FORMAT, instantMs, PATTERN_DIRECTIONS, SORT_KEYS } from './scan.js';
import { COUNT_BUCKET_NAMES, MAX_COUNT_BUCKETS } from './pattern-counts.js';
import { SYMBOL_PATTERN } from '../contracts/universes.js';
import { BAR_RESOLUTIONS } from './symbols-store.js';
import { CriteriaSchema } from './universes.js';
import { API_KEY_SCOPES, DEFAULT_API_KEY_SCOPES } from '../platform/index.js';

/** A list parameter: `a,b`, or repeated (`?x=a&x=b`), or both; items trimmed, empties dropped. */
export const listParam = (description: string, example: string) =>
  z
    .union([z.string(), z.array(z.string())])
    .transform((value) =>
      (Array.isArray(value) ? value : [value])
        .flatMap((item) => item.split(','))
        .map((item) => item.trim())
        .filter((item) => item.length > 0),
    )
    // `pattern_types=` read as "every pattern" but `symbols=` as "no symbol": an empty list is refused instead.
    .refine((items) => items.length > 0, 'must name at least one item; leave the parameter out for no filter')
    .openapi({ description: `${description} (comma-separated or repeated; at least one item)`, example });

const symbolList = listParam('Ticker symbols', 'AAPL,MSFT').pipe(
  z.array(z.string().toUpperCase().regex(SYMBOL_PATTERN, 'not a ticker symbol')).max(1000, 'at most 1000 symbols'),
);

/** A decimal number as a query parameter: digits with an optional sign, fraction and exponent; not empty, not hex, no spaces. */
const DECIMAL = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d{1,3})?$/;
const number = (description: string) =>
  z
    .string()
    .regex(DECIMAL, 'must be a decimal number')
    .transform(Number)
    .pipe(z.number().finite())
    .openapi({ description: `${description}; a decimal number such as 0.5` });
/** A whole number as a query parameter: digits only (no sign, fraction, exponent, hex or spaces), within [min, max]. */
export const wholeNumber = (min: number, max: number) =>
  z
    .string()
    .regex(/^\d{1,9}$/, 'must be a whole number (digits only)')
    .transform(Number)
    .pipe(z.number().int().min(min).max(max));
const instant = (description: string) =>
  z
    .string()
    .max(64)
    .refine((text) => instantMs(text) !== undefined, INSTANT_FORMAT)
    .openapi({
      description: `${description}: ISO-8601 date or date-time (UTC unless it has an offset; every field must exist, so 2026-02-30 is refused) or epoch milliseconds, from 1970 to 9999`,
      example: '2026-11-25T14:30:00Z',
    });

export const ScanQuerySchema = z.object({
  pattern_types: listParam('Pattern names from the catalog', 'bullish_engulfing,volume_spike')
    .pipe(
      z
        .array(
          z
            .string()
            .toLowerCase()
            .regex(/^[a-z0-9_]{1,64}$/, 'not a pattern name'),
        )
        .max(100),
    )
    .optional(),
  symbols: symbolList.optional(),
  universe: z.string().min(1).max(64).optional().openapi({
    description: 'Key of a built-in or your own universe; intersected with `symbols` when both are given',
    example: 'market_leaders',
  }),
  preset: z.string().min(1).max(64).optional().openapi({
    description:
      'Key of one of your universes used as a saved filter preset: its `criteria` (scan parameters) apply unless given in the query, and its symbols (if any) scope the scan',
  }),
  sectors: listParam('Sectors (case-insensitive)', 'Technology')
    .pipe(z.array(z.string().max(100)).max(50))
    .optional(),
  timeframe: z
    .string()
    .toLowerCase()
    .pipe(z.enum(['all', 'daily', 'intraday', 'combo']))
    .default('all')
    .openapi({ description: 'Tier: All, Daily, Intraday or Combo (case-insensitive)', example: 'Daily' }),
  status: z.enum(['active', 'expired', 'all']).default('active').openapi({ description: 'Current state of the pattern' }),
  confidence_min: number('Minimum confidence in [0, 1]').pipe(z.number().min(0).max(1)).default(0.5),
  direction: listParam('Directions: bullish, bearish or neutral (case-insensitive)', 'bullish')
    .pipe(
      z
        .array(
          z
            .string()
            .toUpperCase()
            .pipe(z.enum(PATTERN_DIRECTIONS, { error: `not a direction (${PATTERN_DIRECTIONS.join(', ').toLowerCase()})` })),
        )
        .max(PATTERN_DIRECTIONS.length * 2),
    )
    .optional(),
  rs_min: number('Minimum relative strength vs the benchmark (1.0 = in line)').optional(),
  rs_max: number('Maximum relative strength vs the benchmark (inclusive; not below `rs_min`)').optional(),
  definition_version: listParam(
    'Pattern definition versions: only patterns computed by these versions of their definition (tells recomputed history apart)',
    '2',
  )
    .pipe(
      z
        .array(
          z
            .string()
            .regex(/^\d{1,7}$/, 'not a definition version')
            .transform(Number)
            .pipe(z.number().int().min(1)),
        )
        .max(20),
    )
    .optional(),
  vol_min: number('Minimum relative volume (volume / 20-bar average)').pipe(z.number().min(0)).optional(),
  vol_max: number('Maximum relative volume (inclusive; not below `vol_min`)').pipe(z.number().min(0)).optional(),
  rsi_range: z
    .string()
    .max(32)
    .optional()
    .openapi({ description: 'RSI bounds "min,max" in [0, 100]; either side may be empty', example: '30,70' }),
  since: instant('Detected at or after').optional(),
  until: instant('Detected before').optional(),
  sort_by: z.enum(SORT_KEYS).default('confidence'),
  sort_order: z
    .string()
    .toLowerCase()
    .pipe(z.enum(['asc', 'desc']))
    .default('desc')
    .openapi({ description: 'asc or desc' }),
  page: wholeNumber(1, 10_000).default(1).openapi({
    description:
      'Page number (offset paging; prefer `cursor`). Offset paging reaches at most API_MAX_OFFSET_ROWS rows (page × per_page, 5,000 by default); deeper pages answer 400: follow `next_cursor` instead',
  }),
  per_page: wholeNumber(1, 100).default(30).openapi({ description: 'Rows per page, 1 to 100' }),
  cursor: z
    .string()
    .max(512)
    .optional()
    .openapi({ description: '`next_cursor` of the previous page (keyset paging; `page` is then ignored)' }),
});

/** Scan parameters a preset may save (everything but paging and the preset itself). */
export const PRESET_PARAMETERS = [
  'pattern_types',
  'symbols',
  'universe',
  'sectors',
  'timeframe',
  'status',
  'confidence_min',
  'direction',
  'rs_min',
  'rs_max',
  'definition_version',
  'vol_min',
  'vol_max',
  'rsi_range',
  'since',
  'until',
  'sort_by',
  'sort_order',
  'per_page',
] as const;

const nullableNumber = z.number().nullable();

export const PatternSchema = z
  .object({
    id: z.string(),
    symbol: z.string(),
    pattern: z.string(),
    definition_version: z.number().int(),
    tier: z.enum(['INTRADAY', 'DAILY', 'COMBO']),
    direction: z.string(),
    status: z.string(),
    confidence: z.number(),
    base_confidence: nullableNumber,
    fundamental_adjustment: nullableNumber,
    fundamental_reasons: z.array(z.string()),
    price: nullableNumber,
    change: nullableNumber,
    change_pct: nullableNumber,
    volume: nullableNumber,
    relative_strength: nullableNumber,
    relative_volume: nullableNumber,
    rsi: nullableNumber,
    levels: z.record(z.string(), z.number()),
    detected_at: z.string().openapi({ format: 'date-time' }),
    expires_at: z.string().openapi({ format: 'date-time' }),
    age_seconds: z
      .number()
      .int()
      .openapi({
        description:
          'Seconds from `detected_at` to the market clock: the event time the projections have reached (the detection time of the newest active pattern), ' +
          'the clock that also decides `status`. Not the wall clock: it stands still while no market data arrives and follows a replay or simulator at its own pace. At least 0',
      }),
    expires_in_seconds: z.number().int().openapi({
      description:
        'Seconds from the market clock (see `age_seconds`) to `expires_at`; negative for an expired pattern, at least 0 for an active one (0: expiring now)',
    }),
  })
  .openapi('Pattern');

export const TimingsSchema = z
  .object({
    total_ms: z.number(),
    db_ms: z.number().nullable().openapi({ description: 'Time in PostgreSQL; null when served from the cache' }),
    cache: z.enum(['hit', 'stale', 'miss', 'bypass']).openapi({
      description:
        'hit: current; stale: within API_CACHE_MAX_STALE_MS of current (broad scans only); miss: computed now; bypass: Redis unavailable',
    }),
  })
  .openapi('Timings');

export const ScanResponseSchema = z
  .object({
    data: z.array(PatternSchema),
    pagination: z.object({
      total: z.number().int(),
      total_capped: z.boolean().openapi({ description: 'True when more rows match than were counted (`total` is a lower bound)' }),
      page: z.number().int().nullable(),
      per_page: z.number().int(),
      pages: z.number().int(),
      has_more: z.boolean(),
      next_cursor: z.string().nullable(),
    }),
    query: z.object({
      symbols: z.number().int().nullable().openapi({ description: 'Number of symbols scanned (null: all)' }),
      universe: z.string().nullable(),
    }),
    timings: TimingsSchema,
  })
  .openapi('ScanResponse');

export const PatternEventSchema = z
  .object({
    event_id: z.string(),
    kind: z.string(),
    detected_at: z.string(),
    confidence: z.number(),
    price: nullableNumber,
    kafka_topic: z.string(),
    kafka_partition: z.number().int(),
    kafka_offset: z.number().int(),
  })
  .openapi('PatternEvent');

export const PatternDetailSchema = z
  .object({ data: PatternSchema, events: z.array(PatternEventSchema), timings: TimingsSchema })
  .openapi('PatternDetail');

export const StatsQuerySchema = z.object({
  hours: wholeNumber(1, 24 * 30)
    .default(24)
    .openapi({
      description:
        'Window of the hourly detection histogram, in hours up to the market clock (the event time of the latest active pattern; see Pattern.age_seconds)',
    }),
});

const countRow = z.object({ key: z.string(), count: z.number().int() });
export const StatsResponseSchema = z
  .object({
    active_total: z.number().int(),
    by_tier: z.array(countRow),
    by_pattern: z.array(countRow),
    detections: z.object({
      hours: z.number().int(),
      total: z.number().int(),
      hourly: z.array(z.object({ bucket: z.string(), count: z.number().int() })),
    }),
    timings: TimingsSchema,
  })
  .openapi('PatternStats');

/** Detections per time bucket and key (a direction, pattern type or tier). */
const bucketCounts = (what: string) =>
  z.array(z.object({ bucket: z.string().openapi({ format: 'date-time' }), key: z.string(), count: z.number().int() })).openapi({
    description: `Detections per time bucket and ${what}, in time order then by ${what}; pairs without any are left out (the counts of a bucket add up to its count in \`buckets\`)`,
  });

export const CountsQuerySchema = z.object({
  pattern_types: ScanQuerySchema.shape.pattern_types,
  symbols: ScanQuerySchema.shape.symbols,
  universe: ScanQuerySchema.shape.universe,
  timeframe: ScanQuerySchema.shape.timeframe,
  since: instant("Detected at or after (the window's start; default: `hours` before `until`)").optional(),
  until: instant(
    "Detected before (the window's end; default: the end of the hour of the market clock, the event time of the latest active pattern, see Pattern.age_seconds)",
  ).optional(),
  hours: wholeNumber(1, 24 * 366)
    .optional()
    .openapi({ description: "The window's length in hours when `since` is not given (default 24; not with `since`)" }),
  bucket: z
    .enum(COUNT_BUCKET_NAMES)
    .default('1h')
    .openapi({
      description: `Width of the time buckets, aligned from 2000-01-01T00:00Z (UTC); at most ${MAX_COUNT_BUCKETS} buckets per window`,
    }),
  top: wholeNumber(1, 100).default(10).openapi({ description: 'How many of the most active symbols `by_symbol` lists, 1 to 100' }),
});

export const CountsResponseSchema = z
  .object({
    since: z.string().openapi({ format: 'date-time', description: 'Start of the window (inclusive)' }),
    until: z.string().openapi({ format: 'date-time', description: 'End of the window (exclusive)' }),
    bucket: z.enum(COUNT_BUCKET_NAMES),
    total: z.number().int().openapi({ description: 'Detections in the window' }),
    by_direction: z.array(countRow).openapi({ description: 'Detections per direction, most first' }),
    by_symbol: z.array(countRow).openapi({ description: 'The `top` symbols with the most detections, most first (ties by symbol)' }),
    symbols_total: z.number().int().openapi({ description: 'Symbols with at least one detection in the window' }),
    buckets: z
      .array(z.object({ bucket: z.string().openapi({ format: 'date-time' }), count: z.number().int() }))
      .openapi({ description: 'Detections per time bucket, in time order; buckets without any are left out' }),
    buckets_by_direction: bucketCounts('direction'),
    buckets_by_pattern: bucketCounts('pattern type'),
    buckets_by_tier: bucketCounts('tier'),
    query: z.object({
      symbols: z.number().int().nullable().openapi({ description: 'Number of symbols counted (null: all)' }),
      universe: z.string().nullable(),
    }),
    timings: TimingsSchema,
  })
  .openapi('PatternCounts');

export const SummaryResponseSchema = z
  .object({
    tiers: z.array(
      z.object({
        tier: z.string(),
        active: z.number().int(),
        average_confidence: z.number().nullable(),
        latest_detected_at: z.string().nullable(),
        top: z.array(PatternSchema),
      }),
    ),
    timings: TimingsSchema,
  })
  .openapi('PatternSummary');

export const SymbolsQuerySchema = z.object({
  search: z.string().trim().min(1).max(100).optional().openapi({ description: 'Ticker prefix or name prefix (case-insensitive)' }),
  market: z.string().max(32).optional().openapi({ example: 'stocks' }),
  type: z.string().max(32).optional().openapi({ example: 'CS' }),
  active: z.enum(['true', 'false']).optional(),
  limit: wholeNumber(1, 5000).default(100),
});

export const SymbolSchema = z
  .object({
    ticker: z.string(),
    name: z.string(),
    market: z.string(),
    locale: z.string(),
    type: z.string().nullable(),
    active: z.boolean(),
    primary_exchange: z.string().nullable(),
    currency_name: z.string().nullable(),
    cik: z.string().nullable(),
    composite_figi: z.string().nullable(),
    share_class_figi: z.string().nullable(),
    market_cap: nullableNumber,
    shares_outstanding: nullableNumber,
    sic_code: z.string().nullable(),
    sic_description: z.string().nullable(),
    sector: z.string().nullable(),
    list_date: z.string().nullable(),
    updated_at: z.string(),
  })
  .openapi('Symbol');

export const SymbolListSchema = z
  .object({ data: z.array(SymbolSchema), count: z.number().int(), timings: TimingsSchema })
  .openapi('SymbolList');

export const BarSchema = z
  .object({
    bucket: z.string(),
    open: z.number(),
    high: z.number(),
    low: z.number(),
    close: z.number(),
    volume: z.number(),
    vwap: nullableNumber,
    transactions: z.number().int().nullable(),
  })
  .openapi('Bar');

export const FundamentalsSchema = z
  .object({
    as_of_date: z.string(),
    fiscal_period: z.string().nullable(),
    fiscal_year: z.number().int().nullable(),
    eps: nullableNumber,
    eps_estimate: nullableNumber,
    eps_surprise_pct: nullableNumber,
    revenue: nullableNumber,
    revenue_yoy_growth_pct: nullableNumber,
    market_cap: nullableNumber,
    price_to_earnings: nullableNumber,
    price_to_book: nullableNumber,
    ev_to_ebitda: nullableNumber,
    dividend_yield: nullableNumber,
    debt_to_equity: nullableNumber,
    source: z.string(),
    updated_at: z.string(),
  })
  .openapi('Fundamentals');

export const SymbolDetailSchema = z
  .object({
    data: SymbolSchema,
    fundamentals: FundamentalsSchema.nullable(),
    last_bar: z
      .object({
        interval: z.string(),
        bucket: z.string(),
        open: z.number(),
        high: z.number(),
        low: z.number(),
        close: z.number(),
        volume: z.number(),
        vwap: nullableNumber,
        transactions: z.number().int().nullable(),
      })
      .nullable(),
    active_patterns: z.number().int(),
    timings: TimingsSchema,
  })
  .openapi('SymbolDetail');

export const SymbolParamSchema = z.object({
  symbol: z
    .string()
    .toUpperCase()
    .regex(SYMBOL_PATTERN, 'not a ticker symbol')
    .openapi({ param: { name: 'symbol', in: 'path' }, example: 'AAPL' }),
});

export const BarsQuerySchema = z.object({
  interval: z.enum(BAR_RESOLUTIONS).default('1d'),
  from: instant('Bars starting at or after').optional(),
  to: instant('Bars starting before').optional(),
  limit: wholeNumber(1, 50_000).default(1000).openapi({ description: 'At most this many bars, the latest ones' }),
});

export const BarsResponseSchema = z
  .object({ symbol: z.string(), interval: z.enum(BAR_RESOLUTIONS), data: z.array(BarSchema), timings: TimingsSchema })
  .openapi('Bars');

export const CredentialsSchema = z
  .object({
    email: z.string().trim().max(254).pipe(z.email('not an email address')).openapi({ example: 'trader@example.com' }),
    password: z.string().min(12, 'at least 12 characters').max(256).openapi({ example: 'correct horse battery staple' }),
  })
  .strict()
  .openapi('Credentials');

export const RefreshSchema = z
  .object({ refresh_token: z.string().min(1).max(200) })
  .strict()
  .openapi('RefreshRequest');

export const UserSchema = z.object({ id: z.string(), email: z.string(), created_at: z.string() }).openapi('User');

export const TokenResponseSchema = z
  .object({
    user: UserSchema,
    access_token: z.string(),
    token_type: z.literal('Bearer'),
    expires_at: z.string().openapi({ description: 'When the access token expires' }),
    refresh_token: z.string(),
    refresh_expires_at: z.string(),
  })
  .openapi('Tokens');

export const ApiKeyCreateSchema = z
  .object({
    name: z.string().trim().min(1).max(100),
    scopes: z
      .array(z.enum(API_KEY_SCOPES))
      .min(1)
      .max(API_KEY_SCOPES.length)
      .default([...DEFAULT_API_KEY_SCOPES])
      .openapi({
        description:
          '`read`: REST data and universes; `stream`: the WebSocket gateway; `manage`: API key management (never granted unless asked for)',
      }),
  })
  .strict()
  .openapi('ApiKeyRequest');

export const ApiKeySchema = z
  .object({
    id: z.string(),
    name: z.string(),
    scopes: z.array(z.enum(API_KEY_SCOPES)),
    created_at: z.string(),
    last_used_at: z.string().nullable(),
    revoked_at: z.string().nullable(),
  })
  .openapi('ApiKey');

export const ApiKeyCreatedSchema = ApiKeySchema.extend({
  key: z.string().openapi({ description: 'The full key; shown once, only its hash is stored' }),
}).openapi('ApiKeyCreated');

export const ApiKeyParamSchema = z.object({
  id: z
    .string()
    .regex(/^[0-9a-f]{12}$/, 'not an API key id')
    .openapi({ param: { name: 'id', in: 'path' }, example: '0123456789ab' }),
});

export const UniverseViewSchema = z
  .object({
    key: z.string(),
    name: z.string(),
    description: z.string(),
    kind: z.enum(['universe', 'watchlist']),
    category: z.enum(['builtin', 'user']),
    count: z.number().int(),
    symbols: z.array(z.string()),
    criteria: z.record(z.string(), z.unknown()),
    created_at: z.string().nullable(),
    updated_at: z.string().nullable(),
  })
  .openapi('Universe');

export const UniverseListSchema = z.object({ data: z.array(UniverseViewSchema) }).openapi('UniverseList');

export const UniverseKeyParamSchema = z.object({
  key: z
    .string()
    .min(1)
    .max(64)
    .openapi({ param: { name: 'key', in: 'path' }, example: 'market_leaders' }),
});

export const UniversePatchSchema = z
  .object({
    name: z.string().trim().min(1).max(100).optional(),
    description: z.string().max(500).optional(),
    kind: z.enum(['universe', 'watchlist']).optional(),
    symbols: z.array(z.string().trim().toUpperCase().regex(SYMBOL_PATTERN, 'not a ticker symbol')).max(5000).optional(),
    add_symbols: z.array(z.string().trim().toUpperCase().regex(SYMBOL_PATTERN, 'not a ticker symbol')).max(5000).optional(),
    remove_symbols: z.array(z.string().trim().toUpperCase().regex(SYMBOL_PATTERN, 'not a ticker symbol')).max(5000).optional(),
    criteria: CriteriaSchema.optional(),
  })
  .strict()
  .openapi('UniversePatch');
