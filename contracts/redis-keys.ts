/**
 * The Redis contract of the read model: pure key builders, shared by the projector (writer) and the API cache
 * (reader). Every key lives under `<prefix>tf:v1:`; bump the version segment when a value's shape changes,
 * so old and new readers never misread each other. The prefix isolates tests and tenants.
 */
const REDIS_SCHEMA_VERSION = 'v1';

/** Name of the Redis read model as a projection: its offsets hash (`offsets(REDIS_PROJECTION)`) and version counter. */
export const REDIS_PROJECTION = 'redis';

/** Tiers as they appear in keys (the Avro enum, lower-cased). */
export type TierKey = 'intraday' | 'daily' | 'combo';

/** What a sorted set of active patterns is scored by. */
export type ScanSort = 'confidence' | 'detected_at';

/** Which active patterns a scan set holds: all of them, one pattern type, one tier, or one type within a tier. */
export type ScanScope =
  | { readonly kind: 'all' }
  | { readonly kind: 'pattern'; readonly pattern: string }
  | { readonly kind: 'tier'; readonly tier: TierKey }
  | { readonly kind: 'pattern-tier'; readonly pattern: string; readonly tier: TierKey };

/** The notice published on `channel()` after every applied batch. */
export interface ProjectionNotice {
  /** Which projection advanced, e.g. `db.patterns`, `db.bars`, `redis`. */
  readonly projection: string;
  /** The projection's version counter after the batch (monotonic per projection). */
  readonly version: number;
  /** Symbols whose data changed in the batch (their per-symbol versions were bumped). */
  readonly symbols: readonly string[];
  /** True when the global patterns version was bumped (any scan result may have changed). */
  readonly patternsChanged: boolean;
  /**
   * The pattern scopes (see pattern-scopes.ts) whose versions the batch bumped; absent when the announcer gave
   * no detail, in which case the unscoped patterns version was bumped instead.
   */
  readonly scopes?: readonly string[];
}

/** How many recent events per symbol `symbolEvents` keeps. */
export const LATEST_EVENTS_PER_SYMBOL = 50;

export interface RedisKeys {
  readonly root: string;
  /** Hash-free JSON string: the current state of one pattern (as in the `patterns` table). */
  pattern(patternId: string): string;
  /** Sorted set of a symbol's latest pattern events (member: event JSON, score: detected-at ms), capped. */
  symbolEvents(symbol: string): string;
  /** Sorted set of active pattern ids in a scope, scored by confidence or detected-at ms. */
  scan(scope: ScanScope, sort: ScanSort): string;
  /** Every scan key a pattern of this type and tier belongs to (for writes and removals). */
  scanKeysFor(pattern: string, tier: TierKey): string[];
  /** Hash: the symbol's last minute bar and day change. */
  snapshot(symbol: string): string;
  /** Version counter of everything pattern-related (any scan). */
  patternsVersion(): string;
  /** Version counter of the patterns in one scope (pattern-scopes.ts): bumped when a changed pattern's new state falls in it. */
  patternScopeVersion(scope: string): string;
  /** Version counter bumped by pattern announcements that name no scopes: every scope-dependent entry depends on it. */
  patternsUnscopedVersion(): string;
  /** Version counter of one symbol's data (its patterns, events and snapshot). */
  symbolVersion(symbol: string): string;
  /** Version counter of a projection (returned in the notice). */
  projectionVersion(projection: string): string;
  /** Hash `<topic>:<partition>` -> next offset, the Redis projection's own progress. */
  offsets(projection: string): string;
  /** Pub/sub channel of ProjectionNotice JSON messages. */
  channel(): string;
}

/** Symbols and pattern names are free text; keep keys readable yet unambiguous by escaping the separator. */
function part(value: string): string {
  return value.replace(/%/g, '%25').replace(/:/g, '%3A');
}

function scopePart(scope: ScanScope): string {
  switch (scope.kind) {
    case 'all':
      return 'all';
    case 'pattern':
      return `pattern:${part(scope.pattern)}`;
    case 'tier':
      return `tier:${scope.tier}`;
    case 'pattern-tier':
      return `pattern:${part(scope.pattern)}:tier:${scope.tier}`;
  }
}

export function tierKey(tier: string): TierKey {
  const lower = tier.toLowerCase();
  if (lower === 'intraday' || lower === 'daily' || lower === 'combo') return lower;
  throw new RangeError(`unknown pattern tier ${tier}`);
}

/** Key builders under `<prefix>tf:v1:`; `prefix` is empty in production and unique per test. */
export function redisKeys(prefix = ''): RedisKeys {
  const root = `${prefix}tf:${REDIS_SCHEMA_VERSION}:`;
  const scan = (scope: ScanScope, sort: ScanSort) => `${root}scan:${sort}:${scopePart(scope)}`;
  return {
    root,
    pattern: (patternId) => `${root}pattern:${part(patternId)}`,
    symbolEvents: (symbol) => `${root}symbol:${part(symbol)}:events`,
    scan,
    scanKeysFor: (pattern, tier) => {
      const scopes: ScanScope[] = [
        { kind: 'all' },
        { kind: 'pattern', pattern },
        { kind: 'tier', tier },
        { kind: 'pattern-tier', pattern, tier },
      ];
      return scopes.flatMap((scope) => [scan(scope, 'confidence'), scan(scope, 'detected_at')]);
    },
    snapshot: (symbol) => `${root}symbol:${part(symbol)}:snapshot`,
    patternsVersion: () => `${root}version:patterns`,
    patternScopeVersion: (scope) => `${root}version:patterns:scope:${part(scope)}`,
    patternsUnscopedVersion: () => `${root}version:patterns:unscoped`,
    symbolVersion: (symbol) => `${root}version:symbol:${part(symbol)}`,
    projectionVersion: (projection) => `${root}version:projection:${part(projection)}`,
    offsets: (projection) => `${root}offsets:${part(projection)}`,
    channel: () => `${root}projections`,
  };
}

/** Parses a notice received on the channel; throws on anything else. */
export function parseProjectionNotice(message: string): ProjectionNotice {
  const value: unknown = JSON.parse(message);
  if (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as ProjectionNotice).projection === 'string' &&
    typeof (value as ProjectionNotice).version === 'number' &&
    Array.isArray((value as ProjectionNotice).symbols) &&
    (value as ProjectionNotice).symbols.every((symbol) => typeof symbol === 'string')
  ) {
    const notice = value as ProjectionNotice;
    const scopes =
      Array.isArray(notice.scopes) && notice.scopes.every((scope) => typeof scope === 'string') ? { scopes: notice.scopes } : {};
    return {
      projection: notice.projection,
      version: notice.version,
      symbols: notice.symbols,
      patternsChanged: notice.patternsChanged === true,
      ...scopes,
    };
  }
  throw new TypeError(`not a projection notice: ${message.slice(0, 200)}`);
}
