/** Processors: the pure pattern engine and its exactly-once Kafka shell. */
export { PatternEngine, ENGINE_VERSION, SnapshotVersionError } from './engine.js';
export type {
  BarInput,
  BarInterval,
  BarOutcome,
  EngineOptions,
  FundamentalsInput,
  FundamentalsLookup,
  PatternEventKind,
  PatternEventRecord,
  SourceRef,
} from './engine.js';
export {
  SessionCalendar,
  defaultCalendarConfig,
  parseClock,
  parseEarlyCloses,
  DEFAULT_HOLIDAYS,
  DEFAULT_EARLY_CLOSES,
} from '../contracts/calendar.js';
export type { CalendarConfig, SessionDay } from '../contracts/calendar.js';
export { PATTERN_CATALOG, COMBO_TRIGGERS } from './catalog.js';
export type { PatternDefinition, Tier } from './catalog.js';
export { INTRADAY_PARAMS, DAILY_PARAMS } from './series.js';
export type { Direction, SeriesParams } from './series.js';
export { TradeBarBuilder } from './trade-bars.js';
export type { TradeBar, TradeInput } from './trade-bars.js';
export { startProcessor } from './processor.js';
export type { ProcessorHandle, ProcessorOptions } from './processor.js';
export { loadProcessorConfig, engineOptionsFrom } from './config.js';
export type { ProcessorConfig } from './config.js';
