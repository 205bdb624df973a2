import { Injectable } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import type { DataSource, Repository } from 'typeorm';
import { TasksConfigurationError } from '../errors/tasks.errors.js';
import { cronDatabaseMissing, cronTableMissing } from '../errors/tasks.messages.js';
import { importTypeorm } from '../peers/optional-peers.js';
import type { CronJobRun } from './cron-job-run.entity.js';
import type { CronScheduleRecord } from './cron-schedule-record.entity.js';

/** The application's DataSource as run tracking uses it: raw SQL on the escaped table names, and the entities' repositories. */
export interface TrackingDatabase {
  readonly dataSource: DataSource;
  /** `cron_job_runs`, schema-qualified and escaped when the entity says so. */
  readonly table: string;
  /** `cron_schedules`, likewise. */
  readonly schedulesTable: string;
  /** The sequence behind `cron_job_runs.id`, which also hands out fencing tokens. */
  readonly tokenSequence: string;
  readonly runs: Repository<CronJobRun>;
  readonly schedules: Repository<CronScheduleRecord>;
}

/**
 * Finds the application's TypeORM DataSource holding the library's entity.
 * TypeORM is an optional peer: it is loaded here, on first use, so an app
 * without crons never needs it installed.
 */
@Injectable()
export class TrackingDatabaseLocator {
  private found?: Promise<TrackingDatabase>;

  constructor(private readonly moduleRef: ModuleRef) {}

  /** Rejects with a message naming the missing package or module; a failed lookup is tried again next time. */
  get(): Promise<TrackingDatabase> {
    this.found ??= this.locate().catch((error: unknown) => {
      this.found = undefined;
      throw error;
    });
    return this.found;
  }

  private async locate(): Promise<TrackingDatabase> {
    const { DataSource } = await importTypeorm();
    const { CronJobRun: entity } = await import('./cron-job-run.entity.js');
    const { CronScheduleRecord: scheduleEntity } = await import('./cron-schedule-record.entity.js');
    let dataSource: DataSource | undefined;
    try {
      dataSource = this.moduleRef.get(DataSource, { strict: false });
    } catch {
      dataSource = undefined;
    }
    if (!dataSource || !dataSource.hasMetadata(entity) || !dataSource.hasMetadata(scheduleEntity)) {
      throw new TasksConfigurationError(cronDatabaseMissing());
    }
    const escaped = (tablePath: string) =>
      tablePath
        .split('.')
        .map((part) => dataSource.driver.escape(part))
        .join('.');
    const table = escaped(dataSource.getMetadata(entity).tablePath);
    const schedulesTable = escaped(dataSource.getMetadata(scheduleEntity).tablePath);
    // A process that would fail every run for want of the tables fails its boot instead.
    const [found] = (await dataSource.query('SELECT to_regclass($1) AS runs, to_regclass($2) AS schedules', [table, schedulesTable])) as {
      runs: string | null;
      schedules: string | null;
    }[];
    if (!found?.runs) throw new TasksConfigurationError(cronTableMissing(dataSource.getMetadata(entity).tablePath));
    if (!found.schedules) throw new TasksConfigurationError(cronTableMissing(dataSource.getMetadata(scheduleEntity).tablePath));
    const [sequence] = (await dataSource.query(`SELECT pg_get_serial_sequence($1, 'id') AS name`, [table])) as { name: string }[];
    return {
      dataSource,
      table,
      schedulesTable,
      tokenSequence: sequence.name,
      runs: dataSource.getRepository(entity),
      schedules: dataSource.getRepository(scheduleEntity),
    };
  }
}
