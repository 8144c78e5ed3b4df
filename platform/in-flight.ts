/**
 * Work a process has started and must let finish before it closes the connections that work uses: requests
 * whose client has gone (the server's close() does not wait for their handlers) and background refreshes.
 */
export class InFlight {
  private count = 0;
  private waiters: (() => void)[] = [];

  /** How many tracked pieces of work have not settled. */
  get size(): number {
    return this.count;
  }

  /** Tracks `work` until it settles, and returns it unchanged (its rejection is the caller's to handle). */
  track<T>(work: Promise<T>): Promise<T> {
    this.count += 1;
    work.then(this.settleOne, this.settleOne);
    return work;
  }

  // Made once, not per call: `track` runs for every API request and cache write.
  private readonly settleOne = (): void => {
    this.count -= 1;
    if (this.count === 0) for (const wake of this.waiters.splice(0)) wake();
  };

  /** Resolves once no tracked work is left: at once if none is. */
  settled(): Promise<void> {
    return this.count === 0 ? Promise.resolve() : new Promise((resolve) => this.waiters.push(resolve));
  }
}
