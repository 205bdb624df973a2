import { Inject, Injectable } from '@nestjs/common';
import { TASKS_OPTIONS } from '../options/tasks.constants.js';
import type { ResolvedTasksOptions } from '../options/tasks-options.interface.js';
import type { FindOptionsWhere } from 'typeorm';
import type { CronJobRun } from './cron-job-run.entity.js';
import type { CronRunStatus } from './cron-run-status.js';
import { TrackingDatabaseLocator, type TrackingDatabase } from './tracking-database.js';
import { UnknownCronError } from '../errors/tasks.errors.js';
import { optionName, unknownCronRuns } from '../errors/tasks.messages.js';

/** What `CronRunsService.find()` selects. */
export interface CronRunQuery {
  /** Only runs of this job; `UnknownCronError` when it has neither runs nor a schedule. */
  job?: string;
  /** Only runs with this status. */
  status?: CronRunStatus;
  /** At most this many, newest first. Default 20, at most 500. */
  limit?: number;
}

/**
 * The read face of the run store: this deployment's rows of cron_job_runs
 * (its namespace only), the latest runs of a job, runs by status. Needs the
 * optional TypeORM peers.
 */
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
    const database = await this.database.get();
    const rows = await database.runs.find({
      where,
      order: { scheduledAt: 'DESC', id: 'DESC' },
      take: Math.min(Math.max(query.limit ?? 20, 1), 500),
    });
    if (rows.length === 0 && query.job !== undefined) await this.assertScheduled(database, query.job);
    return rows;
  }

  latest(job: string, limit = 20): Promise<CronJobRun[]> {
    return this.find({ job, limit });
  }

  byStatus(status: CronRunStatus, limit = 20): Promise<CronJobRun[]> {
    return this.find({ status, limit });
  }

  // Without this, a misspelt job (or another deployment's prefix) would read as a cron that has not run yet.
  private async assertScheduled({ schedules }: TrackingDatabase, job: string): Promise<void> {
    const known = (await schedules.find({ select: { name: true }, where: { namespace: this.options.prefix }, order: { name: 'ASC' } })).map((row) => row.name);
    if (known.includes(job)) return;
    const { prefix, sources } = this.options;
    throw new UnknownCronError(unknownCronRuns(job, known, prefix, optionName(sources, 'prefix')), job, known);
  }
}
