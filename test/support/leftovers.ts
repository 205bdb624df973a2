import pg from 'pg';
import { Redis } from 'ioredis';
import { scanMatching } from '#nestjs-tasks-internal';
import { TEST_DATABASE_URL } from './postgres.js';
import { REDIS_URL } from './redis.js';

/** What a prefix left behind: its Redis keys, and its rows of cron_job_runs and cron_schedules in the test database's own schema. */
export async function leftoversOf(
  prefix: string,
): Promise<{ keys: string[]; runs: number; schedules: number }> {
  const redis = new Redis(REDIS_URL);
  const keys: string[] = [];
  try {
    for await (const page of scanMatching(redis, `${prefix}:*`)) keys.push(...page);
  } finally {
    redis.disconnect();
  }
  const db = new pg.Client({
    connectionString: TEST_DATABASE_URL,
    connectionTimeoutMillis: 3_000,
  });
  await db.connect();
  try {
    const count = async (table: string) =>
      Number(
        (
          (
            await db.query(
              `SELECT count(*) AS n FROM ${table} WHERE namespace = $1`,
              [prefix],
            )
          ).rows[0] as { n: string }
        ).n,
      );
    return {
      keys: keys.sort(),
      runs: await count('cron_job_runs'),
      schedules: await count('cron_schedules'),
    };
  } finally {
    await db.end();
  }
}

/** Deletes the rows of `namespace` from cron_job_runs and cron_schedules of the test database's own schema. */
export async function removeRowsOf(namespace: string): Promise<void> {
  const db = new pg.Client({ connectionString: TEST_DATABASE_URL, connectionTimeoutMillis: 3_000 });
  await db.connect();
  try {
    await db.query('DELETE FROM cron_job_runs WHERE namespace = $1', [namespace]);
    await db.query('DELETE FROM cron_schedules WHERE namespace = $1', [namespace]);
  } finally {
    await db.end();
  }
}
