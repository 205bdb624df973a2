import { ratios, series, type Series } from './stats.js';

/** One line of the results table: a quantity measured for the library and, usually, for plain BullMQ. */
export interface MetricRow {
  scenario: string;
  metric: string;
  unit: string;
  /** Whether a larger value is better (rates) or worse (latencies, memory). */
  better: 'higher' | 'lower';
  library: Series;
  baseline?: Series;
  /** library / baseline, round by round. */
  ratio?: Series;
  target?: { text: string; met: boolean };
  note?: string;
}

export function row(
  fields: Omit<MetricRow, 'library' | 'baseline' | 'ratio'>,
  library: readonly number[],
  baseline?: readonly number[],
): MetricRow {
  return {
    ...fields,
    library: series(library),
    ...(baseline ? { baseline: series(baseline), ratio: ratios(library, baseline) } : {}),
  };
}

/** `target` for a row: met when `check` holds. */
export function withTarget(metric: MetricRow, text: string, check: (metric: MetricRow) => boolean): MetricRow {
  return { ...metric, target: { text, met: check(metric) } };
}

function format(value: number, unit: string): string {
  if (!Number.isFinite(value)) return 'n/a';
  if (unit === 'ratio') return value.toFixed(2);
  if (Math.abs(value) >= 1000) return Math.round(value).toLocaleString('en-US');
  if (Math.abs(value) >= 100) return value.toFixed(0);
  if (Math.abs(value) >= 10) return value.toFixed(1);
  return value.toFixed(2);
}

function cell(s: Series | undefined, unit: string): string {
  if (!s) return '—';
  if (s.values.length === 1) return format(s.median, unit);
  return `${format(s.median, unit)} (${format(s.min, unit)}–${format(s.max, unit)})`;
}

const HEADER = ['Scenario', 'Metric', 'Unit', 'Library median (min–max)', 'Plain BullMQ median (min–max)', 'Ratio lib/plain', 'Target', 'Met'];

function cells(metric: MetricRow): string[] {
  return [
    metric.scenario,
    metric.metric,
    metric.unit,
    cell(metric.library, metric.unit),
    cell(metric.baseline, metric.unit),
    cell(metric.ratio, 'ratio'),
    metric.target?.text ?? '',
    metric.target ? (metric.target.met ? 'yes' : 'NO') : '',
  ];
}

/** The results as a Markdown table (readable in a terminal, pasteable into docs/benchmarks.md). */
export function markdownTable(metrics: readonly MetricRow[]): string {
  const rows = [HEADER, ...metrics.map(cells)];
  const widths = HEADER.map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  const line = (r: string[]) => `| ${r.map((c, i) => c.padEnd(widths[i])).join(' | ')} |`;
  return [line(rows[0]), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.slice(1).map(line)].join('\n');
}
