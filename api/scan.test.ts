import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  buildCountedScanSql,
  buildCountSql,
  buildScanSql,
  agesOf,
  canonicalJson,
  checkCursor,
  decodeCursor,
  encodeCursor,
  instantMs,
  MAX_INSTANT_MS,
  normaliseScanQuery,
  pageOf,
  parseInstant,
  parseRsiRange,
  patternView,
  queryIdentity,
  ScanInputError,
  scopeSymbols,
  withAge,
  type PatternRow,
  type ScanParameters,
} from './scan.js';

const defaults: ScanParameters = {
  timeframe: 'all',
  status: 'active',
  confidence_min: 0.5,
  sort_by: 'confidence',
  sort_order: 'desc',
  page: 1,
  per_page: 30,
};

const row = (id: string, overrides: Partial<PatternRow> = {}): PatternRow => ({
  pattern_id: id,
  pattern: 'doji',
  definition_version: 1,
  tier: 'DAILY',
  direction: 'NEUTRAL',
  symbol: 'AAPL',
  detected_at: new Date('2026-11-20T15:00:00Z'),
  expires_at: new Date('2026-11-27T15:00:00Z'),
  status: 'active',
  confidence: 0.8,
  base_confidence: '0.75',
  fundamental_adjustment: 0.05,
  fundamental_reasons: ['eps_surprise'],
  price: 190.5,
  change: null,
  change_pct: null,
  volume: '1000',
  relative_strength: 1.2,
  relative_volume: null,
  rsi: 55,
  levels: { support: 180 },
  ...overrides,
});

function thrownField(action: () => unknown): string | undefined {
  try {
    action();
  } catch (error) {
    if (error instanceof ScanInputError) return error.field;
    throw error;
  }
  return undefined;
}

describe('normaliseScanQuery', () => {
  it('gives equal queries for equal scans written differently', () => {
    const a = normaliseScanQuery(
      { ...defaults, pattern_types: ['Doji', 'hammer', 'doji'], symbols: ['msft', 'AAPL'], sectors: ['Technology'] },
      undefined,
    );
    const b = normaliseScanQuery(
      { ...defaults, pattern_types: ['hammer', 'doji'], symbols: ['AAPL', 'MSFT', 'aapl'], sectors: ['technology'] },
      undefined,
    );
    expect(canonicalJson(a)).toBe(canonicalJson(b));
    expect(a.filters.patternTypes).toEqual(['doji', 'hammer']);
    expect(a.filters.symbols).toEqual(['AAPL', 'MSFT']);
  });

  it('maps timeframes to tiers and keeps absent bounds undefined', () => {
    expect(normaliseScanQuery({ ...defaults, timeframe: 'combo' }, undefined).filters.tiers).toEqual(['COMBO']);
    const all = normaliseScanQuery(defaults, undefined).filters;
    expect(all.tiers).toEqual([]);
    expect(all.symbols).toBeUndefined();
    expect(all.rsiMin).toBeUndefined();
  });

  it('intersects symbols with the universe', () => {
    expect(normaliseScanQuery({ ...defaults, symbols: ['AAPL', 'XOM'] }, ['MSFT', 'AAPL']).filters.symbols).toEqual(['AAPL']);
    expect(normaliseScanQuery(defaults, ['MSFT', 'AAPL']).filters.symbols).toEqual(['AAPL', 'MSFT']);
  });

  it('names the bad field', () => {
    expect(thrownField(() => normaliseScanQuery({ ...defaults, rsi_range: '80,20' }, undefined))).toBe('rsi_range');
    expect(thrownField(() => normaliseScanQuery({ ...defaults, since: 'yesterday' }, undefined))).toBe('since');
    expect(thrownField(() => normaliseScanQuery({ ...defaults, since: '2026-11-02', until: '2026-11-01' }, undefined))).toBe('until');
    expect(thrownField(() => normaliseScanQuery({ ...defaults, cursor: 'garbage!' }, undefined))).toBe('cursor');
  });

  it('accepts a cursor only for the query that issued it', () => {
    const query = normaliseScanQuery(defaults, undefined);
    const cursor = encodeCursor({ value: 0.7, id: 'p9', query: queryIdentity(query.filters, 'confidence', 'desc') });
    expect(normaliseScanQuery({ ...defaults, cursor, per_page: 10 }, undefined).page.cursor).toEqual({
      value: 0.7,
      id: 'p9',
      query: expect.any(String),
    });
    expect(thrownField(() => normaliseScanQuery({ ...defaults, cursor, sort_order: 'asc' }, undefined))).toBe('cursor');
    expect(thrownField(() => normaliseScanQuery({ ...defaults, cursor, confidence_min: 0.9 }, undefined))).toBe('cursor');
  });
});

