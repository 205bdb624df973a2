import { Injectable } from '@nestjs/common';
import type { ScheduleStore } from '../tracking/schedule.store.js';
import { PostgresScheduleStore } from '../tracking/postgres-schedule.store.js';
import { CronCatalog } from './cron.catalog.js';
import { RedisScheduleStore } from '../tracking/redis-schedule.store.js';

/**
 * Picks the schedule store of this app: Redis or cron_schedules. An app that declares
 * crons, none of them tracked, needs no database at all: its schedules live
 * in Redis. Any other app (one tracked cron is enough, and an app that
 * declares none, such as a producer listing the crons) uses cron_schedules.
 * The decision follows from the code alone, so every replica of the same
 * code makes the same one, whatever is installed.
 */
@Injectable()
export class ScheduleStoreSelector {
  constructor(
    private readonly catalog: CronCatalog,
    private readonly postgres: PostgresScheduleStore,
    readonly redis: RedisScheduleStore,
  ) {}

  /** True when the schedules are in Redis (every cron of the app is `track: false`). */
  get inRedis(): boolean {
    const crons = this.catalog.all();
    return crons.length > 0 && crons.every((cron) => !cron.track);
  }

  /** The store this app's schedules are in. */
  get store(): ScheduleStore {
    return this.inRedis ? this.redis : this.postgres;
  }
}
