const started = performance.now();

/** A progress line on stderr, with the time since the bench started. */
export function progress(message: string): void {
  const seconds = ((performance.now() - started) / 1_000).toFixed(0).padStart(4);
  process.stderr.write(`[${seconds}s] ${message}\n`);
}
