import type { DeadLetterOut, OutRecord } from '../records.js';
import type { RecordSink } from '../sink.js';

/** A RecordSink that keeps everything in arrays (unit tests). */
export class MemorySink implements RecordSink {
  readonly records: OutRecord[] = [];
  readonly deadLetters: DeadLetterOut[] = [];
  flushes = 0;

  produce(records: readonly OutRecord[]): void {
    this.records.push(...records);
  }

  deadLetter(letters: readonly DeadLetterOut[]): void {
    this.deadLetters.push(...letters);
  }

  async flush(): Promise<void> {
    this.flushes += 1;
  }
}
