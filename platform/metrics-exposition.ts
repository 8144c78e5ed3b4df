/** Reading a Prometheus text exposition (what a stage's /metrics answers): shared by the supervisor's status line, the soak tool and tests. */

/** A metric name, optionally narrowed to the samples whose labels contain `label` (e.g. `topic="patterns.events.v1"`). */
export type MetricSelector = string | { readonly name: string; readonly label: string };

/** Sum of every sample of the selected metrics in a Prometheus text exposition. */
export function sumMetric(exposition: string, selectors: readonly MetricSelector[]): number | undefined {
  let total: number | undefined;
  for (const line of exposition.split('\n')) {
    if (line.startsWith('#') || line.length === 0) continue;
    const space = line.lastIndexOf(' ');
    const series = line.slice(0, space);
    const brace = series.indexOf('{');
    const name = brace >= 0 ? series.slice(0, brace) : series;
    const labels = brace >= 0 ? series.slice(brace) : '';
    const selected = selectors.some((selector) =>
      typeof selector === 'string' ? selector === name : selector.name === name && labels.includes(selector.label),
    );
    if (!selected) continue;
    const value = Number(line.slice(space + 1));
    if (Number.isFinite(value)) total = (total ?? 0) + value;
  }
  return total;
}
