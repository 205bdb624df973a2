import type { MigrationInterface, QueryRunner } from 'typeorm';

export class CreateCronJobRuns1795800000000 implements MigrationInterface {
  name = 'CreateCronJobRuns1795800000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE cron_job_runs (
        id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        job_name     varchar(200) NOT NULL,
        status       varchar(16)  NOT NULL
                     CONSTRAINT ck_cron_job_runs_status CHECK (status IN ('RUNNING', 'COMPLETED', 'FAILED', 'SKIPPED')),
        scheduled_at timestamptz  NOT NULL,
        started_at   timestamptz,
        completed_at timestamptz,
        duration_ms  integer,
        result       jsonb,
        error        text,
        attempt      integer      NOT NULL DEFAULT 1,
        trigger      varchar(16)  NOT NULL DEFAULT 'schedule',
        lock_token   varchar(64),
        worker_id    varchar(200),
        CONSTRAINT uq_cron_job_runs_job_tick UNIQUE (job_name, scheduled_at)
      )`);
    // The unique index above also serves "latest runs of job X" (job_name, scheduled_at DESC).
    await queryRunner.query(`CREATE INDEX ix_cron_job_runs_status_scheduled ON cron_job_runs (status, scheduled_at)`);
    await queryRunner.query(`CREATE INDEX ix_cron_job_runs_scheduled ON cron_job_runs (scheduled_at)`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE cron_job_runs`);
  }
}
