import type { Tier } from '../platform/records.js';
import type { Direction } from './series.js';

export type { Tier };

/**
 * One entry of the pattern catalog; the written definitions are in processors/PATTERNS.md. `version` goes
 * up whenever a pattern's definition changes (it is part of the patternId and of every event).
 */
export interface PatternDefinition {
  readonly name: string;
  readonly version: number;
  readonly tiers: readonly Tier[];
  readonly directions: readonly Direction[];
  readonly summary: string;
}

const BOTH: readonly Tier[] = ['INTRADAY', 'DAILY'];

export const PATTERN_CATALOG: readonly PatternDefinition[] = [
  { name: 'doji', version: 1, tiers: BOTH, directions: ['NEUTRAL'], summary: 'body at most 10% of the range' },
  {
    name: 'hammer',
    version: 1,
    tiers: BOTH,
    directions: ['BULLISH'],
    summary: 'lower shadow >= 2x body, upper shadow <= body, after a decline',
  },
  { name: 'hanging_man', version: 1, tiers: BOTH, directions: ['BEARISH'], summary: 'hammer shape after an advance' },
  {
    name: 'shooting_star',
    version: 1,
    tiers: BOTH,
    directions: ['BEARISH'],
    summary: 'upper shadow >= 2x body, lower shadow <= body, after an advance',
  },
  {
    name: 'bullish_engulfing',
    version: 2,
    tiers: BOTH,
    directions: ['BULLISH'],
    summary: 'white body engulfs the previous black body, >= 1.1x its size; range >= 0.25 ATR',
  },
  {
    name: 'bearish_engulfing',
    version: 2,
    tiers: BOTH,
    directions: ['BEARISH'],
    summary: 'black body engulfs the previous white body, >= 1.1x its size; range >= 0.25 ATR',
  },
  {
    name: 'morning_star',
    version: 2,
    tiers: BOTH,
    directions: ['BULLISH'],
    summary: 'long black, small star below it, white close above the first midpoint',
  },
  {
    name: 'evening_star',
    version: 2,
    tiers: BOTH,
    directions: ['BEARISH'],
    summary: 'long white, small star above it, black close below the first midpoint',
  },
  {
    name: 'volume_spike',
    version: 1,
    tiers: BOTH,
    directions: ['BULLISH', 'BEARISH', 'NEUTRAL'],
    summary: 'volume >= 2x the average of the previous 20 bars',
  },
  {
    name: 'gap_up',
    version: 1,
    tiers: ['INTRADAY'],
    directions: ['BULLISH'],
    summary: 'first session bar opens >= 1% above the previous session close',
  },
  {
    name: 'gap_down',
    version: 1,
    tiers: ['INTRADAY'],
    directions: ['BEARISH'],
    summary: 'first session bar opens >= 1% below the previous session close',
  },
  {
    name: 'momentum_spike',
    version: 1,
    tiers: BOTH,
    directions: ['BULLISH', 'BEARISH'],
    summary: '5-bar change beyond the threshold, relative volume >= 1.5, close in the outer third',
  },
  { name: 'ema_golden_cross', version: 2, tiers: BOTH, directions: ['BULLISH'], summary: 'EMA 12 crosses above EMA 26' },
  { name: 'ema_death_cross', version: 2, tiers: BOTH, directions: ['BEARISH'], summary: 'EMA 12 crosses below EMA 26' },
  { name: 'sma_golden_cross', version: 2, tiers: BOTH, directions: ['BULLISH'], summary: 'SMA 50 crosses above SMA 200' },
  { name: 'sma_death_cross', version: 2, tiers: BOTH, directions: ['BEARISH'], summary: 'SMA 50 crosses below SMA 200' },
  { name: 'macd_bullish_cross', version: 2, tiers: BOTH, directions: ['BULLISH'], summary: 'MACD(12,26) crosses above its 9-EMA signal' },
  { name: 'macd_bearish_cross', version: 2, tiers: BOTH, directions: ['BEARISH'], summary: 'MACD(12,26) crosses below its 9-EMA signal' },
  {
    name: 'rsi_oversold_cross',
    version: 2,
    tiers: BOTH,
    directions: ['BULLISH'],
    summary: 'RSI(14) climbs back through 30 (a flat series has RSI 50)',
  },
  {
    name: 'rsi_overbought_cross',
    version: 2,
    tiers: BOTH,
    directions: ['BEARISH'],
    summary: 'RSI(14) falls back through 70 (a flat series has RSI 50)',
  },
  {
    name: 'bollinger_breakout_up',
    version: 2,
    tiers: BOTH,
    directions: ['BULLISH'],
    summary: 'close crosses above the upper Bollinger band (20, 2σ) from inside the bands',
  },
  {
    name: 'bollinger_breakout_down',
    version: 2,
    tiers: BOTH,
    directions: ['BEARISH'],
    summary: 'close crosses below the lower Bollinger band (20, 2σ) from inside the bands',
  },
  {
    name: 'breakout_high',
    version: 1,
    tiers: BOTH,
    directions: ['BULLISH'],
    summary: 'close above the 25-bar high with relative volume >= 1.5',
  },
  {
    name: 'breakdown_low',
    version: 1,
    tiers: BOTH,
    directions: ['BEARISH'],
    summary: 'close below the 25-bar low with relative volume >= 1.5',
  },
  { name: 'resistance_break', version: 1, tiers: BOTH, directions: ['BULLISH'], summary: 'close crosses above the last pivot high' },
  { name: 'support_break', version: 1, tiers: BOTH, directions: ['BEARISH'], summary: 'close crosses below the last pivot low' },
  {
    name: 'double_bottom',
    version: 2,
    tiers: BOTH,
    directions: ['BULLISH'],
    summary: 'two similar pivot lows with a pivot high between; close crosses that neckline',
  },
  {
    name: 'double_top',
    version: 2,
    tiers: BOTH,
    directions: ['BEARISH'],
    summary: 'two similar pivot highs with a pivot low between; close crosses that neckline',
  },
  {
    name: 'combo_bullish_confirmation',
    version: 1,
    tiers: ['COMBO'],
    directions: ['BULLISH'],
    summary: 'an active bullish daily pattern confirmed by a bullish intraday trigger',
  },
  {
    name: 'combo_bearish_confirmation',
    version: 1,
    tiers: ['COMBO'],
    directions: ['BEARISH'],
    summary: 'an active bearish daily pattern confirmed by a bearish intraday trigger',
  },
];

export const PATTERN_VERSIONS: ReadonlyMap<string, number> = new Map(PATTERN_CATALOG.map((entry) => [entry.name, entry.version]));

/** Intraday patterns that can confirm a daily setup (COMBO tier). */
export const COMBO_TRIGGERS: ReadonlySet<string> = new Set([
  'breakout_high',
  'breakdown_low',
  'volume_spike',
  'momentum_spike',
  'bollinger_breakout_up',
  'bollinger_breakout_down',
  'resistance_break',
  'support_break',
  'gap_up',
  'gap_down',
  'bullish_engulfing',
  'bearish_engulfing',
]);
