import type { INestApplicationContext, Type } from '@nestjs/common';
import { importNestjsPino } from '../peers/optional-peers.js';
import { createBootedContext, reportBootFailure, startOrReport } from './boot.js';
import { TaskWorkerHost, type WorkerQueueSelection } from '../worker/task-worker.host.js';
import { TasksConfigurationError } from '../errors/tasks.errors.js';
import { invalidEnv } from '../errors/tasks.messages.js';
import { TasksHealthServer } from '../health/tasks-health.server.js';

/**
 * Boots `module` as a worker: a Nest application context that consumes every
 * discovered `@Task()` and `@Cron()` and drains gracefully on SIGTERM/SIGINT.
 * The module imports `TasksModule` and nestjs-pino's `LoggerModule`. A boot
 * that fails writes its reason as the first line on stderr, then rejects.
 *
 * `{ queues }` makes it a pool of some queues only: `runWorker(AppModule, { queues: ['reports'] })`,
 * or with a concurrency each, `{ queues: { reports: 2, mail: 20 } }` (see `workerQueuesFromEnv`).
 */
export async function runWorker(module: Type<unknown>, options: WorkerQueueSelection = {}): Promise<INestApplicationContext> {
  let Logger: Type<unknown>;
  try {
    ({ Logger } = await importNestjsPino());
  } catch (error) {
    reportBootFailure(error);
    throw error;
  }
  const app = await createBootedContext(module, Logger);
  // After a clean drain the worker exits 0 (Nest's default re-raises the signal,
  // which reports a graceful stop as death by SIGTERM); an error while closing exits 1.
  app.enableShutdownHooks(['SIGTERM', 'SIGINT'], { useProcessExit: true });
  await startOrReport(app, async () => {
    await app.get(TaskWorkerHost).startConsuming(options);
    await app.get(TasksHealthServer).listen('worker');
  });
  return app;
}

/**
 * The queues of `WORKER_QUEUES`, for `runWorker(AppModule, { queues: workerQueuesFromEnv() })`:
 * a comma-separated list of queue names, each optionally with its concurrency
 * (`reports:2,mail:20,default`). Undefined when unset or empty: every queue.
 */
export function workerQueuesFromEnv(env: Readonly<Record<string, string | undefined>> = process.env): WorkerQueueSelection['queues'] {
  const raw = env.WORKER_QUEUES?.trim();
  if (!raw) return undefined;
  const queues: Record<string, number | undefined> = {};
  for (const part of raw.split(',').map((item) => item.trim())) {
    const match = /^([^:\s]+)(?::(\d+))?$/.exec(part);
    if (!match || (match[2] !== undefined && Number(match[2]) < 1)) {
      throw new TasksConfigurationError(invalidEnv('WORKER_QUEUES', raw, 'queue names, each optionally with a concurrency: reports:2,mail:20,default'));
    }
    queues[match[1] as string] = match[2] === undefined ? undefined : Number(match[2]);
  }
  return queues;
}
