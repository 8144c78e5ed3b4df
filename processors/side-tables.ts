import type { Kafka } from 'kafkajs';
import type { AvroCodec, Logger } from '../platform/index.js';
import { tailTopic, type TopicTail } from '../platform/topic-tail.js';
import type { BarInput, FundamentalsInput } from './engine.js';
import { FundamentalsHistory } from './fundamentals.js';
import { SnapshotChunkTable } from './snapshot-chunks.js';
import type { SnapshotValue } from './snapshots.js';
import { NativeBarsTable } from './trade-bars.js';

export interface SideTableOptions {
  readonly kafka: Kafka;
  readonly codec: AvroCodec;
  readonly logger: Logger;
  readonly groupId: string;
  readonly fundamentalsTopic: string | undefined;
  readonly minuteTopic: string | undefined;
  readonly snapshotsTopic: string;
  /** PROCESSOR_SIDE_TABLE_MAX_SYMBOLS and PROCESSOR_FUNDAMENTALS_PER_SYMBOL. */
  readonly limits?: SideTableLimits;
}

export interface SideTableLimits {
  readonly maxSymbols: number;
  readonly fundamentalsPerSymbol: number;
}

/** The tables every processor instance reads whole from their topics, and the tails that keep them current. */
export interface SideTables {
  /** Every fundamentals record, by date (see FundamentalsHistory); empty when not read. */
  readonly fundamentals: FundamentalsHistory;
  /** Symbols with native minute bars (which get no trade-built bars); empty when not read. */
  readonly nativeBars: NativeBarsTable;
  /** The latest snapshot of each partition of this group. */
  readonly snapshots: SnapshotChunkTable<SnapshotValue>;
  /** Resolves once the snapshot table has read up to the snapshot topic's end as of now. */
  snapshotsCaughtUp(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Starts the side-table tails (fundamentals when `fundamentalsTopic` is set, native minute bars when
 * `minuteTopic` is set, snapshots always) and resolves once each has caught up with its topic.
 */
export async function startSideTables(options: SideTableOptions): Promise<SideTables> {
  const { kafka, codec, logger, groupId } = options;
  const fundamentals = new FundamentalsHistory(options.limits?.fundamentalsPerSymbol, options.limits?.maxSymbols);
  const nativeBars = new NativeBarsTable(options.limits?.maxSymbols);
  const snapshots = new SnapshotChunkTable<SnapshotValue>();
  const tails: TopicTail[] = [];
  if (options.fundamentalsTopic !== undefined) {
    tails.push(
      await tailTopic({
        kafka,
        topic: options.fundamentalsTopic,
        groupPrefix: groupId,
        logger,
        onMessage: async (message) => {
          if (!message.value) return;
          try {
            // Every instance reads the whole topic, so a bad record is logged here, not dead-lettered (the reference
            // projection keeps it among its rejects).
            if (!fundamentals.put(await codec.decode<FundamentalsInput>(message.value)))
              logger.warn(
                { offset: message.offset, symbols: fundamentals.symbolCount, maxSymbols: fundamentals.maxSymbols },
                'fundamentals record without a symbol or a real asOfDate, or of a symbol beyond PROCESSOR_SIDE_TABLE_MAX_SYMBOLS, skipped',
              );
          } catch (error) {
            logger.warn({ err: error, offset: message.offset }, 'undecodable fundamentals record skipped');
          }
        },
      }),
    );
  }
  // Symbols with native minute bars get no trade-built bars: the minute topic is read (whole) before any trade.
  if (options.minuteTopic !== undefined) {
    tails.push(
      await tailTopic({
        kafka,
        topic: options.minuteTopic,
        groupPrefix: groupId,
        logger,
        onMessage: async (message) => {
          if (!message.value) return;
          // Bars are keyed by symbol: once a symbol is native, its later bars need no decoding (the
          // table keeps the symbol's first native bar in log order, the same in every run).
          if (message.key !== null && nativeBars.nativeSince(message.key.toString()) !== undefined) return;
          try {
            const bar = await codec.decode<BarInput>(message.value);
            nativeBars.record(bar.symbol, bar.windowStartMs, bar.source);
          } catch {
            // Undecodable minute bars are dead-lettered by the minute engine; here they just say nothing.
          }
        },
      }),
    );
  }
  const snapshotTail = await tailTopic({
    kafka,
    topic: options.snapshotsTopic,
    groupPrefix: groupId,
    logger,
    onMessage: async (message) => {
      if (!message.value || !message.key) return;
      try {
        const snapshot = await codec.decode<SnapshotValue>(message.value);
        if (snapshot.group === groupId) snapshots.put(message.key.toString(), snapshot);
      } catch (error) {
        logger.warn({ err: error, offset: message.offset }, 'undecodable snapshot skipped');
      }
    },
  });
  tails.push(snapshotTail);
  for (const tail of tails) await tail.caughtUp();
  return {
    fundamentals,
    nativeBars,
    snapshots,
    snapshotsCaughtUp: () => snapshotTail.caughtUp(),
    // The tails stop in parallel: each waits out its fetch long-poll.
    stop: async () => {
      await Promise.all(tails.map((tail) => tail.stop()));
    },
  };
}