describe('cursors', () => {
  it('round-trip any value', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.double({ noNaN: true, noDefaultInfinity: true }), fc.string(), fc.constant(null)),
        fc.string(),
        fc.string(),
        (value, id, query) => {
          const decoded = decodeCursor(encodeCursor({ value, id, query }));
          expect(decoded).toEqual({ value: Object.is(value, -0) ? 0 : value, id, query });
        },
      ),
    );
  });

  it('are checked field by field against the sort they continue', () => {
    const cursor = (value: number | string | null, id = 'pat-1') => ({ value, id, query: 'q' });
    expect(checkCursor(cursor(0.5), 'confidence')).toEqual(cursor(0.5));
    expect(checkCursor(cursor(null), 'rs')).toEqual(cursor(null));
    expect(checkCursor(cursor('AAPL'), 'symbol')).toEqual(cursor('AAPL'));
    expect(checkCursor(cursor('2026-11-25T15:00:00.000Z'), 'detected_at')).toEqual(cursor('2026-11-25T15:00:00.000Z'));
    // An offset-less time is read as UTC and passed to SQL spelled in UTC, not in the session's zone.
    expect(checkCursor(cursor('2026-11-25 15:00'), 'detected_at').value).toBe('2026-11-25T15:00:00.000Z');
    const refused: [ReturnType<typeof cursor>, 'confidence' | 'detected_at' | 'symbol' | 'rs' | 'volume'][] = [
      [cursor('0.5'), 'confidence'],
      [cursor(Number.POSITIVE_INFINITY), 'volume'],
      [cursor('abc'), 'rs'],
      [cursor(12), 'detected_at'],
      [cursor('0000-01-01'), 'detected_at'],
      [cursor(null), 'detected_at'],
      [cursor(42), 'symbol'],
      [cursor('x'.repeat(201)), 'symbol'],
      [cursor('A\u0000'), 'symbol'],
      [cursor(0.5, ''), 'confidence'],
      [cursor(0.5, 'x'.repeat(201)), 'confidence'],
      [cursor(0.5, 'a\u0000b'), 'confidence'],
    ];
    for (const [bad, sortBy] of refused) expect(() => checkCursor(bad, sortBy), JSON.stringify(bad)).toThrow(ScanInputError);
  });

  it('reject what this API did not issue', () => {
    for (const text of [
      '',
      'e30',
      Buffer.from('[1,2,3]').toString('base64url'),
      Buffer.from('[{},"a","b"]').toString('base64url'),
      Buffer.from('[1,"a"]').toString('base64url'),
    ]) {
      expect(() => decodeCursor(text)).toThrow(ScanInputError);
    }
  });
});

