import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RETAINED_RELATIONS } from '../store/retention.js';
import {
  acceptsTombstones,
  applySql,
  barRow,
  copyField,
  copyLine,
  copySql,
  fundamentalsRow,
  isDbProjectionName,
  patternEventRow,
  planBatch,
  RejectedValueError,
  rowTimeSpan,
  patternChangeOf,
  rowFor,
  stagedLine,
  stagingDdl,
  symbolRow,
  tableForTopic,
  DB_PROJECTIONS,
  TABLES,
  tombstoneRow,
  topicMap,
} from './core.js';
import { bar, fundamentals, patternEvents, symbolReference } from '../test/record-fixtures.js';

/** Decodes one field of COPY text format (the inverse of copyField for strings), as PostgreSQL does. */
function unescapeCopy(field: string): string {
  return field.replace(/\\(.)/g, (_, character: string) => ({ n: '\n', r: '\r', t: '\t' })[character as 'n'] ?? character);
}

describe('COPY text encoding', () => {
  it('encodes nulls, numbers, booleans, arrays and JSON', () => {
    expect(copyField(null)).toBe('\\N');
    expect(copyField(1.5)).toBe('1.5');
    expect(copyField(Number.NaN)).toBe('NaN');
    expect(copyField(Infinity)).toBe('Infinity');
    expect(copyField(-Infinity)).toBe('-Infinity');
    expect(copyField(true)).toBe('t');
    expect(copyField(false)).toBe('f');
    expect(copyField(['a', 'b"c', 'd\\e'])).toBe('{"a","b\\\\"c","d\\\\\\\\e"}');
    expect(copyField({ stop: 1.25 })).toBe('{"stop":1.25}');
    expect(copyLine(['x', null, 2])).toBe('x\t\\N\t2\n');
  });

  it('round-trips any string through the escaping, with no raw tab or newline left', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (text) => {
        const field = copyField(text);
        expect(field).not.toMatch(/[\t\n\r]/);
        expect(unescapeCopy(field)).toBe(text);
      }),
    );
  });

  it('appends the offset and the tombstone flag to staged lines', () => {
    expect(stagedLine(['AAPL'], 7)).toBe('AAPL\t7\tf\n');
    expect(stagedLine(['AAPL'], 8, true)).toBe('AAPL\t8\tt\n');
  });
});

