import { Inject, Injectable } from '@nestjs/common';
import { TASKS_OPTIONS } from '../options/tasks.constants.js';
import type { ResolvedTasksOptions } from '../options/tasks-options.interface.js';
import type { FindOptionsWhere } from 'typeorm';
import type { CronJobRun } from './cron-job-run.entity.js';
import type { CronRunStatus } from './cron-run-status.js';
import { TrackingDatabaseLocator } from './tracking-database.js';

/** What `CronRunsService.find()` selects. */
export interface CronRunQuery {
  /** Only runs of this job. */
  job?: string;
  /** Only runs with this status. */
  status?: CronRunStatus;
  /** At most this many, newest first. Default 20, at most 500. */
  limit?: number;
}

/** Reads this deployment's rows of cron_job_runs (its namespace only): the latest runs of a job, runs by status. Needs the optional TypeORM peers. */
@Injectable()
export class CronRunsService {
  /** @internal Built by Nest's injector. */
  constructor(
    private readonly database: TrackingDatabaseLocator,
    @Inject(TASKS_OPTIONS) private readonly options: ResolvedTasksOptions,
  ) {}

  async find(query: CronRunQuery = {}): Promise<CronJobRun[]> {
    const where: FindOptionsWhere<CronJobRun> = { namespace: this.options.prefix };
    if (query.job !== undefined) where.jobName = query.job;
    if (query.status !== undefined) where.status = query.status;
    const { runs } = await this.database.get();
    return runs.find({
      where,
      order: { scheduledAt: 'DESC', id: 'DESC' },
      take: Math.min(Math.max(query.limit ?? 20, 1), 500),
    });
  }

  latest(job: string, limit = 20): Promise<CronJobRun[]> {
    return this.find({ job, limit });
  }

  byStatus(status: CronRunStatus, limit = 20): Promise<CronJobRun[]> {
    return this.find({ status, limit });
  }
}
