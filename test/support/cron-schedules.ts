import type { TestingModule } from '@nestjs/testing';
import { CronCatalog, type PostgresScheduleStore } from '#nestjs-tasks-internal';

/** A cron as a scheduler hands it to its store's reconcile. */
export type DeclaredSchedule = Parameters<PostgresScheduleStore['reconcile']>[0][number];

/** What a scheduler reconciles at boot: one schedule per cron of the app's code (catch-up `skip`). */
export function declaredSchedules(app: TestingModule): DeclaredSchedule[] {
  return app
    .get(CronCatalog)
    .all()
    .map((cron) => ({
      name: cron.name,
      expression: cron.expression,
      timeZone: cron.timeZone,
      catchUp: 'skip',
      overlap: cron.overlap,
      source: cron.source,
      internal: cron.internal,
      nextTick: cron.schedule.nextTick(Date.now()),
    }));
}