describe('parameter parsers', () => {
  it('parse RSI ranges with open sides', () => {
    expect(parseRsiRange('30,70')).toEqual({ min: 30, max: 70 });
    expect(parseRsiRange(',70')).toEqual({ min: undefined, max: 70 });
    expect(parseRsiRange('30,')).toEqual({ min: 30, max: undefined });
    for (const bad of ['30', 'a,b', '30,170', '-5,20', '70,30']) expect(() => parseRsiRange(bad)).toThrow(ScanInputError);
  });

  it('parse instants as ISO or epoch ms', () => {
    expect(parseInstant('since', '1764000000000')).toBe(1764000000000);
    expect(parseInstant('since', '2026-11-25T14:30:00Z')).toBe(Date.parse('2026-11-25T14:30:00Z'));
    expect(() => parseInstant('since', 'Nov 25')).toThrow(ScanInputError);
    expect(() => parseInstant('since', '2026-13-45')).toThrow(ScanInputError);
  });

  it('parse instants strictly: real calendar fields, an offset or UTC, from 1970 to 9999', () => {
    expect(instantMs('2026-11-25')).toBe(Date.parse('2026-11-25T00:00:00Z'));
    expect(instantMs('2026-11-25T14:30')).toBe(Date.parse('2026-11-25T14:30:00Z'));
    expect(instantMs('2026-11-25 14:30:15.123456789z')).toBe(Date.parse('2026-11-25T14:30:15.123Z'));
    expect(instantMs('2026-11-25T14:30:00+0530')).toBe(Date.parse('2026-11-25T09:00:00Z'));
    expect(instantMs('2026-11-25T14:30:00-05:00')).toBe(Date.parse('2026-11-25T19:30:00Z'));
    expect(instantMs('2024-02-29')).toBe(Date.parse('2024-02-29T00:00:00Z'));
    expect(instantMs('2000-02-29')).toBe(Date.parse('2000-02-29T00:00:00Z'));
    expect(instantMs('0')).toBe(0);
    expect(instantMs('1970-01-01T00:00:00Z')).toBe(0);
    expect(instantMs('9999-12-31T23:59:59.999Z')).toBe(MAX_INSTANT_MS);
    expect(instantMs(String(MAX_INSTANT_MS))).toBe(MAX_INSTANT_MS);
    for (const bad of [
      '',
      ' 2026-11-25',
      '2026-02-30',
      '2026-02-29',
      '1900-02-29',
      '2026-13-01',
      '2026-00-10',
      '2026-11-00',
      '2026-11-25T24:00',
      '2026-11-25T23:60',
      '2026-11-25T23:59:60Z',
      '2026-11-25T10:00+24:00',
      '2026-11-25T10:00+05:60',
      '0000-01-01',
      '0000-01-01T00:00Z',
      '1969-12-31T23:59:59Z',
      '999999999999999',
      String(MAX_INSTANT_MS + 1),
      '12345678901234567',
      '-1',
      '0x10',
      '1e3',
      'Nov 25 2026',
      '2026-11-25T10',
      '2026-11-25T10:00:00.Z',
      '+002026-11-25',
    ]) {
      expect(instantMs(bad), bad).toBeUndefined();
      expect(() => parseInstant('since', bad)).toThrow(ScanInputError);
    }
  });

  it('parse whatever Date writes in the range, back to the same instant', () => {
    fc.assert(
      fc.property(fc.date({ min: new Date(0), max: new Date(MAX_INSTANT_MS), noInvalidDate: true }), (date) => {
        expect(instantMs(date.toISOString())).toBe(date.getTime());
        expect(instantMs(String(date.getTime()))).toBe(date.getTime());
      }),
    );
  });

  it('scope symbols', () => {
    expect(scopeSymbols(undefined, undefined)).toBeUndefined();
    expect(scopeSymbols([' aapl ', 'AAPL', ''], undefined)).toEqual(['AAPL']);
    expect(scopeSymbols(['XOM'], ['AAPL'])).toEqual([]);
  });
});

