import type { FundamentalsInput, FundamentalsLookup } from './engine.js';

/**
 * Every fundamentals record per symbol, by `asOfDate` (the topic keeps history: delete retention, not
 * compaction). The overlay of a detection uses the record in force on its date, so replaying old bars
 * gets the figures the original run used, not the symbol's latest ones. A later record with the same
 * `asOfDate` (a restatement) replaces the earlier one.
 */
export class FundamentalsHistory implements FundamentalsLookup {
  private readonly bySymbol = new Map<string, FundamentalsInput[]>();

  /**
   * Adds a record; refuses (false) one without a symbol or a real YYYY-MM-DD `asOfDate` (an empty or malformed
   * date sorts before every bar's date and would put the record in force for all history). Non-finite figures
   * are kept as unknown (null), so no overlay reason reads "+Infinity%".
   */
  put(input: FundamentalsInput): boolean {
    if (typeof input.symbol !== 'string' || input.symbol.length === 0 || !isRealDate(input.asOfDate)) return false;
    const record: FundamentalsInput = {
      ...input,
      eps: finiteOrNull(input.eps),
      epsEstimate: finiteOrNull(input.epsEstimate),
      epsSurprisePct: finiteOrNull(input.epsSurprisePct),
      revenueYoYGrowthPct: finiteOrNull(input.revenueYoYGrowthPct),
    };
    let history = this.bySymbol.get(record.symbol);
    if (history === undefined) this.bySymbol.set(record.symbol, (history = []));
    // Records mostly arrive in date order: search from the end.
    let index = history.length;
    while (index > 0 && history[index - 1]!.asOfDate > record.asOfDate) index -= 1;
    if (index > 0 && history[index - 1]!.asOfDate === record.asOfDate) history[index - 1] = record;
    else history.splice(index, 0, record);
    return true;
  }

  /** The latest record of `symbol` whose `asOfDate` is on or before `date` (YYYY-MM-DD). */
  get(symbol: string, date: string): FundamentalsInput | undefined {
    const history = this.bySymbol.get(symbol);
    if (history === undefined) return undefined;
    for (let index = history.length - 1; index >= 0; index -= 1) {
      if (history[index]!.asOfDate <= date) return history[index];
    }
    return undefined;
  }

  get symbolCount(): number {
    return this.bySymbol.size;
  }
}

function finiteOrNull(value: number | null | undefined): number | null {
  return typeof value === 'number' && Number.isFinite(value) ? value : null;
}

/** A YYYY-MM-DD that names a real day (2026-02-30 does not). */
function isRealDate(text: unknown): text is string {
  if (typeof text !== 'string' || !/^\d{4}-\d{2}-\d{2}$/.test(text)) return false;
  const date = new Date(`${text}T00:00:00Z`);
  return !Number.isNaN(date.getTime()) && date.toISOString().slice(0, 10) === text;
}
