import type { Job } from 'bullmq';
import type { DestinationStream, Logger, LoggerOptions } from 'pino';
import type { Params } from 'nestjs-pino';

/** The `context` field of the library's task lines. */
const LOG_CONTEXT = 'Tasks';

/**
 * The pino options and destination of the library's worker in the bench
 * (the example apps' `loggerParams()`: LOG_LEVEL, the escaping hook, the
 * buffered stdout destination), for a logging reference side to build its
 * own root logger from, so that every logging side formats its lines the same
 * way and writes them to the same kind of destination.
 */
export function pinoArguments(params: Params): [LoggerOptions, DestinationStream] {
  const { pinoHttp } = params;
  if (!Array.isArray(pinoHttp)) throw new Error('loggerParams() no longer returns pinoHttp as [options, destination]; update bench/src/shared/task-lines.ts');
  return [pinoHttp[0] as LoggerOptions, pinoHttp[1] as DestinationStream];
}

/**
 * Runs one job the way a hand-written worker would log it like the library
 * does: the two lines the library logs per task at the default level (start,
 * and end with its duration), with the same bindings (task, jobId, attempt),
 * through a child of `root`. A failure is logged as the library logs it.
 */
export async function runLogged<T>(root: Logger, job: Job, run: () => Promise<T>): Promise<T> {
  const attempt = job.attemptsMade + 1;
  const log = root.child({ task: job.name, jobId: job.id, attempt });
  const started = performance.now();
  log.info({ context: LOG_CONTEXT, event: 'task.started' }, `Task ${job.name} started (attempt ${attempt}/${job.opts.attempts ?? 1})`);
  try {
    const result = await run();
    const durationMs = Math.round(performance.now() - started);
    log.info({ context: LOG_CONTEXT, event: 'task.completed', durationMs }, `Task ${job.name} completed in ${durationMs} ms`);
    return result;
  } catch (error) {
    const durationMs = Math.round(performance.now() - started);
    log.error({ context: LOG_CONTEXT, event: 'task.failed', durationMs, err: error }, `Task ${job.name} failed after ${durationMs} ms`);
    throw error;
  }
}
