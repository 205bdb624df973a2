import type { Params } from 'nestjs-pino';
import { bufferedLogDestination } from 'nestjs-tasks';

/**
 * nestjs-pino settings shared by the example apps: JSON lines on stdout at LOG_LEVEL.
 *
 * Lines are buffered (up to 16 KB, written at least every 100 ms, and on exit)
 * rather than written one write(2) per line: a worker logs two lines per task,
 * and on hosts where system calls are dear (virtual machines) one write per line
 * cost more CPU than the whole BullMQ job (docs/benchmarks.md).
 * A process killed with SIGKILL can lose the last 100 ms of lines.
 */
export function loggerParams(): Params {
  return { pinoHttp: [{ level: process.env.LOG_LEVEL ?? 'info' }, bufferedLogDestination()] };
}
