import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Namespaces (the TASKS_PREFIX) in cron_job_runs, fencing tokens and
 * heartbeats on runs, at most one exclusive RUNNING row per job, MISSED rows,
 * and the cron_schedules table. Rows written before it belong to the default
 * namespace `tasks`.
 */
export class CronSchedulesAndFencing1796100000000 implements MigrationInterface {
  name = 'CronSchedulesAndFencing1796100000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      ALTER TABLE cron_job_runs
        ADD COLUMN namespace     text        NOT NULL DEFAULT 'tasks',
        ADD COLUMN fencing_token bigint,
        ADD COLUMN heartbeat_at  timestamptz,
        ADD COLUMN lock_ttl_ms   integer,
        ADD COLUMN exclusive     boolean     NOT NULL DEFAULT true,
        ADD COLUMN handed_back   boolean     NOT NULL DEFAULT false,
        ADD COLUMN reason        text`);
    // Every writer names its namespace from now on.
    await queryRunner.query(`ALTER TABLE cron_job_runs ALTER COLUMN namespace DROP DEFAULT`);
    await queryRunner.query(`
      ALTER TABLE cron_job_runs
        DROP CONSTRAINT ck_cron_job_runs_status,
        ADD CONSTRAINT ck_cron_job_runs_status CHECK (status IN ('RUNNING', 'COMPLETED', 'FAILED', 'SKIPPED', 'MISSED')),
        DROP CONSTRAINT uq_cron_job_runs_job_tick,
        ADD CONSTRAINT uq_cron_job_runs_job_tick UNIQUE (namespace, job_name, scheduled_at)`);
    await queryRunner.query(`DROP INDEX ix_cron_job_runs_status_scheduled`);
    await queryRunner.query(`DROP INDEX ix_cron_job_runs_scheduled`);
    await queryRunner.query(`CREATE INDEX ix_cron_job_runs_status_scheduled ON cron_job_runs (namespace, status, scheduled_at)`);
    await queryRunner.query(`CREATE INDEX ix_cron_job_runs_scheduled ON cron_job_runs (namespace, scheduled_at)`);
    // Older code could leave several RUNNING rows of one job: all but the newest were lost.
    await queryRunner.query(`
      UPDATE cron_job_runs r
         SET status = 'FAILED', completed_at = now(), error = 'Marked failed by the upgrade to one running run per job'
       WHERE status = 'RUNNING'
         AND EXISTS (SELECT 1 FROM cron_job_runs n
                      WHERE n.namespace = r.namespace AND n.job_name = r.job_name
                        AND n.status = 'RUNNING' AND n.id > r.id)`);
    // The database's guard against overlapping runs, whatever happens to the Redis lock.
    await queryRunner.query(`
      CREATE UNIQUE INDEX uq_cron_job_runs_one_running ON cron_job_runs (namespace, job_name)
       WHERE status = 'RUNNING' AND exclusive`);
    await queryRunner.query(`
      CREATE TABLE cron_schedules (
        namespace     text         NOT NULL,
        name          varchar(200) NOT NULL,
        expression    varchar(200) NOT NULL,
        time_zone     varchar(100) NOT NULL,
        catch_up      varchar(40)  NOT NULL,
        overlap       varchar(16)  NOT NULL,
        source        varchar(400),
        internal      boolean      NOT NULL DEFAULT false,
        paused        boolean      NOT NULL DEFAULT false,
        paused_reason text,
        paused_by     varchar(200),
        paused_at     timestamptz,
        last_tick_at  timestamptz,
        next_tick_at  timestamptz,
        removed_at    timestamptz,
        created_at    timestamptz  NOT NULL DEFAULT now(),
        updated_at    timestamptz  NOT NULL DEFAULT now(),
        CONSTRAINT pk_cron_schedules PRIMARY KEY (namespace, name)
      )`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE cron_schedules`);
    await queryRunner.query(`DROP INDEX uq_cron_job_runs_one_running`);
    await queryRunner.query(`DELETE FROM cron_job_runs WHERE status = 'MISSED'`);
    await queryRunner.query(`DROP INDEX ix_cron_job_runs_status_scheduled`);
    await queryRunner.query(`DROP INDEX ix_cron_job_runs_scheduled`);
    await queryRunner.query(`CREATE INDEX ix_cron_job_runs_status_scheduled ON cron_job_runs (status, scheduled_at)`);
    await queryRunner.query(`CREATE INDEX ix_cron_job_runs_scheduled ON cron_job_runs (scheduled_at)`);
    await queryRunner.query(`
      ALTER TABLE cron_job_runs
        DROP CONSTRAINT uq_cron_job_runs_job_tick,
        ADD CONSTRAINT uq_cron_job_runs_job_tick UNIQUE (job_name, scheduled_at),
        DROP CONSTRAINT ck_cron_job_runs_status,
        ADD CONSTRAINT ck_cron_job_runs_status CHECK (status IN ('RUNNING', 'COMPLETED', 'FAILED', 'SKIPPED'))`);
    await queryRunner.query(`
      ALTER TABLE cron_job_runs
        DROP COLUMN namespace, DROP COLUMN fencing_token, DROP COLUMN heartbeat_at, DROP COLUMN lock_ttl_ms,
        DROP COLUMN exclusive, DROP COLUMN handed_back, DROP COLUMN reason`);
  }
}
