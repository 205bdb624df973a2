// libs/jobs/src/maintenance/maintenance.jobs.kit.spec.ts
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Module } from '@nestjs/common';
import { Test, type TestingModule } from '@nestjs/testing';
import { getRepositoryToken } from '@nestjs/typeorm';
import { LoggerModule, PinoLogger } from 'nestjs-pino';
import type { FindOperator, Repository } from 'typeorm';
import { CronRegistry } from 'nestjs-tasks';
import {
  TasksTesting,
  TasksTestingModule,
  cronContext,
  type TasksTestingMode,
} from 'nestjs-tasks/testing';
import { DatabaseModule } from '../database/database.module.js';
import { JobsModule } from '../jobs.module.js';
import { ExpiringRecord } from './expiring-record.entity.js';
import { MaintenanceJobs } from './maintenance.jobs.js';

const MINUTE = 60_000;
// Two minutes before a tick of the cron's '*/5 * * * *'.
const T0 = new Date('2030-03-04T10:03:00.000Z');
const at = (iso: string): Date => new Date(`2030-03-04T${iso}.000Z`);

/** The table, in memory: enough of a TypeORM Repository for `delete({ expiresAt: LessThan(t) })`. */
class Records {
  rows: { id: string; expiresAt: Date }[] = [];
  /** While set, `delete` waits for it: a cleanup that is still running. */
  hold: Promise<void> | undefined;

  async delete(where: {
    expiresAt: FindOperator<Date>;
  }): Promise<{ affected: number; raw: unknown }> {
    await this.hold;
    const before = this.rows.length;
    this.rows = this.rows.filter(
      (row) => row.expiresAt >= (where.expiresAt.value as Date),
    );
    return { affected: before - this.rows.length, raw: [] };
  }
}

// JobsModule imports DatabaseModule (Postgres): the test swaps it for nothing, and the repository for the fake.
@Module({})
class NoDatabaseModule {}

async function boot(
  records: Records,
  mode?: TasksTestingMode,
): Promise<TestingModule> {
  const app = await Test.createTestingModule({
    imports: [
      TasksTestingModule.forRoot({ now: T0, mode }),
      LoggerModule.forRoot({ pinoHttp: { level: 'silent' } }),
      JobsModule,
    ],
  })
    .overrideModule(DatabaseModule)
    .useModule(NoDatabaseModule)
    .overrideProvider(getRepositoryToken(ExpiringRecord))
    .useValue(records)
    .compile();
  return app.init();
}

describe('the cleanupExpiredData cron, with the testing kit', () => {
  let records: Records;
  let app: TestingModule;
  let tasks: TasksTesting;

  beforeEach(async () => {
    records = new Records();
    records.rows = [
      { id: '1', expiresAt: at('10:04:00') },
      { id: '2', expiresAt: at('10:09:00') },
      { id: '3', expiresAt: at('11:00:00') },
    ];
    app = await boot(records);
    tasks = app.get(TasksTesting);
  });

  afterEach(async () => {
    await app.close();
  });

  it('fires exactly the ticks the clock passes, each deleting what expired before it', async () => {
    expect(await tasks.clock.advanceBy(MINUTE)).toEqual([]);

    const runs = await tasks.clock.advanceTo(at('10:10:00'));
    expect(
      runs.map((run) => [run.scheduledAt, run.status, run.result]),
    ).toEqual([
      [at('10:05:00'), 'COMPLETED', { deletedCount: 1 }],
      [at('10:10:00'), 'COMPLETED', { deletedCount: 1 }],
    ]);
    expect(records.rows.map((row) => row.id)).toEqual(['3']);

    // Each run holds the lock with a fencing token larger than the last.
    const [first, second] = tasks.runsOf('cleanupExpiredData');
    expect(second?.fencingToken).toBeGreaterThan(
      first?.fencingToken ?? Infinity,
    );
  });

  it("records a tick SKIPPED while the last run still goes (overlap: 'skip')", async () => {
    let release = (): void => {};
    records.hold = new Promise((resolve) => (release = resolve));

    await tasks.clock.advanceTo(at('10:05:00'));
    await tasks.clock.advanceTo(at('10:10:00'));
    expect(tasks.runsOf('cleanupExpiredData').map((run) => run.status)).toEqual(
      ['RUNNING', 'SKIPPED'],
    );

    release();
    await tasks.clock.advanceTo(at('10:15:00'));
    expect(tasks.runsOf('cleanupExpiredData').map((run) => run.status)).toEqual(
      ['COMPLETED', 'SKIPPED', 'COMPLETED'],
    );
  });

  it('records the ticks of an outage MISSED, and fires none while paused', async () => {
    tasks.stopWorker();
    await tasks.clock.advanceTo(at('10:20:00'));
    // Back 30 s after the last tick: later than the default catch-up grace of 10 s.
    await tasks.clock.advanceBy(30_000);
    await tasks.startWorker();
    expect(tasks.runsOf('cleanupExpiredData').map((run) => run.status)).toEqual(
      ['MISSED', 'MISSED', 'MISSED', 'MISSED'],
    );

    await app
      .get(CronRegistry)
      .pause('cleanupExpiredData', { reason: 'migrating the table' });
    await tasks.clock.advanceTo(at('10:40:00'));
    expect(tasks.runsOf('cleanupExpiredData')).toHaveLength(4);
    expect(records.rows).toHaveLength(3);
  });

  it('runs the same in inline mode', async () => {
    await app.close();
    app = await boot(records, 'inline');
    tasks = app.get(TasksTesting);
    const [run] = await tasks.clock.advanceTo(at('10:05:00'));
    expect(run).toMatchObject({
      status: 'COMPLETED',
      result: { deletedCount: 1 },
    });
  });
});

describe('cleanupExpiredData alone, in a plain unit test', () => {
  it('deletes what expired before the tick it is given', async () => {
    const records = new Records();
    records.rows = [
      { id: '1', expiresAt: at('11:59:00') },
      { id: '2', expiresAt: at('12:01:00') },
    ];
    const jobs = new MaintenanceJobs(
      records as unknown as Repository<ExpiringRecord>,
      new PinoLogger({ pinoHttp: { level: 'silent' } }),
    );
    await expect(
      jobs.cleanupExpiredData(cronContext({ scheduledAt: at('12:00:00') })),
    ).resolves.toEqual({ deletedCount: 1 });
    expect(records.rows.map((row) => row.id)).toEqual(['2']);
  });
});
