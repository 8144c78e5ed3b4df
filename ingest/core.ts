import { DuplicateFilter, DEFAULT_DEDUP, type DuplicateFilterOptions } from './dedup.js';
import type { TrackedStructure } from '../platform/tracked-structures.js';
import { deadLetter, type DeadLetterOut, type OutRecord } from './records.js';
import { isStatusItem, normaliseItem, parseFrame, type Channel, type StatusItem } from './wire.js';

/** What one frame turned into: records to produce, dead letters, status items for the protocol machine. */
export interface FrameOutcome {
  readonly records: OutRecord[];
  readonly deadLetters: DeadLetterOut[];
  readonly statuses: StatusItem[];
  readonly duplicates: number;
  /** Data items seen (valid or not, excluding status items). */
  readonly itemsIn: number;
}

export interface IngestCoreOptions {
  /** Names the source in records (`source` field) and dead letters: massive, simulator, file, rest. */
  readonly source: string;
  /** Channels produced; others (e.g. LULD/FMV when disabled) are dropped silently, as not subscribed. */
  readonly channels?: ReadonlySet<Channel>;
  readonly dedup?: DuplicateFilterOptions;
}

/**
 * The pure core of the live source: frame text in, normalised records, dead letters and status items out.
 * State: the duplicate filter only.
 */
export class IngestCore {
  private readonly duplicates: DuplicateFilter;

  constructor(private readonly options: IngestCoreOptions) {
    this.duplicates = new DuplicateFilter(options.dedup);
  }

  get source(): string {
    return this.options.source;
  }

  /** The duplicate filter's keys and sequences against their caps (for /metrics). */
  trackedStructures(): TrackedStructure[] {
    const { maxKeys, windowPerKey } = this.options.dedup ?? DEFAULT_DEDUP;
    return [
      { name: 'ingest.dedup.keys', entries: () => this.duplicates.keyCount, cap: maxKeys },
      { name: 'ingest.dedup.sequences', entries: () => this.duplicates.sequenceCount, cap: maxKeys * windowPerKey },
    ];
  }

  processFrame(text: string, receivedAtMs: number): FrameOutcome {
    const parsed = parseFrame(text);
    if (!parsed.ok) {
      return {
        records: [],
        deadLetters: [deadLetter(this.options.source, parsed.reason, text, receivedAtMs)],
        statuses: [],
        duplicates: 0,
        itemsIn: 1,
      };
    }
    return this.processItems(parsed.items, receivedAtMs);
  }

  processItems(items: readonly unknown[], receivedAtMs: number): FrameOutcome {
    const records: OutRecord[] = [];
    const deadLetters: DeadLetterOut[] = [];
    const statuses: StatusItem[] = [];
    let duplicates = 0;
    let itemsIn = 0;
    for (const item of items) {
      if (isStatusItem(item)) {
        statuses.push({ ev: 'status', status: String(item.status), message: String(item.message ?? '') });
        continue;
      }
      itemsIn += 1;
      const normalised = normaliseItem(item, this.options.source, receivedAtMs);
      if (!normalised.ok) {
        deadLetters.push(deadLetter(this.options.source, normalised.reason, safeStringify(item), receivedAtMs, normalised.symbol));
        continue;
      }
      if (this.options.channels && !this.options.channels.has(normalised.channel)) continue;
      if (this.duplicates.isDuplicate(`${normalised.channel}:${normalised.symbol}`, normalised.sequence)) {
        duplicates += 1;
        continue;
      }
      records.push({ topic: normalised.topic, key: normalised.symbol, value: normalised.value, eventTimeMs: normalised.eventTimeMs });
    }
    return { records, deadLetters, statuses, duplicates, itemsIn };
  }
}

function safeStringify(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}
