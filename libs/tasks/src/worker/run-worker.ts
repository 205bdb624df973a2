import type { INestApplicationContext, Type } from '@nestjs/common';
import { importNestjsPino } from '../peers/optional-peers.js';
import { createBootedContext, reportBootFailure, startOrReport } from '../boot/boot.js';
import { TaskWorkerHost } from './task-worker.host.js';
import { TasksHealthServer } from '../health/health-server.js';

/**
 * Boots `module` as a worker: a Nest application context that consumes every
 * discovered `@Task()` and `@Cron()` and drains gracefully on SIGTERM/SIGINT.
 * The module imports `TasksModule` and nestjs-pino's `LoggerModule`. A boot
 * that fails writes its reason as the first line on stderr, then rejects.
 */
export async function runWorker(module: Type<unknown>): Promise<INestApplicationContext> {
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
    await app.get(TaskWorkerHost).start();
    await app.get(TasksHealthServer).start('worker');
  });
  return app;
}
