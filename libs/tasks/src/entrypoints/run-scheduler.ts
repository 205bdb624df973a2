import type { INestApplicationContext, Type } from '@nestjs/common';
import { assertPeersInstalled, importNestjsPinoIfInstalled } from '../peers/optional-peers.js';
import { createBootedContext, startOrReport } from './boot.js';
import { CronCatalog } from '../cron/cron.catalog.js';
import { CronScheduler } from '../scheduler/cron-scheduler.js';
import { TasksHealthServer } from '../health/tasks-health.server.js';

/**
 * Boots `module` as a scheduler: a Nest application context that fires every
 * discovered `@Cron()` at its ticks. Run as many replicas as you like. It
 * needs the run-tracking database (cron_schedules) when one of the app's
 * crons is tracked (an app whose crons are all `track: false` keeps their
 * schedules in Redis), and logs through nestjs-pino when the module imports its LoggerModule. A
 * boot that fails writes its reason as the first line on stderr, then rejects.
 */
export async function runScheduler(module: Type<unknown>): Promise<INestApplicationContext> {
  const pino = await importNestjsPinoIfInstalled();
  const app = await createBootedContext(module, pino?.Logger);
  // Exit 0 after a clean stop, as the worker does.
  app.enableShutdownHooks(['SIGTERM', 'SIGINT'], { useProcessExit: true });
  await startOrReport(app, async () => {
    if (app.get(CronCatalog).all().some((cron) => cron.track)) assertPeersInstalled('tracking');
    await app.get(CronScheduler).startTicking();
    await app.get(TasksHealthServer).listen('scheduler');
  });
  return app;
}