describe('rows', () => {
  const position = { topic: 'patterns.events.v1', partition: 2, offset: 41 };

  it('maps a pattern event to the pattern_events columns, with its Kafka position', () => {
    const event = patternEvents(1, 3)[0]!;
    const row = patternEventRow(event, position);
    expect(row).toHaveLength(TABLES.pattern_events.columns.length);
    expect(row[0]).toBe(event.eventId);
    expect(row[8]).toBe(new Date(event.detectedAtMs).toISOString());
    expect(row.slice(-3)).toEqual(['patterns.events.v1', 2, 41]);
    expect(rowFor('patterns', event, position)).toEqual(row);
  });

  it('reads back the state a pattern event gives its pattern (tier, sort values, detection time)', () => {
    const event = patternEvents(1, 3)[0]!;
    expect(patternChangeOf(patternEventRow(event, position))).toEqual({
      tier: event.tier,
      confidence: event.confidence,
      relativeStrength: event.relativeStrength,
      volume: event.volume,
      detectedAt: event.detectedAtMs,
    });
  });

  it('refuses values no table can hold', () => {
    const event = patternEvents(1, 3)[0]!;
    expect(() => patternEventRow({ ...event, detectedAtMs: 8.64e15 + 1 }, position)).toThrow(RejectedValueError);
    expect(() => patternEventRow({ ...event, eventId: '' }, position)).toThrow(/eventId is empty/);
    const minute = bar('AAPL', 'MINUTE', Date.UTC(2026, 0, 2, 15), 60_000, 10, 11, 100);
    expect(() => barRow(minute, 'DAY')).toThrow(/a MINUTE bar on the DAY topic/);
    expect(() => barRow({ ...minute, low: 20 }, 'MINUTE')).toThrow(/low 20 above high/);
    expect(() => symbolRow(symbolReference('AAPL', { listDate: '12/12/1980' }))).toThrow(/not a YYYY-MM-DD date/);
    expect(() => fundamentalsRow(fundamentals('AAPL', { asOfDate: '2026-13-45' }))).toThrow(RejectedValueError);
  });

  it('refuses what PostgreSQL would refuse mid-COPY (stopping the projection) or what is not data (issue 18 siblings)', () => {
    const event = patternEvents(1, 3)[0]!;
    const minute = bar('AAPL', 'MINUTE', Date.UTC(2026, 0, 2, 15), 60_000, 10, 11, 100);
    // A bar stamped in microseconds: a valid JS Date (year 57,000) that PostgreSQL refuses.
    expect(() => barRow({ ...minute, windowStartMs: minute.windowStartMs * 1000 }, 'MINUTE')).toThrow(
      /windowStartMs is not a valid time: is after 2200/,
    );
    expect(() => barRow({ ...minute, windowStartMs: -1 }, 'MINUTE')).toThrow(/before 1970/);
    expect(() => patternEventRow({ ...event, expiresAtMs: event.expiresAtMs * 1000 }, position)).toThrow(/expiresAtMs/);
    expect(() => patternEventRow({ ...event, confidence: Number.NaN }, position)).toThrow(/confidence is not a finite number/);
    expect(() => barRow({ ...minute, close: Number.NaN }, 'MINUTE')).toThrow(/close is not a finite number/);
    expect(() => barRow({ ...minute, volume: -1 }, 'MINUTE')).toThrow(/volume -1 is negative/);
    expect(() => symbolRow(symbolReference('AAPL', { listDate: '2026-02-30' }))).toThrow(/not a YYYY-MM-DD date/);
    expect(() => symbolRow(symbolReference('AAPL', { listDate: '0000-01-01' }))).toThrow(/not a YYYY-MM-DD date/);
    expect(symbolRow(symbolReference('IBM', { listDate: '1915-06-16' }))[16]).toBe('1915-06-16');
    expect(() => rowFor('minuteAggregates', { ...minute, symbol: 'AA\u0000PL' }, position)).toThrow(/NUL character/);
    expect(() => rowFor('patterns', { ...event, fundamentalReasons: ['a\u0000'] }, position)).toThrow(/NUL character/);
    expect(() => rowFor('symbols', symbolReference('AAPL', { name: 'Apple\u0000' }), position)).toThrow(RejectedValueError);
  });

  it('maps bars, symbols and fundamentals', () => {
    const daily = bar('AAPL', 'DAY', Date.UTC(2026, 0, 2, 5), 86_400_000, 10, 11, 100);
    expect(rowFor('dailyAggregates', daily, position)).toEqual(['AAPL', '2026-01-02T05:00:00.000Z', 10, 11.1, 9.9, 11, 100, 10.5, 1]);
    expect(rowFor('minuteAggregates', { ...daily, interval: 'MINUTE' }, position)[0]).toBe('AAPL');
    expect(rowFor('symbols', symbolReference('MSFT'), position)).toHaveLength(TABLES.symbols.columns.length);
    expect(rowFor('fundamentals', fundamentals('MSFT'), position)).toHaveLength(TABLES.fundamentals.columns.length);
    expect(() => rowFor('trades', {}, position)).toThrow(/no table is projected from topic trades/);
  });

  it('knows which topics feed which tables and which accept tombstones', () => {
    expect(tableForTopic('patterns')).toBe('pattern_events');
    expect(tableForTopic('minuteAggregates')).toBe('bars_1m');
    expect(tableForTopic('dailyAggregates')).toBe('bars_1d');
    expect(tableForTopic('symbols')).toBe('symbols');
    expect(tableForTopic('fundamentals')).toBe('fundamentals');
    expect(() => tableForTopic('quotes')).toThrow(RangeError);
    // The retention of the time-series tables (store/retention.ts) names the very topic each is projected from.
    for (const [relation, topic] of Object.entries(RETAINED_RELATIONS)) {
      if (relation in TABLES) expect(tableForTopic(topic)).toBe(relation);
    }
    for (const projection of Object.values(DB_PROJECTIONS))
      for (const view of projection.views) expect(projection.topics).toContain(RETAINED_RELATIONS[view]);
    expect(acceptsTombstones('symbols')).toBe(true);
    expect(acceptsTombstones('patterns')).toBe(false);
    expect(tombstoneRow('symbols', 'GONE')).toEqual(['GONE', ...Array(TABLES.symbols.columns.length - 1).fill(null)]);
    expect(isDbProjectionName('bars')).toBe(true);
    expect(isDbProjectionName('redis')).toBe(false);
    expect([...topicMap(['patterns'], 'x.')]).toEqual([['x.patterns.events.v1', 'patterns']]);
  });
});

describe('SQL', () => {
  it('stages into a per-connection temp table emptied at commit', () => {
    expect(stagingDdl('bars_1m')).toMatch(
      /^CREATE TEMP TABLE IF NOT EXISTS "tf_stage_bars_1m" \("symbol" text, "bucket" timestamptz, .* _offset bigint NOT NULL, _deleted boolean NOT NULL DEFAULT false\) ON COMMIT DELETE ROWS$/,
    );
    expect(copySql('symbols')).toMatch(/^COPY "tf_stage_symbols" \("ticker", .*"updated_at", _offset, _deleted\) FROM STDIN$/);
  });

  it('upserts the latest row per key, deleting tombstoned reference rows first', () => {
    const [remove, upsert] = applySql('symbols');
    expect(remove).toMatch(
      /^DELETE FROM "symbols" t USING \(SELECT DISTINCT ON \("ticker"\) \* FROM "tf_stage_symbols" ORDER BY "ticker", _offset DESC\) l WHERE l._deleted/,
    );
    expect(upsert).toMatch(/ON CONFLICT \("ticker"\) DO UPDATE SET "name" = EXCLUDED."name"/);
    const bars = applySql('bars_1m', '__rebuild');
    expect(bars).toHaveLength(1);
    expect(bars[0]).toMatch(/^INSERT INTO "bars_1m__rebuild"/);
    expect(bars[0]).toMatch(/ON CONFLICT \("symbol", "bucket"\)/);
  });

  it('appends events and moves the current pattern state forward in log order only', () => {
    const [events, current] = applySql('pattern_events');
    expect(events).toMatch(/^INSERT INTO "pattern_events" .* ON CONFLICT DO NOTHING$/);
    expect(current).toMatch(/SELECT DISTINCT ON \("pattern_id"\)/);
    expect(current).toMatch(/CASE WHEN "kind" = 'EXPIRED' THEN 'expired' ELSE 'active' END/);
    expect(current).toMatch(/"patterns"."kafka_offset" < EXCLUDED."kafka_offset"/);
    expect(() => applySql('bars_1m', '; DROP TABLE x')).toThrow(/not a plain SQL identifier/);
  });
});

