import { describe, expect, it } from 'vitest';
import { FundamentalsHistory } from './fundamentals.js';

describe('fundamentals history', () => {
  it('answers the record in force on a date, whatever order the records arrived in', () => {
    const history = new FundamentalsHistory();
    history.put({ symbol: 'AAA', asOfDate: '2026-08-01', epsSurprisePct: 2 });
    history.put({ symbol: 'AAA', asOfDate: '2026-11-01', epsSurprisePct: -1 });
    history.put({ symbol: 'AAA', asOfDate: '2026-05-01', epsSurprisePct: 5 });
    expect(history.get('AAA', '2026-04-30')).toBeUndefined();
    expect(history.get('AAA', '2026-05-01')?.epsSurprisePct).toBe(5);
    expect(history.get('AAA', '2026-10-31')?.epsSurprisePct).toBe(2);
    expect(history.get('AAA', '2026-11-25')?.epsSurprisePct).toBe(-1);
    expect(history.get('BBB', '2026-11-25')).toBeUndefined();
    expect(history.symbolCount).toBe(1);
  });

  it('a restatement of the same date replaces the earlier record', () => {
    const history = new FundamentalsHistory();
    history.put({ symbol: 'AAA', asOfDate: '2026-08-01', epsSurprisePct: 2 });
    history.put({ symbol: 'AAA', asOfDate: '2026-08-01', epsSurprisePct: 3 });
    expect(history.get('AAA', '2026-09-01')?.epsSurprisePct).toBe(3);
  });

  it('refuses records without a symbol or a real date, and keeps non-finite figures as unknown (issue 18 sibling)', () => {
    const history = new FundamentalsHistory();
    expect(history.put({ symbol: 'AAA', asOfDate: '', epsSurprisePct: 9 })).toBe(false);
    expect(history.put({ symbol: 'AAA', asOfDate: '2026-02-30', epsSurprisePct: 9 })).toBe(false);
    expect(history.put({ symbol: '', asOfDate: '2026-02-01', epsSurprisePct: 9 })).toBe(false);
    // An empty date would otherwise be in force on every date.
    expect(history.get('AAA', '2020-01-01')).toBeUndefined();
    expect(
      history.put({
        symbol: 'AAA',
        asOfDate: '2026-08-01',
        epsSurprisePct: Number.POSITIVE_INFINITY,
        eps: Number.NaN,
        revenueYoYGrowthPct: 12,
      }),
    ).toBe(true);
    expect(history.get('AAA', '2026-09-01')).toMatchObject({ epsSurprisePct: null, eps: null, revenueYoYGrowthPct: 12 });
  });
});

describe('fundamentals history caps', () => {
  it('keeps at most maxPerSymbol records per symbol, dropping the oldest', () => {
    const history = new FundamentalsHistory(4, 10);
    for (let month = 1; month <= 12; month += 1) history.put({ symbol: 'AAA', asOfDate: `2026-${String(month).padStart(2, '0')}-01` });
    expect(history.recordCount).toBe(4);
    expect(history.get('AAA', '2026-08-31')).toBeUndefined();
    expect(history.get('AAA', '2026-09-15')?.asOfDate).toBe('2026-09-01');
  });

  it('refuses records of symbols beyond maxSymbols, so a flood of distinct symbols stays at the cap', () => {
    const history = new FundamentalsHistory(2, 100);
    for (let index = 0; index < 5_000; index += 1) history.put({ symbol: `FLOOD${index}`, asOfDate: '2026-01-02' });
    for (let index = 0; index < 100; index += 1) history.put({ symbol: `FLOOD${index}`, asOfDate: '2026-02-02' });
    for (let index = 0; index < 100; index += 1) history.put({ symbol: `FLOOD${index}`, asOfDate: '2026-03-02' });
    expect(history.symbolCount).toBe(100);
    expect(history.recordCount).toBe(200);
    expect(history.put({ symbol: 'LATE', asOfDate: '2026-01-02' })).toBe(false);
  });
});
