import { NestFactory } from '@nestjs/core';
import type { INestApplicationContext, Type } from '@nestjs/common';
import { importNestjsPinoIfInstalled } from '../peers/optional-peers.js';
import { useNestjsPino } from '../worker/run-worker.js';
import { CronScheduler } from './cron-scheduler.js';

/**
 * Boots `module` as a scheduler: a Nest application context that fires every
 * discovered `@Cron()` at its ticks. Run as many replicas as you like. It logs
 * through nestjs-pino when the module imports its LoggerModule.
 */
export async function runScheduler(module: Type<unknown>): Promise<INestApplicationContext> {
  const pino = await importNestjsPinoIfInstalled();
  const app = await NestFactory.createApplicationContext(module, { bufferLogs: true, abortOnError: false });
  if (pino) useNestjsPino(app, pino.Logger);
  else app.flushLogs();
  // Exit 0 after a clean stop, as the worker does.
  app.enableShutdownHooks(['SIGTERM', 'SIGINT'], { useProcessExit: true });
  app.get(CronScheduler).start();
  return app;
}
