import { NestFactory } from '@nestjs/core';
import type { INestApplicationContext, Type } from '@nestjs/common';
import { Logger } from 'nestjs-pino';
import { CronScheduler } from './cron-scheduler.js';

/**
 * Boots `module` as a scheduler: a Nest application context that fires every
 * discovered `@Cron()` at its ticks. Run as many replicas as you like.
 */
export async function runScheduler(module: Type<unknown>): Promise<INestApplicationContext> {
  const app = await NestFactory.createApplicationContext(module, { bufferLogs: true, abortOnError: false });
  app.useLogger(app.get(Logger));
  // Exit 0 after a clean stop, as the worker does.
  app.enableShutdownHooks(['SIGTERM', 'SIGINT'], { useProcessExit: true });
  app.get(CronScheduler).start();
  return app;
}
