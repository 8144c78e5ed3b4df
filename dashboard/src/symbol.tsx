import {
  CandlestickSeries,
  HistogramSeries,
  LineSeries,
  createSeriesMarkers,
  type ISeriesApi,
  type SeriesMarker,
  type UTCTimestamp,
} from 'lightweight-charts';
import { themedChart } from './chart.js';
import { useEffect, useRef, useState } from 'preact/hooks';
import { dataOf, type Bar, type Pattern, type Session, messageOf } from './api.js';
import { barTimeOf, bollinger } from './indicators.js';
import { follow, type LiveStatus } from './live.js';

/** The fields of a minute bar on the gateway's bars stream (schemas/aggregate.avsc) the chart draws. */
interface LiveBar {
  readonly windowStartMs: number | string;
  readonly open: number;
  readonly high: number;
  readonly low: number;
  readonly close: number;
  readonly volume: number;
}

/** The chart's series a live bar updates, and the time of its newest bar (older bars cannot be updated). */
interface LiveSeries {
  readonly candles: ISeriesApi<'Candlestick'>;
  readonly volume: ISeriesApi<'Histogram'>;
  lastTime: number;
  live: number;
}

type Interval = '1m' | '1d';
const seconds = (iso: string) => Math.floor(Date.parse(iso) / 1000);

/**
 * A symbol's candles and volume (1-minute or daily bars), SMA 20 and Bollinger bands, its pattern history as
 * markers, and on the minute chart the live minute bars from the gateway's bars stream.
 */
