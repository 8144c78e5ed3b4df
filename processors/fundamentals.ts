import type { FundamentalsInput, FundamentalsLookup } from './engine.js';

/** The default of PROCESSOR_FUNDAMENTALS_PER_SYMBOL. */
export const DEFAULT_FUNDAMENTALS_PER_SYMBOL = 64;
/** The default of PROCESSOR_SIDE_TABLE_MAX_SYMBOLS. */
export const DEFAULT_SIDE_TABLE_MAX_SYMBOLS = 100_000;

/**
 * Every fundamentals record per symbol, by `asOfDate` (the topic keeps history: delete retention, not
 * compaction). The overlay of a detection uses the record in force on its date, so replaying old bars
 * gets the figures the original run used, not the symbol's latest ones. A later record with the same
 * `asOfDate` (a restatement) replaces the earlier one.
 */
export class FundamentalsHistory implements FundamentalsLookup {
  private readonly bySymbol = new Map<string, FundamentalsInput[]>();
  private recordsHeld = 0;

  /**
   * `maxPerSymbol` (PROCESSOR_FUNDAMENTALS_PER_SYMBOL): older records are dropped, so a bar older than a symbol's
   * oldest kept record gets no overlay. `maxSymbols` (PROCESSOR_SIDE_TABLE_MAX_SYMBOLS): records of further symbols are
   * refused, so a flood of distinct symbols on the topic cannot grow the table without bound.
   */
  constructor(
    readonly maxPerSymbol = DEFAULT_FUNDAMENTALS_PER_SYMBOL,
    readonly maxSymbols = DEFAULT_SIDE_TABLE_MAX_SYMBOLS,
  ) {}

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
    if (history === undefined) {
      if (this.bySymbol.size >= this.maxSymbols) return false;
      this.bySymbol.set(record.symbol, (history = []));
    }
    // Records mostly arrive in date order: search from the end.
    let index = history.length;
    while (index > 0 && history[index - 1]!.asOfDate > record.asOfDate) index -= 1;
    if (index > 0 && history[index - 1]!.asOfDate === record.asOfDate) history[index - 1] = record;
    else {
      history.splice(index, 0, record);
      this.recordsHeld += 1;
      if (history.length > this.maxPerSymbol) {
        history.shift();
        this.recordsHeld -= 1;
      }
    }
    return true;
  }

  /** Records held over all symbols (at most maxSymbols × maxPerSymbol). */
  get recordCount(): number {
    return this.recordsHeld;
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
