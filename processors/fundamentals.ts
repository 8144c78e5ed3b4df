import type { FundamentalsInput, FundamentalsLookup } from './engine.js';

/**
 * Every fundamentals record per symbol, by `asOfDate` (the topic keeps history: delete retention, not
 * compaction). The overlay of a detection uses the record in force on its date, so replaying old bars
 * gets the figures the original run used, not the symbol's latest ones. A later record with the same
 * `asOfDate` (a restatement) replaces the earlier one.
 */
export class FundamentalsHistory implements FundamentalsLookup {
  private readonly bySymbol = new Map<string, FundamentalsInput[]>();

  put(record: FundamentalsInput): void {
    let history = this.bySymbol.get(record.symbol);
    if (history === undefined) this.bySymbol.set(record.symbol, (history = []));
    // Records mostly arrive in date order: search from the end.
    let index = history.length;
    while (index > 0 && history[index - 1]!.asOfDate > record.asOfDate) index -= 1;
    if (index > 0 && history[index - 1]!.asOfDate === record.asOfDate) history[index - 1] = record;
    else history.splice(index, 0, record);
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