describe('SQL', () => {
  const query = (overrides: Partial<ScanParameters>, universe?: string[]) => normaliseScanQuery({ ...defaults, ...overrides }, universe);

  it('binds every filter as a parameter, never as text', () => {
    const sql = buildScanSql(
      query({
        pattern_types: ["x'; drop table users; --"],
        symbols: ['AAPL'],
        sectors: ['Tech'],
        timeframe: 'daily',
        rs_min: 1.1,
        vol_min: 1.5,
        rsi_range: '30,70',
        since: '2026-11-01T00:00:00Z',
        until: '2026-11-02T00:00:00Z',
      }),
    );
    expect(sql.text).not.toContain('drop table');
    expect(sql.values).toContain("x'; drop table users; --");
    expect(sql.text).toContain('p.pattern = $');
    expect(sql.text).toContain('p.tier = $');
    const two = buildScanSql(query({ pattern_types: ['doji', 'hammer'], timeframe: 'all' }));
    expect(two.text).toContain('p.pattern = ANY($');
    expect(two.values).toContainEqual(['doji', 'hammer']);
    const tiers = query({});
    expect(buildScanSql({ ...tiers, filters: { ...tiers.filters, tiers: ['COMBO', 'DAILY'] } }).text).toContain('p.tier = ANY($');
    expect(sql.text).toContain("p.status = 'active'");
    expect(sql.text).toMatch(/ORDER BY p\.confidence DESC, p\.pattern_id DESC LIMIT \$\d+$/);
    expect(sql.values.at(-1)).toBe(31);
  });

  it('filters first, then sorts, when asked to', () => {
    const first = query({ pattern_types: ['doji'] });
    const cursor = encodeCursor({ value: 0.7, id: 'p9', query: queryIdentity(first.filters, 'confidence', 'desc') });
    const sql = buildScanSql(query({ pattern_types: ['doji'], cursor }), { filterFirst: true });
    expect(sql.text).toMatch(
      /^SELECT p\.\* FROM \(SELECT .* FROM patterns p WHERE .*p\.pattern = \$\d+::text AND \(p\.confidence, p\.pattern_id\) < .* OFFSET 0\) p ORDER BY /,
    );
    expect(buildScanSql(query({ status: 'all', confidence_min: 0 }), { filterFirst: true }).text).toContain(
      'FROM patterns p OFFSET 0) p ORDER BY',
    );
  });

  it("filters by definition version only when asked, leaving other scans' canonical form unchanged", () => {
    const versions = query({ definition_version: [3, 2, 3] });
    expect(versions.filters.definitionVersions).toEqual([2, 3]);
    const sql = buildScanSql(versions);
    expect(sql.text).toContain('p.definition_version = ANY($');
    expect(sql.values).toContainEqual([2, 3]);
    expect(query({ definition_version: [] }).filters).toEqual(query({}).filters);
    expect(JSON.stringify(query({}).filters)).not.toContain('definitionVersions');
  });

  it('filters by direction only when asked: any case, sorted, unique; naming every direction is no filter', () => {
    const bearish = query({ direction: ['bearish', 'BEARISH', 'Neutral'] });
    expect(bearish.filters.directions).toEqual(['BEARISH', 'NEUTRAL']);
    const sql = buildScanSql(bearish);
    expect(sql.text).toContain('p.direction = ANY($');
    expect(sql.values).toContainEqual(['BEARISH', 'NEUTRAL']);
    expect(query({ direction: ['neutral', 'bearish'] }).filters).toEqual(bearish.filters);
    expect(canonicalJson(query({ direction: ['bullish', 'bearish', 'neutral'] }).filters)).toBe(canonicalJson(query({}).filters));
    expect(JSON.stringify(query({}).filters)).not.toContain('directions');
    expect(() => query({ direction: ['sideways'] })).toThrow(expect.objectContaining({ name: 'ScanInputError', field: 'direction' }));
  });

  it('bounds relative strength and relative volume from above, inclusive, and refuses a maximum below its minimum', () => {
    const bounded = query({ rs_min: 1, rs_max: 1.5, vol_min: 0.5, vol_max: 2 });
    expect(bounded.filters).toMatchObject({ rsMin: 1, rsMax: 1.5, relativeVolumeMin: 0.5, relativeVolumeMax: 2 });
    const sql = buildScanSql(bounded);
    expect(sql.text).toContain('p.relative_strength <= $');
    expect(sql.text).toContain('p.relative_volume <= $');
    expect(sql.values).toEqual(expect.arrayContaining([1.5, 2]));
    expect(query({ rs_min: 1, rs_max: 1 }).filters.rsMax).toBe(1);
    expect(JSON.stringify(query({}).filters)).not.toMatch(/rsMax|relativeVolumeMax/);
    for (const [overrides, field] of [
      [{ rs_min: 2, rs_max: 1 }, 'rs_max'],
      [{ vol_min: 2, vol_max: 1.5 }, 'vol_max'],
    ] as const) {
      expect(() => query(overrides)).toThrow(expect.objectContaining({ field }));
    }
  });

  it('with late lookup, finds the page ids from the index alone, then reads only those rows', () => {
    const late = buildScanSql(query({ pattern_types: ['doji'], sort_by: 'rs', page: 2 }), { lateLookup: true });
    expect(late.text).toMatch(
      /^SELECT p\.pattern_id, .* FROM \(SELECT p\.pattern_id FROM patterns p WHERE .* LIMIT \$\d+ OFFSET \$\d+\) page JOIN patterns p ON p\.pattern_id = page\.pattern_id ORDER BY p\.relative_strength DESC NULLS LAST, p\.pattern_id DESC$/,
    );
    const first = buildScanSql(query({ pattern_types: ['doji'] }), { lateLookup: true, filterFirst: true });
    expect(first.text).toContain('(SELECT p.pattern_id FROM (SELECT p.pattern_id, p.confidence FROM patterns p WHERE');
    expect(first.text).toContain(' OFFSET 0) p ORDER BY');
  });

  it("puts the capped count and the page in one statement, the count's parameters after the page's", () => {
    const scan = query({ pattern_types: ['doji'], sort_by: 'rs', confidence_min: 0.7 });
    const both = buildCountedScanSql(scan, 100, { filterFirst: true, lateLookup: true });
    const page = buildScanSql(scan, { filterFirst: true, lateLookup: true, onlyIf: 'counted.total > 0' });
    const count = buildCountSql(scan.filters, 100);
    expect(both.values).toEqual([...page.values, ...count.values]);
    expect(both.values.at(-1)).toBe(101);
    // This filter's count comes from the bucket table (its own bucket counted from the index).
    const shifted = count.text.replace(/\$(\d+)/g, (_, n: string) => `$${Number(n) + page.values.length}`);
    expect(count.text).toContain(
      'FROM pattern_active_counts c WHERE c.bucket > tf_pattern_count_bucket($3::float8) AND c.pattern = ANY($4::text[])',
    );
    expect(count.text).toContain(
      "SELECT 1 FROM patterns p WHERE p.status = 'active' AND p.confidence >= $1 AND p.pattern = $2::text AND p.confidence <= (tf_pattern_count_bucket($3::float8) + 1) / 100.0 + 1e-9",
    );
    expect(both.text).toContain(
      `SELECT counted.total AS matched_total, p.* FROM (${shifted}) counted LEFT JOIN LATERAL (${page.text}) p ON true`,
    );
    // Other filters count index entries, up to the cap.
    const bySector = buildCountSql({ ...scan.filters, sectors: ['technology'] }, 100);
    expect(bySector.text).toMatch(/^SELECT count\(\*\)::int AS total FROM \(SELECT 1 FROM patterns p WHERE .* LIMIT \$4\) matched$/);
    expect(bySector.values.at(-1)).toBe(101);
    expect(both.text).toMatch(/\) p ON true ORDER BY p\.relative_strength DESC NULLS LAST, p\.pattern_id DESC$/);
    // With no match the page query is skipped (a one-time filter in the matching query).
    expect(page.text).toContain('p.pattern = $2::text AND counted.total > 0 OFFSET 0) p ORDER BY');
    const gated = buildCountedScanSql(query({ sort_by: 'volume' }), 100, { lateLookup: true, onlyIf: 'counted.total > 100' });
    expect(gated.text).toContain('p.confidence >= $1 AND counted.total > 100 ORDER BY p.volume DESC, p.pattern_id DESC LIMIT $2');
    const walk = buildCountedScanSql(query({ pattern_types: ['doji'], sort_by: 'volume' }), 100, { lateLookup: true });
    expect(walk.text).toContain('p.pattern = $2::text AND counted.total > 0 ORDER BY p.volume DESC, p.pattern_id DESC LIMIT $3');
  });

  it('pages by offset without a cursor and by keyset with one', () => {
    const offset = buildScanSql(query({ page: 3, per_page: 10 }));
    expect(offset.text).toMatch(/OFFSET \$\d+$/);
    expect(offset.values.at(-1)).toBe(20);
    const first = query({});
    const cursor = encodeCursor({ value: 0.7, id: 'p9', query: queryIdentity(first.filters, 'confidence', 'desc') });
    const keyset = buildScanSql(query({ cursor, page: 3 }));
    expect(keyset.text).toContain('(p.confidence, p.pattern_id) < ($');
    expect(keyset.text).not.toContain('OFFSET');
  });

  it('spells out NULL ordering for relative strength', () => {
    const base = query({ sort_by: 'rs' });
    const identity = (order: 'asc' | 'desc') => queryIdentity(base.filters, 'rs', order);
    const desc = buildScanSql(query({ sort_by: 'rs', cursor: encodeCursor({ value: 1.2, id: 'a', query: identity('desc') }) }));
    expect(desc.text).toContain('NULLS LAST');
    expect(desc.text).toContain('OR p.relative_strength IS NULL');
    const descNull = buildScanSql(query({ sort_by: 'rs', cursor: encodeCursor({ value: null, id: 'a', query: identity('desc') }) }));
    expect(descNull.text).toContain('p.relative_strength IS NULL AND p.pattern_id <');
    const ascNull = buildScanSql(
      query({ sort_by: 'rs', sort_order: 'asc', cursor: encodeCursor({ value: null, id: 'a', query: identity('asc') }) }),
    );
    expect(ascNull.text).toContain('NULLS FIRST');
    expect(ascNull.text).toContain('OR p.relative_strength IS NOT NULL');
  });

  it('sorts by symbol with the pattern id as tie-break in the same direction', () => {
    const base = query({ sort_by: 'symbol' });
    const asc = buildScanSql(
      query({
        sort_by: 'symbol',
        sort_order: 'asc',
        cursor: encodeCursor({ value: 'MSFT', id: 'p5', query: queryIdentity(base.filters, 'symbol', 'asc') }),
      }),
    );
    expect(asc.text).toContain('ORDER BY p.symbol ASC, p.pattern_id ASC');
    expect(asc.text).toContain('(p.symbol, p.pattern_id) > ($');
  });

  it('rejects a null cursor value on a non-nullable sort', () => {
    const base = query({});
    expect(() =>
      buildScanSql(query({ cursor: encodeCursor({ value: null, id: 'a', query: queryIdentity(base.filters, 'confidence', 'desc') }) })),
    ).toThrow(ScanInputError);
  });

  it('caps the count', () => {
    const count = buildCountSql(query({ status: 'all', confidence_min: 0 }).filters, 1000);
    expect(count.text).toContain('LIMIT $1');
    expect(count.text).not.toContain('WHERE');
    expect(count.values).toEqual([1001]);
  });
});

