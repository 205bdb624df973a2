import type { Provider } from '@nestjs/common';
import { CRON_QUEUE_TOKEN } from '../options/tasks.constants.js';
import { TasksClock } from '../options/tasks-clock.js';
import { CronLockService } from '../lock/cron-lock.service.js';
import { CronRunStore } from '../tracking/cron-run.store.js';
import { CronRunsService } from '../tracking/cron-runs.service.js';
import { PostgresScheduleStore } from '../tracking/postgres-schedule.store.js';
import { RedisScheduleStore } from '../tracking/redis-schedule.store.js';
import { ScheduleStoreSelector } from '../cron/schedule-store.selector.js';
import { CronRegistry } from '../client/cron.registry.js';
import { CronRunPipeline } from '../worker/cron-run-pipeline.js';
import { FakeClock } from './fake-clock.js';
import { InMemoryCronLocks } from './in-memory-cron-locks.js';
import { InMemoryCronRunStore } from './in-memory-run-store.js';
import { InMemoryScheduleStore } from './in-memory-schedule-store.js';
import { InMemoryCronRunsService } from './in-memory-cron-runs.service.js';
import { KitCronRegistry } from './kit-cron-registry.js';
import { CronTestDriver } from './cron-test-driver.js';

/**
 * The cron side of the testing kit: the production `CronRunPipeline`,
 * `ScheduleStoreSelector` and `CronRegistry` over in-memory ports (locks,
 * run store, schedule store) and the fake clock, under the production
 * tokens, and the {@link CronTestDriver} that fires the ticks. Needs
 * `TASKS_OPTIONS`, `CronCatalog` (filled by discovery), `RunLogContext` and
 * the pipeline's other collaborators from the kit's module.
 */
export const cronTestingProviders: Provider[] = [
  FakeClock,
  { provide: TasksClock, useExisting: FakeClock },
  InMemoryCronLocks,
  { provide: CronLockService, useExisting: InMemoryCronLocks },
  InMemoryScheduleStore,
  { provide: PostgresScheduleStore, useExisting: InMemoryScheduleStore },
  { provide: RedisScheduleStore, useExisting: InMemoryScheduleStore },
  ScheduleStoreSelector,
  InMemoryCronRunStore,
  { provide: CronRunStore, useExisting: InMemoryCronRunStore },
  InMemoryCronRunsService,
  { provide: CronRunsService, useExisting: InMemoryCronRunsService },
  CronRunPipeline,
  CronTestDriver,
  { provide: CRON_QUEUE_TOKEN, useFactory: (driver: CronTestDriver) => driver.queue, inject: [CronTestDriver] },
  KitCronRegistry,
  { provide: CronRegistry, useExisting: KitCronRegistry },
];

/** What the kit's module exports of the cron side: the production handles the app injects, and the driver. */
export const cronTestingExports = [CronRegistry, CronRunsService, TasksClock, FakeClock, CronTestDriver];
