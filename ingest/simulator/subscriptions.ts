/** Which events a simulator client asked for: whole channels (`T.*`) and single tickers (`T.AAPL`). Pure. */
export class SubscriptionSet {
  private readonly channels = new Set<string>();
  private readonly tickers = new Set<string>();

  /** Applies a subscribe/unsubscribe `params` string; returns the accepted entries. */
  apply(params: string, subscribe: boolean): string[] {
    const accepted: string[] = [];
    for (const entry of params.split(',').map((part) => part.trim()).filter((part) => part.length > 0)) {
      const dot = entry.indexOf('.');
      if (dot <= 0 || dot === entry.length - 1) continue;
      const channel = entry.slice(0, dot);
      const ticker = entry.slice(dot + 1);
      const target = ticker === '*' ? this.channels : this.tickers;
      const value = ticker === '*' ? channel : entry;
      if (subscribe) target.add(value);
      else target.delete(value);
      accepted.push(entry);
    }
    return accepted;
  }

  get empty(): boolean {
    return this.channels.size === 0 && this.tickers.size === 0;
  }

  matches(ev: string, symbol: string): boolean {
    return this.channels.has(ev) || (this.tickers.size > 0 && this.tickers.has(`${ev}.${symbol}`));
  }
}
