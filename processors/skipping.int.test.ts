import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { capturedLogger } from '../test/log-capture.js';
import { createLogger, createMetricsRegistry, startOpsServer, type Encoder } from '../platform/index.js';
import { sumMetric } from '../platform/metrics-exposition.js';
import { SessionCalendar } from '../contracts/calendar.js';
import { processorChecks } from './readiness.js';
import type { BarInput } from './engine.js';
import type { ProcessorHandle } from './processor.js';
import { createProcessorTestEnv, type ProcessorTestEnv } from './testing.js';

// Issue 25: a feed replaying bars older than what the processors already folded is skipped whole, by design;
// that must never be silent: one WARN saying why, /ready degraded with the reason, the skipped counter growing.

const calendar = new SessionCalendar();
const SYMBOLS = ['AAPL', 'MSFT', 'NVDA', 'AMZN', 'META', 'TSLA', 'AMD', 'NFLX'];
const OPEN = calendar.dayOf(Date.parse('2026-11-24T17:00:00Z')).openMs;

type Aggregate = BarInput & Record<string, unknown>;

function bar(symbol: string, minute: number): Aggregate {
  const start = OPEN + minute * 60_000;
  return {
    symbol,
    interval: 'MINUTE',
    windowStartMs: start,
    windowEndMs: start + 60_000,
    open: 100,
    high: 101,
    low: 99,
    close: 100.5,
    volume: 1000,
    source: 'massive',
    vwap: null,
    transactions: null,
    accumulatedVolume: null,
    officialOpen: null,
    dayVwap: null,
    averageTradeSize: null,
    otc: false,
    ingestedAtMs: start + 61_000,
  };
}

describe('processors feeding on old data', () => {
  let harness: ProcessorTestEnv;
  let encode: Encoder<Aggregate>;
  let processor: ProcessorHandle | undefined;
  let ops: { port: number; close: () => Promise<void> } | undefined;

  beforeAll(async () => {
    harness = await createProcessorTestEnv('skip', createLogger('processor-skip-int', { level: 'error' }));
    encode = await harness.kafka.codec.encoderFor<Aggregate>('minuteAggregates');
  });

  afterAll(async () => {
    await harness?.cleanup();
    await ops?.close();
  });

  async function produce(bars: readonly Aggregate[]): Promise<void> {
    await harness.produce(
      'minuteAggregates',
      bars.map((entry) => ({ key: entry.symbol, value: encode(entry) })),
    );
  }

  it('logs one WARN with the reason and the lag, reports it on /ready, and counts the skipped records', { timeout: 120_000 }, async () => {
    const { logger, text } = capturedLogger('processors', 'info');
    const registry = createMetricsRegistry('processors', { collectDefaults: false });
    processor = await harness.start({
      groupId: `${harness.kafka.prefix}processors`,
      logger,
      metrics: registry,
    });
    ops = await startOpsServer({ port: 0, registry, checks: processorChecks(processor) });
    const ready = async () =>
      (await fetch(`http://127.0.0.1:${ops!.port}/ready`)).json() as Promise<{
        status: string;
        checks: Record<string, { ok: boolean; error?: string }>;
      }>;
    const counted = async (outcome: string) =>
      sumMetric(await registry.metrics(), [{ name: 'tickflow_processor_records_total', label: `outcome="${outcome}"` }]) ?? 0;

    // The first run got to 11:40 (minute 130 of the session)...
    await produce(SYMBOLS.map((symbol) => bar(symbol, 130)));
    await vi.waitFor(async () => expect(await counted('applied')).toBe(SYMBOLS.length), { timeout: 60_000, interval: 200 });
    expect((await ready()).status).toBe('ok');
    // ...and a feed restarted at the session's open replays the two hours before it.
    await produce(Array.from({ length: 120 }, (_, minute) => SYMBOLS.map((symbol) => bar(symbol, minute))).flat());
    await vi.waitFor(async () => expect(await counted('skipped')).toBe(120 * SYMBOLS.length), { timeout: 60_000, interval: 200 });
    await vi.waitFor(() => expect(text()).toContain("input is older than the partition's clock by"), { timeout: 20_000, interval: 200 });

    const warnings = text()
      .split('\n')
      .filter((line) => line.includes('older than the partition'));
    expect(warnings).toHaveLength(1);
    const warning = JSON.parse(warnings[0]!) as { level: number; msg: string; behindMs: number };
    expect(warning.level).toBe(40);
    // The largest lag: the open's bar against the clock at minute 130.
    expect(warning.behindMs).toBe(130 * 60_000);
    expect(warning.msg).toMatch(/by 2 h 10 min; is a feed replaying old data\?/);
    const report = await ready();
    expect(report.status).toBe('degraded');
    expect(report.checks.input!.error).toContain("input is older than the partition's clock by 2 h 10 min");
    expect(processor.skipping()).toHaveLength(1);
  });
});