describe('planBatch', () => {
  it('applies everything when nothing is stored yet', () => {
    expect(planBatch({ stored: undefined, believed: undefined, firstOffset: 0, lastOffset: 9 })).toEqual({
      action: 'apply',
      from: 0,
      nextOffset: 10,
    });
  });

  it('skips what is already applied (a redelivered batch)', () => {
    expect(planBatch({ stored: 5, believed: 5, firstOffset: 0, lastOffset: 9 })).toEqual({ action: 'apply', from: 5, nextOffset: 10 });
    expect(planBatch({ stored: 12, believed: undefined, firstOffset: 0, lastOffset: 9 })).toEqual({
      action: 'apply',
      from: 12,
      nextOffset: 12,
    });
  });

  it('accepts compaction and retention gaps', () => {
    expect(planBatch({ stored: 5, believed: 5, firstOffset: 9, lastOffset: 12 })).toEqual({ action: 'apply', from: 9, nextOffset: 13 });
  });

  it('seeks when the stored offset moved under the consumer (a swap, another instance)', () => {
    expect(planBatch({ stored: 3, believed: 8, firstOffset: 8, lastOffset: 9 })).toEqual({ action: 'seek', offset: 3 });
    expect(planBatch({ stored: 20, believed: 8, firstOffset: 8, lastOffset: 9 })).toEqual({ action: 'seek', offset: 20 });
  });

  it('reads again from the start when the stored progress vanished (commits lost in a server crash)', () => {
    expect(planBatch({ stored: undefined, believed: 8, firstOffset: 8, lastOffset: 9 })).toEqual({ action: 'seek', offset: 0 });
    // After that seek the consumer believes 0: the batch from the log start applies.
    expect(planBatch({ stored: undefined, believed: 0, firstOffset: 0, lastOffset: 9 })).toEqual({
      action: 'apply',
      from: 0,
      nextOffset: 10,
    });
    expect(planBatch({ stored: undefined, believed: 0, firstOffset: 4, lastOffset: 9 })).toEqual({
      action: 'apply',
      from: 4,
      nextOffset: 10,
    });
  });

  it('never stores an offset below the stored one and never applies a message twice (property)', () => {
    fc.assert(
      fc.property(fc.option(fc.nat(1000), { nil: undefined }), fc.nat(1000), fc.nat(100), (stored, firstOffset, length) => {
        const plan = planBatch({ stored, believed: stored, firstOffset, lastOffset: firstOffset + length });
        expect(plan.action).toBe('apply');
        if (plan.action !== 'apply') return;
        expect(plan.nextOffset).toBeGreaterThanOrEqual(stored ?? 0);
        expect(plan.from).toBeGreaterThanOrEqual(stored ?? 0);
        expect(plan.nextOffset).toBeGreaterThanOrEqual(Math.min(plan.from, firstOffset + length + 1));
      }),
    );
  });
});

describe('rowTimeSpan', () => {
  it("spans the rows' time column: bars by bucket, pattern events by detection time; none for reference data", () => {
    const start = Date.UTC(2026, 10, 24, 14, 30);
    const bars = [bar('AAPL', 'MINUTE', start + 120_000, 60_000, 1, 2, 3), bar('MSFT', 'MINUTE', start, 60_000, 1, 2, 3)];
    expect(
      rowTimeSpan(
        'bars_1m',
        bars.map((value) => barRow(value, 'MINUTE')),
      ),
    ).toEqual({ earliestMs: start, latestMs: start + 120_000 });
    const [event] = patternEvents(1, 3);
    expect(rowTimeSpan('pattern_events', [patternEventRow(event!, { topic: 't', partition: 0, offset: 0 })])).toEqual({
      earliestMs: event!.detectedAtMs,
      latestMs: event!.detectedAtMs,
    });
    expect(rowTimeSpan('symbols', [symbolRow(symbolReference('AAPL'))])).toBeUndefined();
    expect(rowTimeSpan('bars_1m', [])).toBeUndefined();
  });
});
