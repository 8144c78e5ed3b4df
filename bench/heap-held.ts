/*
 * What a structure holds in memory, for the per-symbol and per-entry scripts (bench/memory-per-*.ts): the JS heap plus
 * ArrayBuffer backing stores (typed arrays above a few dozen bytes live outside the heap), after forced GCs.
 * Those scripts run under `node --expose-gc`.
 */

const gc = (globalThis as { gc?: () => void }).gc;

function heapUsed(): number {
  if (!gc) throw new Error('run with node --expose-gc');
  gc();
  gc();
  const usage = process.memoryUsage();
  return usage.heapUsed + usage.arrayBuffers;
}

/** Bytes held by what `build` returns, divided by `count` (per symbol, per entry). */
export function heapHeldPer(count: number, build: () => unknown): number {
  const before = heapUsed();
  const held = build();
  const after = heapUsed();
  void held;
  return (after - before) / count;
}
