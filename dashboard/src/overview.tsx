import { HistogramSeries, LineSeries, type UTCTimestamp } from 'lightweight-charts';
import { themedChart } from './chart.js';
import { useEffect, useRef, useState } from 'preact/hooks';
import { dataOf, type PatternCounts, type PatternStats, type PatternSummary, type Session, messageOf } from './api.js';
import { BREAKDOWNS, seriesOf, type Breakdown } from './breakdown.js';
import { BASE, link } from './router.js';

/** How many of the most active symbols the overview lists. */
const TOP_SYMBOLS = 10;

/** Line colours of the series over time, in order (readable on light and dark backgrounds). */
const PALETTE = ['#0b63c5', '#d1242f', '#1a7f37', '#bf8700', '#8250df', '#1b7c83', '#cf222e', '#6e7781', '#e16f24', '#4d2d8f'];

interface Loaded {
  readonly stats: PatternStats;
  readonly summary: PatternSummary;
  readonly counts: PatternCounts;
}

/**
 * The market at a glance: active patterns by tier and by pattern and detections per hour (/api/patterns/stats),
 * each tier's summary and most confident patterns (/api/patterns/summary), and the detections of the same window
 * by direction, the most active symbols, and over time by direction, pattern type or tier (/api/patterns/counts).
 */