describe('views and pages', () => {
  it('converts pg rows to numbers and ISO strings', () => {
    const view = patternView(row('p1'));
    expect(view.base_confidence).toBe(0.75);
    expect(view.volume).toBe(1000);
    expect(view.change).toBeNull();
    expect(view.detected_at).toBe('2026-11-20T15:00:00.000Z');
    expect(patternView(row('p2', { levels: null, fundamental_reasons: null, detected_at: '2026-11-20T15:00:00Z' })).levels).toEqual({});
  });

  it('cuts the extra row into a next cursor', () => {
    const q = normaliseScanQuery({ ...defaults, per_page: 2, sort_by: 'detected_at' }, undefined);
    const rows = ['a', 'b', 'c'].map((id) => patternView(row(id)));
    const { items, nextCursor } = pageOf(rows, q);
    expect(items.map((item) => item.id)).toEqual(['a', 'b']);
    expect(decodeCursor(nextCursor!)).toMatchObject({ value: '2026-11-20T15:00:00.000Z', id: 'b' });
    expect(pageOf(rows.slice(0, 2), q).nextCursor).toBeUndefined();
  });

  it('computes age and time to expiry at response time', () => {
    // Measured against the market clock: an active pattern whose expiry that clock has passed expires in 0 s (its
    // partition has not expired it yet); an expired one shows how long ago.
    expect(agesOf([0, 10_000], 60_000, true)).toEqual({ age_seconds: 60, expires_in_seconds: 0 });
    expect(agesOf([0, 10_000], 60_000)).toEqual({ age_seconds: 60, expires_in_seconds: -50 });
    expect(withAge(patternView(row('z', { status: 'active' })), Date.parse('2026-11-28T15:00:00Z')).expires_in_seconds).toBe(0);
    expect(withAge(patternView(row('z', { status: 'expired' })), Date.parse('2026-11-28T15:00:00Z')).expires_in_seconds).toBe(-86400);
    const aged = withAge(patternView(row('a')), Date.parse('2026-11-20T16:00:00Z'));
    expect(aged.age_seconds).toBe(3600);
    expect(aged.expires_in_seconds).toBe(7 * 86400 - 3600);
  });
});
