import { describe, expect, it } from 'vitest';
import { ConfigError } from '../platform/index.js';
import { engineOptionsFrom, loadProcessorConfig } from './config.js';

describe('processor configuration', () => {
  it('has working defaults: NYSE calendar, tiers, inputs', () => {
    const config = loadProcessorConfig({});
    expect(config.PROCESSOR_INPUTS).toEqual(['minuteAggregates', 'dailyAggregates']);
    expect(config.PROCESSOR_OPS_PORT).toBe(9465);
    const options = engineOptionsFrom(config, 'SPY');
    expect(options.benchmarkSymbol).toBe('SPY');
    expect(options.intradayTtlMs).toBe(120 * 60_000);
    expect(options.dailyTtlMs).toBe(10 * 86_400_000);
    expect(options.calendar!.dayOf(Date.parse('2026-11-26T17:00:00Z')).isTradingDay).toBe(false);
  });

  it('reads a custom calendar from the environment', () => {
    const config = loadProcessorConfig({
      PROCESSOR_HOLIDAYS: '2026-11-24',
      PROCESSOR_EARLY_CLOSES: '2026-11-25@12:30',
      PROCESSOR_SESSION_OPEN: '10:00',
    });
    const calendar = engineOptionsFrom(config, 'QQQ').calendar!;
    expect(calendar.dayOf(Date.parse('2026-11-24T17:00:00Z')).isTradingDay).toBe(false);
    expect(new Date(calendar.dayOf(Date.parse('2026-11-25T16:00:00Z')).closeMs).toISOString()).toBe('2026-11-25T17:30:00.000Z');
    expect(new Date(calendar.dayOf(Date.parse('2026-11-27T16:00:00Z')).openMs).toISOString()).toBe('2026-11-27T15:00:00.000Z');
  });

  it('rejects bad values with a clear error', () => {
    expect(() => loadProcessorConfig({ PROCESSOR_TRADE_BAR_LATENESS_MS: '-5' })).toThrow(ConfigError);
    expect(() => engineOptionsFrom(loadProcessorConfig({ PROCESSOR_SESSION_OPEN: 'nine' }), 'SPY')).toThrow(/HH:MM/);
  });
});