export function Overview({ session }: { session: Session }) {
  const [hours, setHours] = useState('24');
  const [loaded, setLoaded] = useState<Loaded | undefined>();
  const [error, setError] = useState<string | undefined>();
  const chartBox = useRef<HTMLDivElement>(null);
  const [by, setBy] = useState<Breakdown>('direction');
  const splitBox = useRef<HTMLDivElement>(null);

  useEffect(() => {
    let current = true;
    Promise.all([
      dataOf(session.api.GET('/api/patterns/stats', { params: { query: { hours } } })),
      dataOf(session.api.GET('/api/patterns/summary')),
      dataOf(session.api.GET('/api/patterns/counts', { params: { query: { hours, top: String(TOP_SYMBOLS) } } })),
    ]).then(
      ([stats, summary, counts]) => current && (setLoaded({ stats, summary, counts }), setError(undefined)),
      (problem: unknown) => current && setError(messageOf(problem)),
    );
    return () => {
      current = false;
    };
  }, [hours]);

  useEffect(() => {
    const box = chartBox.current;
    if (!box || !loaded) return;
    const chart = themedChart(box, true);
    const series = chart.addSeries(HistogramSeries, { color: '#0b63c5', priceFormat: { type: 'volume' } });
    series.setData(
      loaded.stats.detections.hourly.map((row) => ({ time: Math.floor(Date.parse(row.bucket) / 1000) as UTCTimestamp, value: row.count })),
    );
    chart.timeScale().fitContent();
    box.dataset.points = String(loaded.stats.detections.hourly.length);
    return () => chart.remove();
  }, [loaded]);

  const split = loaded ? seriesOf(loaded.counts, by) : [];
  useEffect(() => {
    const box = splitBox.current;
    if (!box || !loaded) return;
    const chart = themedChart(box, true);
    split.forEach((line, index) => {
      const series = chart.addSeries(LineSeries, {
        color: PALETTE[index % PALETTE.length]!,
        lineWidth: 2,
        title: line.key.toLowerCase(),
        priceFormat: { type: 'price', precision: 0, minMove: 1 },
      });
      series.setData(line.points.map((point) => ({ time: point.time as UTCTimestamp, value: point.value })));
    });
    chart.timeScale().fitContent();
    box.dataset.series = String(split.length);
    return () => chart.remove();
  }, [loaded, by]);

  return (
    <section>
      <h1>Overview</h1>
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      {!loaded && !error && <p class="status">loading…</p>}
      {loaded && (
        <>
          <p class="status" data-testid="active-total">
            {loaded.stats.active_total.toLocaleString('en-US')} active patterns
          </p>
          <div class="cards">
            {loaded.summary.tiers.map((tier) => (
              <div class="card" data-tier={tier.tier}>
                <h2>{tier.tier.toLowerCase()}</h2>
                <p class="big">{tier.active.toLocaleString('en-US')}</p>
                <p class="status">
                  mean confidence {tier.average_confidence === null ? '–' : tier.average_confidence.toFixed(3)} · latest{' '}
                  {tier.latest_detected_at ? tier.latest_detected_at.slice(0, 16).replace('T', ' ') : '–'}
                </p>
                <ol class="top">
                  {tier.top.map((pattern) => (
                    <li>
                      <a href={`${BASE}symbol/${pattern.symbol}`} onClick={link(`${BASE}symbol/${pattern.symbol}`)}>
                        {pattern.symbol}
                      </a>{' '}
                      {pattern.pattern} · {pattern.direction.toLowerCase()} · {pattern.confidence.toFixed(2)}
                    </li>
                  ))}
                </ol>
              </div>
            ))}
          </div>
          <div class="cards">
            <Bars title="Active by tier" rows={loaded.stats.by_tier} testid="by-tier" />
            <Bars title="Active by pattern" rows={loaded.stats.by_pattern} testid="by-pattern" />
            <Bars
              title={`Detections by direction, last ${hours} h`}
              rows={loaded.counts.by_direction.map((row) => ({ key: row.key.toLowerCase(), count: row.count }))}
              testid="by-direction"
            />
            <Bars
              title={`Most active symbols, last ${hours} h (${loaded.counts.symbols_total.toLocaleString('en-US')} with detections)`}
              rows={loaded.counts.by_symbol}
              testid="top-symbols"
              href={(key) => `${BASE}symbol/${key}`}
            />
          </div>
        </>
      )}
      <h2>
        Detections per hour{' '}
        <label class="inline">
          over{' '}
          <select value={hours} onChange={(event) => setHours((event.target as HTMLSelectElement).value)}>
            {['6', '24', '72', '168'].map((value) => (
              <option value={value}>{value} h</option>
            ))}
          </select>
        </label>
      </h2>
      {loaded && (
        <p class="status">
          {loaded.stats.detections.total.toLocaleString('en-US')} detections in the {loaded.stats.detections.hours} hours up to the market
          clock
        </p>
      )}
      <div class="chart small" ref={chartBox} data-testid="hourly" />
      <h2>
        Detections over time by{' '}
        <label class="inline">
          <span class="skip">split by</span>
          <select value={by} onChange={(event) => setBy((event.target as HTMLSelectElement).value as Breakdown)} data-testid="split-by">
            {(Object.keys(BREAKDOWNS) as Breakdown[]).map((value) => (
              <option value={value}>{value === 'pattern' ? 'pattern type' : value}</option>
            ))}
          </select>
        </label>
      </h2>
      {loaded && (
        <ul class="legend" data-testid="split-legend">
          {split.length === 0 && <li class="status">no detections in the window</li>}
          {split.map((line, index) => (
            <li data-key={line.key}>
              <span class="swatch" style={{ background: PALETTE[index % PALETTE.length] }} /> {line.key.toLowerCase()}{' '}
              <span class="num">{line.total.toLocaleString('en-US')}</span>
            </li>
          ))}
        </ul>
      )}
      <div class="chart small" ref={splitBox} data-testid="split" />
    </section>
  );
}

/** A labelled horizontal bar per row, scaled to the largest (plain HTML: readable, and no chart for a list). */
function Bars(props: { title: string; rows: { key: string; count: number }[]; testid: string; href?: (key: string) => string }) {
  const max = Math.max(1, ...props.rows.map((row) => row.count));
  return (
    <figure class="card bars" data-testid={props.testid}>
      <figcaption>{props.title}</figcaption>
      {props.rows.length === 0 && <p class="status">none</p>}
      {props.rows.map((row) => (
        <div class="bar-row" data-key={row.key}>
          <span class="bar-label">
            {props.href ? (
              <a href={props.href(row.key)} onClick={link(props.href(row.key))}>
                {row.key}
              </a>
            ) : (
              row.key
            )}
          </span>
          <span class="bar" style={{ width: `${(row.count / max) * 100}%` }} />
          <span class="num">{row.count.toLocaleString('en-US')}</span>
        </div>
      ))}
    </figure>
  );
}
