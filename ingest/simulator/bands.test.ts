import { describe, expect, it } from 'vitest';
import { normaliseItem } from '../wire.js';
import { FairValues, LuldBands, bandFraction } from './bands.js';
import { SimulatorFeed } from './feed.js';
import type { WireEvent, WireFmv, WireLuld, WireQuote, WireTrade } from './market.js';
import { SubscriptionSet } from './subscriptions.js';
import { buildUniverse } from './universe.js';

const START = Date.UTC(2025, 5, 2, 14, 0); // 10:00 New York (EDT), minute 30 of the session
const trade = (sym: string, p: number, t: number): WireTrade => ({ ev: 'T', sym, x: 4, i: '1', z: 3, p, s: 100, t, q: 1 });
const quote = (sym: string, bp: number, ap: number, t: number): WireQuote => ({
  ev: 'Q',
  sym,
  bx: 1,
  bp,
  bs: 100,
  ax: 2,
  ap,
  as: 100,
  c: 0,
  t,
  q: 1,
  z: 3,
});

describe('LULD bands', () => {
  it('band fraction by price tier, doubled at the open and the close', () => {
    expect(bandFraction(100, 30)).toBe(0.05);
    expect(bandFraction(2, 30)).toBe(0.2);
    expect(bandFraction(0.5, 30)).toBeCloseTo(0.3);
    expect(bandFraction(0.1, 30)).toBe(0.75);
    expect(bandFraction(100, 5)).toBe(0.1);
    expect(bandFraction(100, 370)).toBe(0.1);
  });

  it('publishes on the first trade of the day, again after a 1 % move or a band change, in the Massive shape', () => {
    const bands = new LuldBands();
    const first = bands.onTrade(trade('AAPL', 200, START), 30);
    expect(first).toEqual({ ev: 'LULD', T: 'AAPL', h: 210, l: 190, i: [], z: 3, t: START, q: 1 });
    expect(bands.onTrade(trade('AAPL', 201.5, START + 1), 30)).toBeUndefined();
    expect(bands.onTrade(trade('AAPL', 202, START + 2), 30)).toMatchObject({ h: 212.1, l: 191.9, q: 2 });
    // Into the closing window: same reference, band doubled.
    expect(bands.onTrade(trade('AAPL', 202.1, START + 3), 366)).toMatchObject({ h: 222.2, l: 181.8, q: 3 });
    // Next day: a fresh band around the first trade, the sequence keeps rising.
    expect(bands.onTrade(trade('AAPL', 150, START + 86_400_000), 30)).toMatchObject({ h: 157.5, l: 142.5, q: 4 });
  });
});

describe('FMV', () => {
  it('one message per symbol per second, the NBBO mid as of the second end, timestamp in ns', () => {
    const fair = new FairValues();
    expect(fair.onEvent(quote('AAPL', 100, 100.1, START + 10))).toEqual([]);
    expect(fair.onEvent(trade('MSFT', 400, START + 500))).toEqual([]);
    expect(fair.onEvent(quote('AAPL', 100.2, 100.3, START + 900))).toEqual([]);
    const closed = fair.onEvent(quote('AAPL', 101, 101.2, START + 2500));
    expect(closed).toEqual([
      { ev: 'FMV', sym: 'AAPL', fmv: 100.25, t: (START + 1000) * 1e6 },
      { ev: 'FMV', sym: 'MSFT', fmv: 400, t: (START + 1000) * 1e6 },
    ]);
    expect(fair.closeUntil(START + 2999)).toEqual([]);
    expect(fair.closeUntil(START + 3000)).toEqual([{ ev: 'FMV', sym: 'AAPL', fmv: 101.1, t: (START + 3000) * 1e6 }]);
    expect(fair.closeUntil(START + 9000)).toEqual([]);
  });
});

describe('simulator feed with LULD and FMV', () => {
  const run = (channels: { luld?: boolean; fmv?: boolean }) => {
    const feed = new SimulatorFeed(buildUniverse(15, 1), { seed: 11 });
    const events: WireEvent[] = [];
    for (let step = 0; step < 100; step += 1) events.push(...feed.generate(START + step * 200, START + (step + 1) * 200, 40, channels));
    return events;
  };

  it('emits them only when asked, and the rest of the stream is unchanged', () => {
    const plain = run({});
    const both = run({ luld: true, fmv: true });
    expect(plain.some((event) => event.ev === 'LULD' || event.ev === 'FMV')).toBe(false);
    expect(both.filter((event) => event.ev !== 'LULD' && event.ev !== 'FMV')).toEqual(plain);
  });

  it("every trade lies inside its symbol's current band; FMV once per symbol per second; both normalise into their topics", () => {
    const events = run({ luld: true, fmv: true });
    const trades = events.filter((event) => event.ev === 'T').length;
    // A band follows its trade, so check each trade against the band in force after it.
    for (const [index, event] of events.entries()) {
      if (event.ev !== 'T') continue;
      const next = events.slice(index + 1).find((other): other is WireLuld => other.ev === 'LULD' && other.T === event.sym);
      const previous = events
        .slice(0, index)
        .reverse()
        .find((other): other is WireLuld => other.ev === 'LULD' && other.T === event.sym);
      const inForce = next && next.t === event.t ? next : previous!;
      expect(event.p).toBeGreaterThanOrEqual(inForce.l);
      expect(event.p).toBeLessThanOrEqual(inForce.h);
    }
    expect(trades).toBeGreaterThan(100);
    const fmv = events.filter((event): event is WireFmv => event.ev === 'FMV');
    const seconds = new Set(fmv.map((event) => `${event.sym}|${event.t}`));
    expect(seconds.size).toBe(fmv.length);
    expect(fmv.every((event) => event.t % 1e9 === 0)).toBe(true);
    expect(new Set(fmv.map((event) => event.t)).size).toBe(20);

    const luld = events.find((event): event is WireLuld => event.ev === 'LULD')!;
    expect(normaliseItem(JSON.parse(JSON.stringify(luld)), 'simulator', START)).toMatchObject({
      ok: true,
      topic: 'luld',
      channel: 'LULD',
      symbol: luld.T,
      sequence: luld.q,
      value: { limitUp: luld.h, limitDown: luld.l, tape: luld.z },
    });
    const first = fmv[0]!;
    expect(normaliseItem(JSON.parse(JSON.stringify(first)), 'simulator', START)).toMatchObject({
      ok: true,
      topic: 'fmv',
      channel: 'FMV',
      symbol: first.sym,
      eventTimeMs: first.t / 1e6,
      value: { fmv: first.fmv, timestampNs: first.t },
    });
  });

  it('subscriptions tell which optional channels some client wants', () => {
    const subscriptions = new SubscriptionSet();
    subscriptions.apply('T.*,LULD.AAPL,LULD.MSFT', true);
    expect([subscriptions.wantsChannel('LULD'), subscriptions.wantsChannel('FMV'), subscriptions.wantsChannel('T')]).toEqual([
      true,
      false,
      true,
    ]);
    subscriptions.apply('LULD.AAPL,LULD.AAPL', false);
    expect(subscriptions.wantsChannel('LULD')).toBe(true);
    subscriptions.apply('LULD.MSFT', false);
    expect(subscriptions.wantsChannel('LULD')).toBe(false);
    subscriptions.apply('FMV.*', true);
    expect(subscriptions.wantsChannel('FMV')).toBe(true);
  });
});
