import type { Logger } from '../platform/index.js';
import { CheckpointStore } from './checkpoint.js';
import { deadLetter, type OutRecord } from './records.js';
import { barToRecord, fundamentalsToRecord, tickerToRecord, type RestBar } from './rest-map.js';
import type { MassiveRest, Page } from './rest.js';
import type { RecordSink } from './sink.js';

export interface BackfillProgress {
  (event: {
    readonly job: string;
    readonly symbol: string;
    readonly records: number;
    readonly symbolsDone: number;
    readonly symbolsTotal: number;
  }): void;
}

export interface BarsBackfillOptions {
  readonly rest: MassiveRest;
  readonly sink: RecordSink;
  readonly symbols: readonly string[];
  readonly timespan: 'minute' | 'day';
  /** YYYY-MM-DD, inclusive. */
  readonly from: string;
  readonly to: string;
  readonly checkpoint: CheckpointStore;
  readonly logger: Logger;
  readonly pageLimit?: number;
  readonly onProgress?: BackfillProgress;
  readonly now?: () => number;
}

export interface BackfillSummary {
  readonly records: number;
  readonly deadLetters: number;
  readonly pages: number;
  readonly skippedSymbols: number;
}

/**
 * Minute or daily bars of each symbol for a date range, page by page. After each page is acknowledged
 * by Kafka, the page's `next_url` is checkpointed (in Kafka too, in production: ingest/checkpoint.ts), so an
 * interrupted backfill resumes at the page it stopped at, on any instance (at most one page is produced twice; the
 * bars are keyed and idempotent downstream by window).
 */
export async function backfillBars(options: BarsBackfillOptions): Promise<BackfillSummary> {
  const now = options.now ?? Date.now;
  const job = `bars:${options.timespan}:${options.from}:${options.to}`;
  const interval = options.timespan === 'minute' ? 'MINUTE' : 'DAY';
  const topic = options.timespan === 'minute' ? 'minuteAggregates' : 'dailyAggregates';
  let records = 0;
  let deadLetters = 0;
  let pages = 0;
  let skippedSymbols = 0;
  let symbolsDone = 0;
  for (const symbol of options.symbols) {
    if (options.checkpoint.isDone(job, symbol)) {
      skippedSymbols += 1;
      symbolsDone += 1;
      continue;
    }
    let cursor = options.checkpoint.cursor(job, symbol);
    if (cursor) options.logger.info({ job, symbol }, 'resuming backfill from checkpoint');
    for (;;) {
      const page: Page<RestBar> = cursor
        ? await options.rest.nextPage<RestBar>(cursor)
        : await options.rest.bars(symbol, options.timespan, options.from, options.to, options.pageLimit);
      pages += 1;
      const out: OutRecord[] = [];
      for (const bar of page.results) {
        try {
          const value = barToRecord(symbol, interval, bar, 'rest', now());
          out.push({ topic, key: symbol, value, eventTimeMs: value.windowEndMs });
        } catch (error) {
          deadLetters += 1;
          options.sink.deadLetter([deadLetter('rest', `bad bar: ${(error as Error).message}`, JSON.stringify(bar), now(), symbol)]);
        }
      }
      options.sink.produce(out);
      await options.sink.flush();
      records += out.length;
      // After the page is acknowledged: the checkpoint record goes out with the next page (or the final flush).
      options.checkpoint.advance(job, symbol, page.nextUrl);
      options.onProgress?.({ job, symbol, records, symbolsDone, symbolsTotal: options.symbols.length });
      if (!page.nextUrl) break;
      cursor = page.nextUrl;
    }
    symbolsDone += 1;
  }
  await options.sink.flush();
  return { records, deadLetters, pages, skippedSymbols };
}

export interface ReferenceBackfillOptions {
  readonly rest: MassiveRest;
  readonly sink: RecordSink;
  readonly logger: Logger;
  /** Fetch /v3/reference/tickers/{ticker} for each ticker too (market cap, SIC, shares). */
  readonly details: boolean;
  /** Stop after this many tickers (the full list is ~12k). */
  readonly maxTickers?: number;
  readonly onProgress?: BackfillProgress;
  readonly now?: () => number;
}

/** Reference tickers (all pages) into the symbols topic, each optionally enriched with its details. */
export async function backfillSymbols(options: ReferenceBackfillOptions): Promise<BackfillSummary> {
  const now = options.now ?? Date.now;
  const max = options.maxTickers ?? Number.POSITIVE_INFINITY;
  let page = await options.rest.tickers();
  let records = 0;
  let deadLetters = 0;
  let pages = 1;
  for (;;) {
    const out: OutRecord[] = [];
    for (const ticker of page.results) {
      if (records + out.length >= max) break;
      try {
        const details = options.details ? await options.rest.tickerDetails(ticker.ticker) : undefined;
        out.push({ topic: 'symbols', key: ticker.ticker, value: tickerToRecord(ticker, details, now()), eventTimeMs: now() });
      } catch (error) {
        deadLetters += 1;
        options.sink.deadLetter([
          deadLetter('rest', `bad ticker: ${(error as Error).message}`, JSON.stringify(ticker), now(), ticker.ticker),
        ]);
      }
    }
    options.sink.produce(out);
    await options.sink.flush();
    records += out.length;
    options.onProgress?.({
      job: 'symbols',
      symbol: out.at(-1)?.key ?? '',
      records,
      symbolsDone: records,
      symbolsTotal: Number.isFinite(max) ? max : records,
    });
    if (!page.nextUrl || records >= max) break;
    page = await options.rest.nextPage(page.nextUrl);
    pages += 1;
  }
  return { records, deadLetters, pages, skippedSymbols: 0 };
}

export interface FundamentalsBackfillOptions {
  readonly rest: MassiveRest;
  readonly sink: RecordSink;
  readonly symbols: readonly string[];
  readonly logger: Logger;
  readonly onProgress?: BackfillProgress;
  readonly now?: () => number;
}

/** Latest ratios and quarterly income statements of each symbol into the fundamentals topic. */
export async function backfillFundamentals(options: FundamentalsBackfillOptions): Promise<BackfillSummary> {
  const now = options.now ?? Date.now;
  let records = 0;
  let skippedSymbols = 0;
  for (const [index, symbol] of options.symbols.entries()) {
    const [ratios, statements] = await Promise.all([options.rest.ratios(symbol), options.rest.incomeStatements(symbol)]);
    if (!ratios && statements.length === 0) {
      options.logger.info({ symbol }, 'no fundamentals for symbol');
      skippedSymbols += 1;
      continue;
    }
    options.sink.produce([
      { topic: 'fundamentals', key: symbol, value: fundamentalsToRecord(symbol, ratios, statements, now()), eventTimeMs: now() },
    ]);
    records += 1;
    options.onProgress?.({ job: 'fundamentals', symbol, records, symbolsDone: index + 1, symbolsTotal: options.symbols.length });
  }
  await options.sink.flush();
  return { records, deadLetters: 0, pages: options.symbols.length * 2, skippedSymbols };
}
