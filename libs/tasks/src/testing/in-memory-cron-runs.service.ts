import { Inject, Injectable } from '@nestjs/common';
import { TASKS_OPTIONS } from '../options/tasks.constants.js';
import type { ResolvedTasksOptions } from '../options/tasks-options.interface.js';
import type { CronJobRun } from '../tracking/cron-job-run.entity.js';
import type { CronRunQuery, CronRunsService } from '../tracking/cron-runs.service.js';
import type { CronRunStatus } from '../tracking/cron-run-status.js';
import { UnknownCronError } from '../errors/tasks.errors.js';
import { optionName, unknownCronRuns } from '../errors/tasks.messages.js';
import { InMemoryCronRunStore, type CronRun } from './in-memory-run-store.js';
import { InMemoryScheduleStore } from './in-memory-schedule-store.js';

/**
 * `CronRunsService` over the kit's run store, provided under its token: the
 * rows as TypeORM reads them (ids and fencing tokens as strings), newest
 * first, at most 500, and `UnknownCronError` for a job with neither runs nor
 * a schedule.
 */
@Injectable()
export class InMemoryCronRunsService implements Pick<CronRunsService, 'find' | 'latest' | 'byStatus'> {
  constructor(
    private readonly runs: InMemoryCronRunStore,
    private readonly schedules: InMemoryScheduleStore,
    @Inject(TASKS_OPTIONS) private readonly options: ResolvedTasksOptions,
  ) {}

  find(query: CronRunQuery = {}): Promise<CronJobRun[]> {
    const rows = (query.job === undefined ? this.runs.all() : this.runs.runsOf(query.job))
      .filter((run) => query.status === undefined || run.status === query.status)
      .reverse()
      .slice(0, Math.min(Math.max(query.limit ?? 20, 1), 500));
    if (rows.length === 0 && query.job !== undefined && !this.schedules.names().includes(query.job)) {
      const known = this.schedules.names();
      const { prefix, sources } = this.options;
      return Promise.reject(new UnknownCronError(unknownCronRuns(query.job, known, prefix, optionName(sources, 'prefix')), query.job, known));
    }
    return Promise.resolve(rows.map(asEntity));
  }

  latest(job: string, limit = 20): Promise<CronJobRun[]> {
    return this.find({ job, limit });
  }

  byStatus(status: CronRunStatus, limit = 20): Promise<CronJobRun[]> {
    return this.find({ status, limit });
  }
}

function asEntity(run: CronRun): CronJobRun {
  return { ...run, id: String(run.id), fencingToken: run.fencingToken === null ? null : String(run.fencingToken) };
}