export function SymbolView({
  session,
  symbol,
  onLive,
}: {
  session: Session;
  symbol: string;
  onLive: (status: LiveStatus | undefined) => void;
}) {
  const [interval, setInterval] = useState<Interval>('1d');
  const [bars, setBars] = useState<Bar[] | undefined>();
  const [patterns, setPatterns] = useState<Pattern[]>([]);
  const [error, setError] = useState<string | undefined>();
  const [selected, setSelected] = useState<Pattern | undefined>();
  const chartBox = useRef<HTMLDivElement>(null);
  const liveSeries = useRef<LiveSeries | undefined>(undefined);

  useEffect(() => {
    let current = true;
    setBars(undefined);
    Promise.all([
      dataOf(session.api.GET('/api/symbols/{symbol}/bars', { params: { path: { symbol }, query: { interval, limit: '1000' } } })),
      dataOf(
        session.api.GET('/api/patterns/scan', {
          params: { query: { symbols: symbol, status: 'all', confidence_min: '0', sort_by: 'detected_at', per_page: '100' } },
        }),
      ),
    ]).then(
      ([barPage, scan]) => {
        if (!current) return;
        setBars(barPage.data);
        setPatterns(scan.data.filter((row) => (interval === '1d' ? row.tier !== 'INTRADAY' : row.tier !== 'DAILY')));
        setError(undefined);
      },
      (problem: unknown) => current && setError(messageOf(problem)),
    );
    return () => {
      current = false;
    };
  }, [symbol, interval]);

  useEffect(() => {
    const box = chartBox.current;
    if (!box || !bars) return;
    const chart = themedChart(box, interval === '1m');
    const candles = chart.addSeries(CandlestickSeries);
    const sorted = [...bars].sort((a, b) => seconds(a.bucket) - seconds(b.bucket));
    candles.setData(
      sorted.map((bar) => ({ time: seconds(bar.bucket) as UTCTimestamp, open: bar.open, high: bar.high, low: bar.low, close: bar.close })),
    );
    const volume = chart.addSeries(HistogramSeries, { priceFormat: { type: 'volume' }, priceScaleId: '' });
    volume.priceScale().applyOptions({ scaleMargins: { top: 0.8, bottom: 0 } });
    volume.setData(sorted.map((bar) => ({ time: seconds(bar.bucket) as UTCTimestamp, value: bar.volume })));
    const bands = bollinger(sorted.map((bar) => ({ time: seconds(bar.bucket), value: bar.close })));
    for (const [line, color] of [
      [bands.middle, '#d29922'],
      [bands.upper, '#8b949e'],
      [bands.lower, '#8b949e'],
    ] as const) {
      const series = chart.addSeries(LineSeries, { color, lineWidth: 1, priceLineVisible: false, lastValueVisible: false });
      series.setData(line.map((point) => ({ time: point.time as UTCTimestamp, value: point.value })));
    }
    const times = sorted.map((bar) => seconds(bar.bucket));
    const markers: SeriesMarker<UTCTimestamp>[] = [];
    for (const pattern of patterns) {
      const time = barTimeOf(times, seconds(pattern.detected_at));
      if (time === undefined) continue;
      const bullish = pattern.direction.toUpperCase() === 'BULLISH';
      markers.push({
        time: time as UTCTimestamp,
        position: bullish ? 'belowBar' : 'aboveBar',
        color: bullish ? '#1a7f37' : '#cf222e',
        shape: bullish ? 'arrowUp' : 'arrowDown',
        text: pattern.pattern,
        id: pattern.id,
      });
    }
    markers.sort((a, b) => a.time - b.time);
    createSeriesMarkers(candles, markers);
    chart.subscribeClick((event) => {
      const id = typeof event.hoveredObjectId === 'string' ? event.hoveredObjectId : undefined;
      if (id) setSelected(patterns.find((pattern) => pattern.id === id));
    });
    chart.timeScale().fitContent();
    box.dataset.bars = String(sorted.length);
    box.dataset.markers = String(markers.length);
    box.dataset.live = '0';
    liveSeries.current = { candles, volume, lastTime: times[times.length - 1] ?? 0, live: 0 };
    return () => {
      liveSeries.current = undefined;
      chart.remove();
    };
  }, [bars, patterns]);

  // Live minute bars (the gateway streams minute bars only): a bar updates the chart's last candle or adds one.
  useEffect(() => {
    if (interval !== '1m') return;
    const stop = follow<LiveBar>({
      auth: { token: async () => (await session.token()) ?? '' },
      stream: 'bars',
      filter: { symbols: [symbol] },
      onStatus: onLive,
      onEvents: (events) => {
        const target = liveSeries.current;
        if (!target) return;
        for (const { data } of events) {
          const startMs = typeof data.windowStartMs === 'number' ? data.windowStartMs : Date.parse(data.windowStartMs);
          const time = Math.floor(startMs / 1000);
          if (!Number.isFinite(time) || time < target.lastTime) continue;
          target.candles.update({ time: time as UTCTimestamp, open: data.open, high: data.high, low: data.low, close: data.close });
          target.volume.update({ time: time as UTCTimestamp, value: data.volume });
          target.lastTime = time;
          target.live += 1;
        }
        if (chartBox.current) chartBox.current.dataset.live = String(target.live);
      },
    });
    return () => {
      stop();
      onLive(undefined);
    };
  }, [symbol, interval]);

  return (
    <section>
      <h1>{symbol}</h1>
      <label>
        Bars
        <select value={interval} onChange={(event) => setInterval((event.target as HTMLSelectElement).value as Interval)}>
          <option value="1d">Daily</option>
          <option value="1m">1 minute (live)</option>
        </select>
      </label>
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      {bars && bars.length === 0 && (
        <p class="status">
          No {interval === '1d' ? 'daily' : 'minute'} bars for {symbol} yet.
        </p>
      )}
      <div class="chart" ref={chartBox} data-testid="chart" />
      {selected && (
        <p class="status" data-testid="selected">
          {selected.pattern} ({selected.tier}, {selected.direction}) at {selected.detected_at}: confidence {selected.confidence.toFixed(3)}
        </p>
      )}
      <h2>Pattern history</h2>
      <table>
        <thead>
          <tr>
            <th>Detected</th>
            <th>Pattern</th>
            <th>Tier</th>
            <th>Direction</th>
            <th>Confidence</th>
            <th>Status</th>
          </tr>
        </thead>
        <tbody>
          {patterns.map((pattern) => (
            <tr
              key={pattern.id}
              tabIndex={0}
              aria-selected={selected?.id === pattern.id}
              onClick={() => setSelected(pattern)}
              onKeyDown={(event) => event.key === 'Enter' && setSelected(pattern)}
            >
              <td>{pattern.detected_at.slice(0, 16).replace('T', ' ')}</td>
              <td>{pattern.pattern}</td>
              <td>{pattern.tier}</td>
              <td>{pattern.direction}</td>
              <td class="num">{pattern.confidence.toFixed(3)}</td>
              <td>{pattern.status}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}
