import { NestFactory } from '@nestjs/core';
import type { INestApplicationContext, Type } from '@nestjs/common';
import { importNestjsPino } from '../peers/optional-peers.js';
import { TaskWorkerHost } from './task-worker.host.js';

/**
 * Boots `module` as a worker: a Nest application context that consumes every
 * discovered `@Task()` and `@Cron()` and drains gracefully on SIGTERM/SIGINT.
 * The module imports `TasksModule` and nestjs-pino's `LoggerModule`.
 */
export async function runWorker(module: Type<unknown>): Promise<INestApplicationContext> {
  const { Logger } = await importNestjsPino();
  const app = await NestFactory.createApplicationContext(module, { bufferLogs: true, abortOnError: false });
  useNestjsPino(app, Logger);
  // After a clean drain the worker exits 0 (Nest's default re-raises the signal,
  // which reports a graceful stop as death by SIGTERM); an error while closing exits 1.
  app.enableShutdownHooks(['SIGTERM', 'SIGINT'], { useProcessExit: true });
  await app.get(TaskWorkerHost).start();
  return app;
}

/** Routes Nest's own lines through nestjs-pino when the app imports its LoggerModule (else `start()` names what is missing). */
export function useNestjsPino(app: INestApplicationContext, Logger: Type<unknown>): void {
  let logger: unknown;
  try {
    logger = app.get(Logger, { strict: false });
  } catch {
    app.flushLogs();
    return;
  }
  app.useLogger(logger as Parameters<INestApplicationContext['useLogger']>[0]);
}
