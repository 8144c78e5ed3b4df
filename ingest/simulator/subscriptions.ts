/** Which events a simulator client asked for: whole channels (`T.*`) and single tickers (`T.AAPL`). Pure. */
export class SubscriptionSet {
  private readonly channels = new Set<string>();
  private readonly tickers = new Set<string>();
  /** Single-ticker subscriptions per channel (kept so wantsChannel is O(1) on the per-tick path). */
  private readonly tickerCounts = new Map<string, number>();

  /** Applies a subscribe/unsubscribe `params` string; returns the accepted entries. */
  apply(params: string, subscribe: boolean): string[] {
    const accepted: string[] = [];
    for (const entry of params
      .split(',')
      .map((part) => part.trim())
      .filter((part) => part.length > 0)) {
      const dot = entry.indexOf('.');
      if (dot <= 0 || dot === entry.length - 1) continue;
      const channel = entry.slice(0, dot);
      const ticker = entry.slice(dot + 1);
      const target = ticker === '*' ? this.channels : this.tickers;
      const value = ticker === '*' ? channel : entry;
      if (ticker !== '*' && subscribe !== this.tickers.has(value))
        this.tickerCounts.set(channel, (this.tickerCounts.get(channel) ?? 0) + (subscribe ? 1 : -1));
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

  /** True when any ticker of this channel is subscribed. */
  wantsChannel(ev: string): boolean {
    return this.channels.has(ev) || (this.tickerCounts.get(ev) ?? 0) > 0;
  }
}
