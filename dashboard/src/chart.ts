import { createChart, type IChartApi } from 'lightweight-charts';

/** A chart in `box` in the system's light or dark colours, sized with its box; times shown when `timeVisible`. */
export function themedChart(box: HTMLElement, timeVisible: boolean): IChartApi {
  const dark = matchMedia('(prefers-color-scheme: dark)').matches;
  return createChart(box, {
    autoSize: true,
    layout: { background: { color: dark ? '#0f1318' : '#ffffff' }, textColor: dark ? '#e6edf3' : '#1b1f24' },
    timeScale: { timeVisible },
  });
}
