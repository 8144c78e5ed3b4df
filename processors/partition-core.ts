import type { IHeaders } from 'kafkajs';
import { isBroadcastCopy, type Encoder } from '../platform/index.js';
import type { SkipCause } from '../platform/skip-detector.js';
import { PatternEngine, type BarInput, type BarOutcome, type EngineOptions, type PatternEventRecord } from './engine.js';
import { TradeBarBuilder, type NativeBarsTable, type TradeBar, type TradeInput } from './trade-bars.js';

/** A message a partition core wants produced in the same transaction as its input offsets. */
export interface OutputMessage {
  readonly topic: string;
  readonly key: string;
  readonly value: Buffer;
  readonly partition: number;
}

/** Why an input record was not folded (or made the core throw): what its dead letter says. */
export interface FoldRejection {
  readonly reason: string;
  readonly details: string;
}

/** What one input partition runs: the pure engine (or trade-bar builder) behind a small adapter. */
export interface PartitionCore {
  /**
   * Folds one decoded input; `out` is undefined while replaying (outputs were already committed). A rejected
   * record, or one that made the core throw, comes back as a FoldRejection, to be dead-lettered.
   */
  fold(
    value: unknown,
    headers: IHeaders | undefined,
    offset: number,
    out: OutputMessage[] | undefined,
  ): 'applied' | 'skipped' | FoldRejection;
  /** Why the last folded record was skipped (undefined when kept, or skipped harmlessly by design). */
  lastSkip: SkipCause | undefined;
  snapshot(): Buffer;
  /** Entries of its growing state (RELIABILITY.md, memory): the engine's, or the trade-bar builder's. */
  readonly held: () => HeldState;
}

/**
 * A core's growing state: symbols with engine state, its active patterns and its expiry queue (which keeps an
 * updated pattern's superseded expiries until they come due); or the trade-bar builder's open and recently closed minutes.
 */
export type HeldState =
  | { readonly kind: 'engine'; readonly symbols: number; readonly activePatterns: number; readonly expiryQueue: number }
  | { readonly kind: 'trade-bars'; readonly symbols: number };

/** A record that made a core throw (a bug, or input no check foresaw): dead-lettered, and the partition moves on. */
export function coreFailure(error: unknown): FoldRejection {
  return { reason: 'engine-error', details: error instanceof Error ? `${error.name}: ${error.message}` : String(error) };
}

export interface PatternCoreOptions {
  readonly inputTopic: string;
  readonly partition: number;
  readonly engine: EngineOptions;
  readonly patternsTopic: string;
  readonly patternsPartitions: number;
  readonly encodePattern: Encoder<PatternEventRecord>;
}

/** The pattern engine of one bar partition; `state` restores it from a snapshot (and may throw SnapshotVersionError). */
export function createPatternCore(options: PatternCoreOptions, state: Buffer | undefined): PartitionCore {
  const { inputTopic, partition, patternsTopic, encodePattern } = options;
  const outputPartition = partition % options.patternsPartitions;
  const engine = state ? PatternEngine.restore(state, options.engine) : new PatternEngine(options.engine);
  const events: PatternEventRecord[] = [];
  const core: PartitionCore = {
    lastSkip: undefined,
    fold: (value, headers, offset, out) => {
      events.length = 0;
      const bar = value as BarInput;
      let outcome: BarOutcome | FoldRejection;
      try {
        outcome = engine.onBar(bar, { topic: inputTopic, partition, offset }, isBroadcastCopy(headers), events);
      } catch (error) {
        outcome = coreFailure(error);
      }
      // Events of a bar that threw midway are kept: they record changes the engine made and keeps (expiries,
      // detections), and the engine is deterministic, so a replay makes them (and the throw) again.
      if (out) {
        for (const event of events) {
          try {
            out.push({ topic: patternsTopic, key: event.symbol, value: encodePattern(event), partition: outputPartition });
          } catch (error) {
            outcome = coreFailure(error);
          }
        }
      }
      if (typeof outcome !== 'string') {
        core.lastSkip = undefined;
        return outcome;
      }
      core.lastSkip =
        outcome === 'duplicate'
          ? { reason: 'older-than-clock', behindMs: engine.clockMs - bar.windowStartMs }
          : outcome === 'outside-session'
            ? { reason: 'outside-session' }
            : undefined;
      if (outcome === 'invalid') return engine.rejectionOf(bar) ?? { reason: 'invalid', details: 'rejected by the pattern engine' };
      return outcome === 'applied' ? 'applied' : 'skipped';
    },
    snapshot: () => engine.snapshot(),
    held: () => ({
      kind: 'engine',
      symbols: engine.symbolCount,
      activePatterns: engine.activeCount,
      expiryQueue: engine.expiryQueueLength,
    }),
  };
  return core;
}

export interface TradeBarCoreOptions {
  readonly partition: number;
  readonly latenessMs: number | undefined;
  readonly nativeBars: NativeBarsTable;
  readonly maxEventTimeSkewMs: number | undefined;
  readonly minuteTopic: string;
  readonly encodeAggregate: Encoder<TradeBar>;
}

/** The trade-bar builder of one trades partition; `state` restores it from a snapshot. */
export function createTradeBarCore(options: TradeBarCoreOptions, state: Buffer | undefined): PartitionCore {
  const { partition, minuteTopic, encodeAggregate } = options;
  const builder = state
    ? TradeBarBuilder.restore(state, options.latenessMs, options.nativeBars, options.maxEventTimeSkewMs)
    : new TradeBarBuilder(options.latenessMs, options.nativeBars, options.maxEventTimeSkewMs);
  const core: PartitionCore = {
    lastSkip: undefined,
    fold: (value, _headers, _offset, out) => {
      const trade = value as TradeInput;
      const produced: OutputMessage[] = [];
      const late = builder.lateTrades;
      core.lastSkip = undefined;
      try {
        const bars = builder.onTrade(trade);
        if (bars === undefined) return builder.rejectionOf(trade) ?? { reason: 'invalid', details: 'rejected by the trade-bar builder' };
        if (out) for (const bar of bars) produced.push({ topic: minuteTopic, key: bar.symbol, value: encodeAggregate(bar), partition });
        // A trade folded into an open minute is applied; one for a minute already closed is dropped.
        core.lastSkip = builder.lateTrades > late ? { reason: 'late', behindMs: builder.watermarkMs - trade.sipTimestampMs } : undefined;
        return core.lastSkip ? 'skipped' : 'applied';
      } catch (error) {
        return coreFailure(error);
      } finally {
        out?.push(...produced);
      }
    },
    snapshot: () => builder.snapshot(),
    held: () => ({ kind: 'trade-bars', symbols: builder.openBars + builder.closedSymbols }),
  };
  return core;
}
