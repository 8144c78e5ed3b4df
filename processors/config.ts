import { z } from 'zod';
import { defineEnv, env } from '../platform/index.js';
import { DEFAULT_EARLY_CLOSES, DEFAULT_HOLIDAYS, SessionCalendar, parseClock, parseEarlyCloses } from '../contracts/calendar.js';
import type { EngineOptions } from './engine.js';

export const loadProcessorConfig = defineEnv('processors', {
  PROCESSOR_GROUP_ID: env.string('Consumer group of the pattern processors; instances in one group split the partitions', 'tickflow-processors'),
  PROCESSOR_INPUTS: env.list('Input topics (catalog keys): minuteAggregates and/or dailyAggregates', 'minuteAggregates,dailyAggregates'),
  PROCESSOR_OPS_PORT: env.int('Port of /health, /ready and /metrics', 9465),
  PROCESSOR_STALL_TIMEOUT_MS: env.int('A failed batch whose partition has not reopened after this long makes the process exit for its supervisor to restart it', 60_000),
  PROCESSOR_SNAPSHOT_EVERY_RECORDS: env.int('Write a state snapshot of an input partition after this many input records', 50_000),
  PROCESSOR_SNAPSHOT_MAX_BYTES: env.int('Largest snapshot record; bigger (compressed) states are written as chunks of this size (Kafka message size limit)', 900_000),
  PROCESSOR_MAX_RECORDS_PER_TRANSACTION: env.int('Input records folded into one Kafka transaction at most', 5_000),
  PROCESSOR_USE_FUNDAMENTALS: env.bool('Read the fundamentals topic for the confidence overlay', true),
  PROCESSOR_INTRADAY_TTL_MINUTES: env.int('Lifetime of intraday patterns (capped at the session close)', 120),
  PROCESSOR_DAILY_TTL_DAYS: env.int('Lifetime of daily patterns', 10),
  PROCESSOR_TIME_ZONE: env.string('Exchange time zone of the session calendar', 'America/New_York'),
  PROCESSOR_SESSION_OPEN: env.string('Regular session open, HH:MM local', '09:30'),
  PROCESSOR_SESSION_CLOSE: env.string('Regular session close, HH:MM local', '16:00'),
  PROCESSOR_HOLIDAYS: env.list('Exchange holidays, YYYY-MM-DD comma separated (default: NYSE 2025-2027)', DEFAULT_HOLIDAYS),
  PROCESSOR_EARLY_CLOSES: env.list('Early closes, YYYY-MM-DD@HH:MM comma separated (default: NYSE 2025-2027)', DEFAULT_EARLY_CLOSES),
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
export function engineOptionsFrom(config: ProcessorConfig, benchmarkSymbol: string): EngineOptions {
  const calendar = new SessionCalendar({
    timeZone: config.PROCESSOR_TIME_ZONE,
    openMinute: parseClock(config.PROCESSOR_SESSION_OPEN),
    closeMinute: parseClock(config.PROCESSOR_SESSION_CLOSE),
    holidays: config.PROCESSOR_HOLIDAYS,
    earlyCloses: parseEarlyCloses(config.PROCESSOR_EARLY_CLOSES),
  });
  return {
    calendar,
    benchmarkSymbol,
    intradayTtlMs: config.PROCESSOR_INTRADAY_TTL_MINUTES * 60_000,
    dailyTtlMs: config.PROCESSOR_DAILY_TTL_DAYS * 86_400_000,
  };
}
