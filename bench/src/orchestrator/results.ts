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
  /** Where the row also shows in the summary tables. */
  summary?: SummaryCell[];
}

/**
 * A cell of a summary table: section (one table), row and column, and which
 * figure of the metric it shows; with `target`, pass or FAIL after it (the
 * column's name says what the target is).
 */
export interface SummaryCell {
  section: string;
  row: string;
  column: string;
  show: 'ratio' | 'library' | 'baseline';
  target?: boolean;
}

/** `metric`, also shown in the summary tables at `cells`. */
export function inSummary(metric: MetricRow, ...cells: SummaryCell[]): MetricRow {
  return { ...metric, summary: [...(metric.summary ?? []), ...cells] };
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
  // Commands per job: a thousandth tells a per-run command from a per-job one.
  if (unit === 'cmds') return value.toFixed(3);
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

function summaryCell(metric: MetricRow, at: SummaryCell): string {
  const figure = at.show === 'ratio' ? cell(metric.ratio, 'ratio') : cell(at.show === 'library' ? metric.library : metric.baseline, metric.unit);
  if (!at.target || !metric.target) return figure;
  return `${figure} ${metric.target.met ? 'pass' : 'FAIL'}`;
}

function alignedTable(rows: string[][]): string {
  const widths = (rows[0] as string[]).map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) => `| ${widths.map((w, i) => (r[i] ?? '').padEnd(w)).join(' | ')} |`;
  return [line(rows[0] as string[]), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.slice(1).map(line)].join('\n');
}

/** The summary tables: one per section, its rows and columns in the order the metrics name them. */
export function summaryTables(metrics: readonly MetricRow[]): string {
  const sections = new Map<string, { rows: string[]; columns: string[]; cells: Map<string, string> }>();
  for (const metric of metrics) {
    for (const at of metric.summary ?? []) {
      let section = sections.get(at.section);
      if (!section) sections.set(at.section, (section = { rows: [], columns: [], cells: new Map() }));
      if (!section.rows.includes(at.row)) section.rows.push(at.row);
      if (!section.columns.includes(at.column)) section.columns.push(at.column);
      section.cells.set(`${at.row}\u0000${at.column}`, summaryCell(metric, at));
    }
  }
  return [...sections]
    .map(([name, { rows, columns, cells }]) => {
      const table = [['', ...columns], ...rows.map((r) => [r, ...columns.map((c) => cells.get(`${r}\u0000${c}`) ?? '—')])];
      return `${name}:\n\n${alignedTable(table)}`;
    })
    .join('\n\n');
}

/** The results as a Markdown table (readable in a terminal, pasteable into docs/benchmarks.md). */
export function markdownTable(metrics: readonly MetricRow[]): string {
  const rows = [HEADER, ...metrics.map(cells)];
  const widths = HEADER.map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  const line = (r: string[]) => `| ${r.map((c, i) => c.padEnd(widths[i])).join(' | ')} |`;
  return [line(rows[0]), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.slice(1).map(line)].join('\n');
}
