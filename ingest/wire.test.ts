import { describe, expect, it } from 'vitest';
import { isStatusItem, normaliseItem, parseFrame, toMillis } from './wire.js';

const NOW = 1_700_000_000_000;

describe('parseFrame', () => {
  it('accepts a JSON array and rejects anything else with a reason', () => {
    expect(parseFrame('[{"ev":"T"}]')).toEqual({ ok: true, items: [{ ev: 'T' }] });
    expect(parseFrame('{"ev":"T"}')).toEqual({ ok: false, reason: 'frame is not a JSON array' });
    const garbage = parseFrame('[{"ev":');
    expect(garbage.ok).toBe(false);
    if (!garbage.ok) expect(garbage.reason).toMatch(/not JSON/);
  });

  it('recognises status items', () => {
    expect(isStatusItem({ ev: 'status', status: 'connected' })).toBe(true);
    expect(isStatusItem({ ev: 'T' })).toBe(false);
    expect(isStatusItem(null)).toBe(false);
  });
});

describe('toMillis', () => {
  it('normalises ns, µs and ms by magnitude', () => {
    expect(toMillis(1_700_000_000_123)).toBe(1_700_000_000_123);
    expect(toMillis(1_700_000_000_123_456)).toBe(1_700_000_000_123);
    expect(toMillis(1_700_000_000_123_456_000)).toBe(1_700_000_000_123);
  });
});

