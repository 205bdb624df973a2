import { NestFactory } from '@nestjs/core';
import type { INestApplicationContext, Type } from '@nestjs/common';
import { Logger } from 'nestjs-pino';
import { TaskWorkerHost } from './task-worker.host.js';

/**
 * Boots `module` as a worker: a Nest application context that consumes every
 * discovered `@Task()` and drains gracefully on SIGTERM/SIGINT.
 */
export async function runWorker(module: Type<unknown>): Promise<INestApplicationContext> {
  const app = await NestFactory.createApplicationContext(module, { bufferLogs: true, abortOnError: false });
  app.useLogger(app.get(Logger));
  // After a clean drain the worker exits 0 (Nest's default re-raises the signal,
  // which reports a graceful stop as death by SIGTERM); an error while closing exits 1.
  app.enableShutdownHooks(['SIGTERM', 'SIGINT'], { useProcessExit: true });
  await app.get(TaskWorkerHost).start();
  return app;
}
