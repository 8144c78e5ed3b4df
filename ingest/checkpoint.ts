import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';

/** Progress of one backfill job: symbols finished, and the next page of the symbol in progress. */
export interface JobProgress {
  done: string[];
  cursors: Record<string, string>;
}

/**
 * Backfill progress kept in a JSON file (written to a temp file then renamed, so a crash never leaves
 * half a file). A job is identified by what it fetches (e.g. `bars:minute:2025-01-02:2025-01-31`).
 */
export class CheckpointStore {
  private jobs: Record<string, JobProgress>;

  constructor(private readonly path: string | undefined) {
    this.jobs = path && existsSync(path) ? (JSON.parse(readFileSync(path, 'utf8')) as { jobs: Record<string, JobProgress> }).jobs : {};
  }

  job(key: string): JobProgress {
    this.jobs[key] ??= { done: [], cursors: {} };
    return this.jobs[key];
  }

  isDone(key: string, symbol: string): boolean {
    return this.job(key).done.includes(symbol);
  }

  cursor(key: string, symbol: string): string | undefined {
    return this.job(key).cursors[symbol];
  }

  /** Records that everything before `nextUrl` is in Kafka (undefined = the symbol is finished). */
  advance(key: string, symbol: string, nextUrl: string | undefined): void {
    const job = this.job(key);
    if (nextUrl === undefined) {
      delete job.cursors[symbol];
      if (!job.done.includes(symbol)) job.done.push(symbol);
    } else {
      job.cursors[symbol] = nextUrl;
    }
    this.save();
  }

  private save(): void {
    if (!this.path) return;
    const temporary = `${this.path}.tmp`;
    writeFileSync(temporary, JSON.stringify({ jobs: this.jobs }, null, 1));
    renameSync(temporary, this.path);
  }
}
