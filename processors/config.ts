import { z } from 'zod';
import { DEFAULT_MAX_EVENT_TIME_SKEW_MS, defineEnv, env } from '../platform/index.js';
import { CALENDAR_ENV, sessionCalendarFrom } from '../contracts/calendar-config.js';
import type { EngineOptions } from './engine.js';
import type { SideTableLimits } from './side-tables.js';

export const loadProcessorConfig = defineEnv('processors', {
  PROCESSOR_GROUP_ID: env.string(
    'Consumer group of the pattern processors; instances in one group split the partitions',
    'tickflow-processors',
  ),
  PROCESSOR_INPUTS: env.list('Input topics (catalog keys): minuteAggregates and/or dailyAggregates', 'minuteAggregates,dailyAggregates'),
  PROCESSOR_OPS_PORT: env.int('Port of /health, /ready and /metrics', 9465),
  PROCESSOR_STALL_TIMEOUT_MS: env.int(
    'A failed batch whose partition has not reopened after this long makes the process exit for its supervisor to restart it',
    60_000,
  ),
  PROCESSOR_SNAPSHOT_EVERY_RECORDS: env.int('Write a state snapshot of an input partition after this many input records', 50_000),
  PROCESSOR_SNAPSHOT_MAX_BYTES: env.int(
    'Largest snapshot record; bigger (compressed) states are written as chunks of this size (Kafka message size limit)',
    900_000,
  ),
  PROCESSOR_MAX_RECORDS_PER_TRANSACTION: env.int('Input records folded into one Kafka transaction at most', 5_000),
  PROCESSOR_MAX_SYMBOLS_PER_PARTITION: env.int(
    "Symbols the pattern engine of one input partition keeps state for; a new symbol's bar beyond it is dead-lettered (symbol-limit). About 26 KB per symbol once its daily and intraday series are full (20,000 ≈ 500 MiB per partition; bench/memory-per-symbol.ts)",
    20_000,
  ),
  PROCESSOR_FUNDAMENTALS_PER_SYMBOL: env.int(
    'Fundamentals records kept per symbol, oldest dropped (about 140 bytes each; 64 is 16 years of quarterly reports)',
    64,
  ),
  PROCESSOR_SIDE_TABLE_MAX_SYMBOLS: env.int(
    'Symbols each whole-topic side table (fundamentals, native minute bars) keeps; records of further symbols are skipped (about 190 bytes per symbol in the native-bars table)',
    100_000,
  ),
  PROCESSOR_USE_FUNDAMENTALS: env.bool('Read the fundamentals topic for the confidence overlay', true),
  PROCESSOR_INTRADAY_TTL_MINUTES: env.int('Lifetime of intraday patterns (capped at the session close)', 120),
  PROCESSOR_DAILY_TTL_DAYS: env.int('Lifetime of daily patterns', 10),
  ...CALENDAR_ENV,
  PROCESSOR_MAX_EVENT_TIME_SKEW_HOURS: z.coerce
    .number()
    .int()
    .min(1)
    .default(DEFAULT_MAX_EVENT_TIME_SKEW_MS / 3_600_000)
    .describe(
      "A bar or trade further ahead of its partition's event time than this, and than its own ingestion time, is dead-lettered (ahead-of-watermark) instead of moving the clock",
    ),
  PROCESSOR_TRADE_BARS: env.bool('Also build minute bars from trades (for symbols with only trades) into the minute topic', true),
  PROCESSOR_TRADE_BAR_LATENESS_MS: z.coerce
    .number()
    .int()
    .min(0)
    .default(2_000)
    .describe('A trade minute closes once a trade this much later (event time) is seen in its partition'),
});

export type ProcessorConfig = ReturnType<typeof loadProcessorConfig>;

/** Engine options (calendar, tiers) from the processors' configuration. */
/** The caps of the side tables (see side-tables.ts). */
export function sideTableLimitsFrom(config: ProcessorConfig): SideTableLimits {
  return { maxSymbols: config.PROCESSOR_SIDE_TABLE_MAX_SYMBOLS, fundamentalsPerSymbol: config.PROCESSOR_FUNDAMENTALS_PER_SYMBOL };
}

export function engineOptionsFrom(config: ProcessorConfig, benchmarkSymbol: string): EngineOptions {
  const calendar = sessionCalendarFrom(config);
  return {
    calendar,
    benchmarkSymbol,
    intradayTtlMs: config.PROCESSOR_INTRADAY_TTL_MINUTES * 60_000,
    dailyTtlMs: config.PROCESSOR_DAILY_TTL_DAYS * 86_400_000,
    maxSymbols: config.PROCESSOR_MAX_SYMBOLS_PER_PARTITION,
  };
}
