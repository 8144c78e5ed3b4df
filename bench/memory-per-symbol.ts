/**
 * What one symbol of the universe costs each stage's per-symbol state, measured (not guessed): build the state for
 * N symbols, force a GC, and divide the heap it holds by N. Not a timing benchmark.
 *
 *   node --expose-gc --import tsx bench/memory-per-symbol.ts [symbols=2000]
 *
 * Per-symbol state grows with the universe, not with time; the figures (× 10,000) are in RELIABILITY.md (memory).
 */
import { DuplicateFilter } from '../ingest/dedup.js';
import { PatternEngine, type BarInput } from '../processors/engine.js';
import { FundamentalsHistory } from '../processors/fundamentals.js';
import { NativeBarsTable, TradeBarBuilder } from '../processors/trade-bars.js';
import { SessionCalendar } from '../contracts/calendar.js';
import { heapHeldPer } from './heap-held.js';

/** Heap held by what `build` returns, per symbol. */
function perSymbol(symbols: readonly string[], build: (symbols: readonly string[]) => unknown): number {
  return heapHeldPer(symbols.length, () => build(symbols));
}

const count = Number(process.argv[2] ?? 2000);
const symbols = Array.from({ length: count }, (_, index) => `S${index.toString(36).toUpperCase().padStart(4, '0')}`);
const calendar = new SessionCalendar();
const tradingDays = (() => {
  const days = [];
  for (let dayNumber = calendar.dayOf(Date.parse('2026-11-30T17:00:00Z')).dayNumber; days.length < 260; dayNumber -= 1) {
    const day = calendar.day(dayNumber);
    if (day.isTradingDay) days.unshift(day);
  }
  return days;
})();

const figures: Record<string, number> = {};

// ingest: the duplicate filter, four channels (T, Q, A, AM) per symbol, each window full (256 sequences).
figures['ingest: duplicate filter (4 channel keys, windows full at 256)'] = perSymbol(symbols, (list) => {
  const filter = new DuplicateFilter({ windowPerKey: 256, maxKeys: 50_000 });
  for (const channel of ['T', 'Q', 'A', 'AM'])
    for (const symbol of list) for (let sequence = 0; sequence < 300; sequence += 1) filter.isDuplicate(`${channel}:${symbol}`, sequence);
  return filter;
});

// processors: the pattern engine after 260 daily bars and one session of minute bars per symbol.
figures['processors: pattern engine (260 daily bars + 390 minute bars each)'] = perSymbol(symbols, (list) => {
  const engine = new PatternEngine({ calendar });
  const ref = { topic: 'bench', partition: 0, offset: 0 };
  const out: unknown[] = [];
  const bar = (symbol: string, interval: 'DAY' | 'MINUTE', startMs: number, lengthMs: number, step: number): BarInput => {
    const close = 100 + Math.sin(step / 7 + symbol.length) * 5;
    return {
      symbol,
      interval,
      windowStartMs: startMs,
      windowEndMs: startMs + lengthMs,
      open: close * 0.999,
      high: close * 1.004,
      low: close * 0.996,
      close,
      volume: 1000 + (step % 13) * 100,
      source: 'bench',
    };
  };
  tradingDays.slice(0, -1).forEach((day, step) => {
    for (const symbol of list) engine.onBar(bar(symbol, 'DAY', day.startMs, 86_400_000, step), ref, false, out as never);
    out.length = 0;
  });
  const session = tradingDays[tradingDays.length - 1]!;
  for (let minute = 0; minute < 390; minute += 1) {
    for (const symbol of list)
      engine.onBar(bar(symbol, 'MINUTE', session.openMs + minute * 60_000, 60_000, minute), ref, false, out as never);
    out.length = 0;
  }
  return engine;
});

figures['ingest: partition cache (Map of ticker to partition, one topic)'] = perSymbol(symbols, (list) => {
  const cache = new Map<string, number>();
  for (const symbol of list) cache.set(`${symbol}`, symbol.length % 6);
  return cache;
});

figures['processors: native-bars table (one entry)'] = perSymbol(symbols, (list) => {
  const table = new NativeBarsTable();
  for (const symbol of list) table.record(symbol, tradingDays[0]!.openMs, 'massive');
  return table;
});

figures['processors: trade-bar builder (one open minute)'] = perSymbol(symbols, (list) => {
  const builder = new TradeBarBuilder();
  const at = tradingDays[tradingDays.length - 1]!.openMs;
  for (const symbol of list) builder.onTrade({ symbol, price: 100, size: 10, sipTimestampMs: at });
  return builder;
});

figures['processors: fundamentals history (8 quarterly records)'] = perSymbol(symbols, (list) => {
  const history = new FundamentalsHistory();
  for (let quarter = 0; quarter < 8; quarter += 1)
    for (const symbol of list)
      history.put({
        symbol,
        asOfDate: `${2024 + Math.floor(quarter / 4)}-0${1 + (quarter % 4) * 3}-15`,
        eps: 1.2,
        epsEstimate: 1.1,
        epsSurprisePct: 9.1,
        revenueYoYGrowthPct: 4,
      });
  return history;
});

const rows = Object.entries(figures).map(([structure, bytes]) => ({
  structure,
  bytesPerSymbol: Math.round(bytes),
  mibPer10k: (bytes * 10_000) / 2 ** 20,
}));
console.log(JSON.stringify({ symbols: count, node: process.version, at: new Date().toISOString(), rows }, null, 2));
console.log('| structure | bytes per symbol | MiB for 10,000 symbols |\n|---|---|---|');
for (const row of rows) console.log(`| ${row.structure} | ${row.bytesPerSymbol.toLocaleString('en-US')} | ${row.mibPer10k.toFixed(1)} |`);
