import { Injectable } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import type { DataSource, Repository } from 'typeorm';
import { TasksConfigurationError } from '../errors/tasks.errors.js';
import { cronDatabaseMissing, cronTableMissing } from '../tasks.messages.js';
import { importTypeorm } from '../peers/optional-peers.js';
import type { CronJobRun } from './cron-job-run.entity.js';

/** The application's DataSource as run tracking uses it: raw SQL on the escaped table name, and the entity's repository. */
export interface TrackingDatabase {
  readonly dataSource: DataSource;
  /** `cron_job_runs`, schema-qualified and escaped when the entity says so. */
  readonly table: string;
  readonly runs: Repository<CronJobRun>;
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
    let dataSource: DataSource | undefined;
    try {
      dataSource = this.moduleRef.get(DataSource, { strict: false });
    } catch {
      dataSource = undefined;
    }
    if (!dataSource || !dataSource.hasMetadata(entity)) throw new TasksConfigurationError(cronDatabaseMissing());
    const { tablePath } = dataSource.getMetadata(entity);
    const table = tablePath
      .split('.')
      .map((part) => dataSource.driver.escape(part))
      .join('.');
    // A worker that would fail every run for want of the table fails its boot instead.
    const [found] = (await dataSource.query('SELECT to_regclass($1) AS oid', [table])) as { oid: string | null }[];
    if (!found?.oid) throw new TasksConfigurationError(cronTableMissing(tablePath));
    return { dataSource, table, runs: dataSource.getRepository(entity) };
  }
}
