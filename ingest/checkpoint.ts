import { tailTopic, type AvroCodec, type IngestCheckpointRecord, type Kafka, type Logger } from '../platform/index.js';

/**
 * Backfill progress: per job (what it fetches, e.g. `bars:minute:2025-01-02:2025-01-31`) the symbols finished and the
 * next page of those in progress. Folded from checkpoint records; every advance is handed to `persist` as one record.
 * In production the records live in the compacted `ops.ingest-checkpoints.v1` topic (written by the Kafka sink after
 * the page they follow is acknowledged, read back by `readCheckpoints`), so whichever instance runs the job next
 * resumes where the last one stopped. Pure: no I/O of its own.
 */
export class CheckpointStore {
  private readonly jobs = new Map<string, { readonly done: Set<string>; readonly cursors: Map<string, string> }>();

  constructor(
    records: Iterable<IngestCheckpointRecord> = [],
    private readonly persist: (record: IngestCheckpointRecord) => void = () => {},
    private readonly now: () => number = Date.now,
  ) {
    for (const record of records) this.apply(record);
  }

  private job(key: string) {
    let job = this.jobs.get(key);
    if (!job) this.jobs.set(key, (job = { done: new Set(), cursors: new Map() }));
    return job;
  }

  isDone(key: string, symbol: string): boolean {
    return this.job(key).done.has(symbol);
  }

  cursor(key: string, symbol: string): string | undefined {
    return this.job(key).cursors.get(symbol);
  }

  /** Records that everything before `nextUrl` is in Kafka (undefined = the symbol is finished). */
  advance(key: string, symbol: string, nextUrl: string | undefined): void {
    const record: IngestCheckpointRecord = {
      job: key,
      symbol,
      nextUrl: nextUrl === undefined ? null : withoutApiKey(nextUrl),
      done: nextUrl === undefined,
      updatedAtMs: this.now(),
    };
    this.apply(record);
    this.persist(record);
  }

  private apply(record: IngestCheckpointRecord): void {
    const job = this.job(record.job);
    if (record.done || record.nextUrl === null) {
      job.cursors.delete(record.symbol);
      job.done.add(record.symbol);
    } else {
      job.done.delete(record.symbol);
      job.cursors.set(record.symbol, record.nextUrl);
    }
  }
}

/** The record's key on the checkpoints topic: one per job and symbol, so compaction keeps the latest of each. */
export function checkpointKey(record: Pick<IngestCheckpointRecord, 'job' | 'symbol'>): string {
  return `${record.job}/${record.symbol}`;
}

/** A page URL as stored: the API key (which the client adds to every request) never goes into the log. */
function withoutApiKey(url: string): string {
  try {
    const parsed = new URL(url);
    if (!parsed.searchParams.has('apiKey')) return url;
    parsed.searchParams.delete('apiKey');
    return parsed.toString();
  } catch {
    return url;
  }
}

/** Every checkpoint record committed to `topic` (read_committed, from the beginning), in log order. */
export async function readCheckpoints(options: {
  readonly kafka: Kafka;
  readonly codec: AvroCodec;
  readonly topic: string;
  readonly groupPrefix: string;
  readonly logger: Logger;
}): Promise<IngestCheckpointRecord[]> {
  const records: IngestCheckpointRecord[] = [];
  const tail = await tailTopic({
    kafka: options.kafka,
    topic: options.topic,
    groupPrefix: options.groupPrefix,
    logger: options.logger,
    onMessage: async (message) => {
      if (message.value) records.push(await options.codec.decode<IngestCheckpointRecord>(message.value));
    },
  });
  try {
    await tail.caughtUp();
  } finally {
    await tail.stop();
  }
  return records;
}