describe('normaliseItem', () => {
  it('normalises a trade: string trade id, int exchange, fractional size kept exact', () => {
    const result = normaliseItem(
      {
        ev: 'T',
        sym: 'AAPL',
        x: 4,
        i: 52983525029461,
        z: 3,
        p: 187.31,
        s: 100,
        ds: '100.5',
        c: [14, 41],
        t: NOW,
        q: 123,
        trfi: 202,
        trft: NOW * 1e6,
      },
      'massive',
      NOW + 5,
    );
    expect(result).toEqual({
      ok: true,
      channel: 'T',
      topic: 'trades',
      symbol: 'AAPL',
      sequence: 123,
      eventTimeMs: NOW,
      value: {
        symbol: 'AAPL',
        exchange: 4,
        tradeId: '52983525029461',
        tape: 3,
        price: 187.31,
        size: 100,
        fractionalSize: '100.5',
        conditions: [14, 41],
        sipTimestampMs: NOW,
        sequence: 123,
        trfId: 202,
        trfTimestampMs: NOW,
        source: 'massive',
        ingestedAtMs: NOW + 5,
      },
    });
  });

  it('accepts a fractional-only trade (no s) and defaults tape and conditions', () => {
    const result = normaliseItem({ ev: 'T', sym: 'X', x: 1, i: 'a1', p: 1, ds: '0.25', t: NOW, q: 1 }, 'massive', NOW);
    expect(result.ok).toBe(true);
    if (result.ok) expect(result.value).toMatchObject({ size: 0, fractionalSize: '0.25', tape: 0, conditions: [], trfId: null });
  });

  it('normalises a quote', () => {
    const result = normaliseItem(
      { ev: 'Q', sym: 'MSFT', bx: 2, bp: 410.1, bs: 300, ax: 11, ap: 410.12, as: 200, c: 0, i: [604], t: NOW, q: 9, z: 3 },
      'simulator',
      NOW,
    );
    expect(result).toMatchObject({ ok: true, channel: 'Q', topic: 'quotes', sequence: 9 });
    if (result.ok)
      expect(result.value).toMatchObject({ bidPrice: 410.1, askSize: 200, condition: 0, indicators: [604], source: 'simulator' });
  });

  it('normalises second and minute aggregates; window start is the dedup sequence', () => {
    const bar = {
      sym: 'SPY',
      v: 1200,
      av: 5_000_000,
      op: 580.1,
      vw: 581.2,
      o: 581,
      c: 581.5,
      h: 581.9,
      l: 580.9,
      a: 580.7,
      z: 100,
      s: NOW,
      e: NOW + 60_000,
    };
    const minute = normaliseItem({ ev: 'AM', ...bar }, 'massive', NOW);
    expect(minute).toMatchObject({ ok: true, channel: 'AM', topic: 'minuteAggregates', sequence: NOW, eventTimeMs: NOW + 60_000 });
    if (minute.ok)
      expect(minute.value).toMatchObject({
        interval: 'MINUTE',
        accumulatedVolume: 5_000_000,
        officialOpen: 580.1,
        dayVwap: 580.7,
        averageTradeSize: 100,
        vwap: 581.2,
        otc: false,
        transactions: null,
      });
    const second = normaliseItem({ ev: 'A', ...bar, e: NOW + 1000, otc: true }, 'massive', NOW);
    expect(second).toMatchObject({ ok: true, topic: 'secondAggregates' });
    if (second.ok) expect(second.value).toMatchObject({ interval: 'SECOND', otc: true });
  });

  it('normalises LULD (ticker in T) and FMV (ns timestamp kept)', () => {
    const luld = normaliseItem({ ev: 'LULD', T: 'GME', h: 30.5, l: 25.1, i: [21], z: 1, t: NOW, q: 7 }, 'massive', NOW);
    expect(luld).toMatchObject({ ok: true, topic: 'luld', symbol: 'GME', sequence: 7 });
    const fmv = normaliseItem({ ev: 'FMV', sym: 'AAPL', fmv: 187.2, t: NOW * 1e6 }, 'massive', NOW);
    expect(fmv).toMatchObject({ ok: true, topic: 'fmv', eventTimeMs: NOW });
    if (fmv.ok) expect(fmv.value).toMatchObject({ timestampNs: NOW * 1e6, timestampMs: NOW });
  });

  it.each([
    [null, 'item is not an object'],
    [[1], 'item is not an object'],
    [{ sym: 'A' }, 'item has no ev field'],
    [{ ev: 'NOI', sym: 'A' }, 'unknown event type "NOI"'],
    [{ ev: 'T', sym: 'A', x: 1, i: '1', p: 'x', s: 1, t: NOW, q: 1 }, 'malformed T event: field p is not a finite number'],
    [{ ev: 'T', sym: 'A', x: 1.5, i: '1', p: 1, s: 1, t: NOW, q: 1 }, 'malformed T event: field x is not an integer'],
    [{ ev: 'T', sym: 'A', x: 1, i: {}, p: 1, s: 1, t: NOW, q: 1 }, 'malformed T event: field i is not a string or number'],
    [{ ev: 'T', sym: 'A', x: 1, i: '1', p: -1, s: 1, t: NOW, q: 1 }, 'malformed T event: field p is negative'],
    [{ ev: 'T', sym: 'A', x: 1, i: '1', p: 1, s: -1, t: NOW, q: 1 }, 'malformed T event: field s is negative'],
    [{ ev: 'T', sym: 'A', x: 1, i: '1', p: 1, ds: 5, t: NOW, q: 1 }, 'malformed T event: field ds is not a string'],
    [{ ev: 'T', sym: 'A', x: 1, i: '1', p: 1, s: 1, c: ['a'], t: NOW, q: 1 }, 'malformed T event: field c is not an integer array'],
    [{ ev: 'Q', sym: '', bx: 1 }, 'malformed Q event: field sym is not a non-empty string'],
    [
      { ev: 'AM', sym: 'A', v: 1, o: 2, h: 1, l: 1, c: 1, s: NOW, e: NOW + 1 },
      'malformed AM event: bar is inconsistent (high/low do not bound open/close)',
    ],
    [{ ev: 'AM', sym: 'A', v: 1, o: 1, h: 1, l: 1, c: 1, s: NOW, e: NOW }, 'malformed AM event: bar window end is not after its start'],
    [{ ev: 'A', sym: 'A', v: -1, o: 1, h: 1, l: 1, c: 1, s: NOW, e: NOW + 1 }, 'malformed A event: field v is negative'],
  ])('rejects %j with a clear reason', (item, reason) => {
    expect(normaliseItem(item, 'massive', NOW)).toMatchObject({ ok: false, reason });
  });

  it('keeps the symbol of a rejected item when it has one', () => {
    expect(normaliseItem({ ev: 'T', sym: 'AAPL' }, 'massive', NOW)).toMatchObject({ ok: false, symbol: 'AAPL' });
  });
});
