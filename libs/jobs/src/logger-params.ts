import type { Params } from 'nestjs-pino';
import { bufferedLogDestination, escapeLogText } from 'nestjs-tasks/extras';

/**
 * nestjs-pino settings shared by the example apps: JSON lines on stdout at LOG_LEVEL.
 *
 * Lines are buffered (up to 16 KB, written at least every 100 ms, and on exit)
 * rather than written one write(2) per line: a worker logs two lines per task,
 * and on hosts where system calls are dear (virtual machines) one write per line
 * cost more CPU than the whole BullMQ job (docs/benchmarks.md).
 * A process killed with SIGKILL can lose the last 100 ms of lines.
 *
 * Every line leaves with its control characters (C1 ones included, which JSON
 * does not escape), bidi controls and line separators as JSON escapes: the same
 * values for a JSON reader, nothing a terminal acts on for `tail` or `less`.
 */
export function loggerParams(): Params {
  return {
    pinoHttp: [{ level: process.env.LOG_LEVEL ?? 'info', hooks: { streamWrite: escapeLine } }, bufferedLogDestination()],
  };
}

/** A JSON line as pino writes it, with the newline that ends it. */
function escapeLine(line: string): string {
  return line.endsWith('\n') ? `${escapeLogText(line.slice(0, -1))}\n` : escapeLogText(line);
}
