/** Prometheus text-format samples, keyed `name{a="1",b="2"}` with labels sorted. */
export type Samples = Map<string, number>;

/** The key of one series: its name and labels, sorted by label name. */
export function seriesKey(name: string, labels: Record<string, string> = {}): string {
  const entries = Object.entries(labels).sort(([a], [b]) => a.localeCompare(b));
  return entries.length === 0 ? name : `${name}{${entries.map(([k, v]) => `${k}="${v}"`).join(',')}}`;
}

/** Parses the text format: HELP/TYPE comments skipped, each sample's labels re-sorted. */
export function parseMetrics(text: string): Samples {
  const samples: Samples = new Map();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match) throw new Error(`not a sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const [, key, value] of (match[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[key as string] = value as string;
    samples.set(seriesKey(match[1] as string, labels), Number(match[3]));
  }
  return samples;
}

/** GETs a /metrics endpoint and parses it; fails on anything but 200 with the text format. */
export async function scrape(url: string, headers: Record<string, string> = {}): Promise<Samples> {
  const response = await fetch(url, { headers, signal: AbortSignal.timeout(5_000) });
  const text = await response.text();
  if (response.status !== 200) throw new Error(`GET ${url} answered ${response.status}: ${text.slice(0, 200)}`);
  if (!response.headers.get('content-type')?.startsWith('text/plain; version=0.0.4')) {
    throw new Error(`GET ${url}: unexpected content-type ${response.headers.get('content-type')}`);
  }
  return parseMetrics(text);
}

/** A sample's value, 0 when the series does not exist (yet). */
export function valueOf(samples: Samples, name: string, labels: Record<string, string> = {}): number {
  return samples.get(seriesKey(name, labels)) ?? 0;
}

/** How much a series moved between two scrapes. */
export function delta(before: Samples, after: Samples, name: string, labels: Record<string, string> = {}): number {
  return valueOf(after, name, labels) - valueOf(before, name, labels);
}

/** The series (keys) whose name starts with `prefix`. */
export function seriesOf(samples: Samples, prefix: string): string[] {
  return [...samples.keys()].filter((key) => key.startsWith(prefix));
}
