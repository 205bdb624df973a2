import type { Params } from 'nestjs-pino';
import { pino } from 'pino';

/**
 * nestjs-pino settings shared by the example apps: JSON lines on stdout at LOG_LEVEL.
 *
 * Lines are buffered (up to 4 KB, flushed at least every 100 ms, and on exit)
 * rather than written one write(2) per line: a worker logs two lines per task,
 * and on hosts where system calls are dear (virtual machines) one write per line
 * cost more CPU than the whole BullMQ job at concurrency 1 (docs/benchmarks.md).
 * A process killed with SIGKILL can lose the last 100 ms of lines.
 */
export function loggerParams(): Params {
  const stdout = pino.destination({ dest: 1, sync: false, minLength: 4_096, periodicFlush: 100 });
  return { pinoHttp: [{ level: process.env.LOG_LEVEL ?? 'info' }, stdout] };
}
