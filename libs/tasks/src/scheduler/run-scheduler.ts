import type { INestApplicationContext, Type } from '@nestjs/common';
import { importNestjsPinoIfInstalled } from '../peers/optional-peers.js';
import { createBootedContext } from '../boot/boot.js';
import { CronScheduler } from './cron-scheduler.js';

/**
 * Boots `module` as a scheduler: a Nest application context that fires every
 * discovered `@Cron()` at its ticks. Run as many replicas as you like. It logs
 * through nestjs-pino when the module imports its LoggerModule. A boot that
 * fails writes its reason as the first line on stderr, then rejects.
 */
export async function runScheduler(module: Type<unknown>): Promise<INestApplicationContext> {
  const pino = await importNestjsPinoIfInstalled();
  const app = await createBootedContext(module, pino?.Logger);
  // Exit 0 after a clean stop, as the worker does.
  app.enableShutdownHooks(['SIGTERM', 'SIGINT'], { useProcessExit: true });
  app.get(CronScheduler).start();
  app.flushLogs();
  return app;
}
