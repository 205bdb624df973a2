import { Queue, Worker, type Job, type Processor } from 'bullmq';
import { Redis } from 'ioredis';
import { Redlock } from '@sesamecare-oss/redlock';
import { hostname } from 'node:os';
import pg from 'pg';
import { pino } from 'pino';
import { loggerParams } from '@app/jobs/logger-params.js';
import {
  CRON_QUEUE,
  TASKS_QUEUE,
  bullmqConnection,
  claimRowSql,
  finishRunSql,
  parseRedisUrl,
} from '#nestjs-tasks-internal';
import { preciseNow } from '../shared/clock.js';
import { EXTRA_QUEUES, NAMES, type PlainRole } from '../shared/protocol.js';
import { plainSettings, type PlainPolicy } from '../shared/plain-policy.js';
import {
  countNoop,
  recordCron,
  recordLatency,
  serveOrchestrator,
} from '../shared/samples.js';
import { pinoArguments, runLogged } from '../shared/task-lines.js';
import { bullQueueName } from 'nestjs-tasks';

// The baseline children of `npm run bench`: plain BullMQ as a team would
// write it without the library, with the connection and lock settings the
// library's worker uses (BullMQ's defaults for lockDuration/stalledInterval).
const role = process.env.BENCH_ROLE as PlainRole;
const prefix = process.env.TASKS_PREFIX ?? 'bench';
const concurrency = Number(process.env.WORKER_CONCURRENCY ?? 10);
const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const connection = bullmqConnection(redisUrl, 'command');
// The processing scenario sets BENCH_PLAIN_POLICY (shared/plain-policy.ts); BullMQ's defaults otherwise.
const policy = plainSettings(
  (process.env.BENCH_PLAIN_POLICY as PlainPolicy | undefined) ?? 'defaults',
);
const workerOptions = {
  connection: bullmqConnection(redisUrl, 'blocking'),
  prefix,
  concurrency,
  lockDuration: 30_000,
  stalledInterval: 30_000,
  ...policy.worker,
};

const taskProcessor: Processor = async (job: Job) => {
  switch (job.name) {
    case NAMES.stamp:
      recordLatency([(job.data as { sentAt: number }).sentAt, preciseNow()]);
      return undefined;
    case NAMES.echo:
      return job.data as unknown;
    default:
      countNoop();
      return undefined;
  }
};

// BENCH_TASK_LINES=1: the plain worker logs the library's two lines per task,
// through pino set up as the library's worker sets it up (the same options and
// destination), so that the library's own code is the only difference.
const processor: Processor =
  process.env.BENCH_TASK_LINES === '1'
    ? withTaskLines(taskProcessor)
    : taskProcessor;

function withTaskLines(inner: Processor): Processor {
  const root = pino(...pinoArguments(loggerParams()));
  return (job: Job, token?: string, signal?: AbortSignal) =>
    runLogged(root, job, () => inner(job, token, signal));
}

/** Redlock and a pg pool, for the baseline of what the library's lock and run record cost. */
interface RawTracking {
  redlock: Redlock;
  pool: pg.Pool;
  runs: string;
  schedules: string;
  sequence: string;
}

/**
 * The library's own tables (cron_job_runs, cron_schedules), migrated into
 * BENCH_RAW_SCHEMA: the baseline writes what the library writes, by hand.
 */
async function rawTracking(redis: Redis): Promise<RawTracking> {
  const schema = pg.escapeIdentifier(process.env.BENCH_RAW_SCHEMA ?? 'public');
  const pool = new pg.Pool({
    connectionString: process.env.DATABASE_URL,
    max: 10,
  });
  const runs = `${schema}.cron_job_runs`;
  const { rows } = await pool.query<{ name: string }>(
    `SELECT pg_get_serial_sequence($1, 'id') AS name`,
    [runs],
  );
  return {
    redlock: new Redlock([redis], {
      retryCount: 0,
      automaticExtensionThreshold: 0,
    }),
    pool,
    runs,
    schedules: `${schema}.cron_schedules`,
    sequence: rows[0]?.name as string,
  };
}

/** The baseline of the cron scenario: a BullMQ job scheduler, and a worker in the same process. */
const cronProcessor =
  (raw: RawTracking): Processor =>
  async (job: Job) => {
    const handlerStart = preciseNow();
    // A scheduler's job carries its tick as prevMillis (and at the end of its id).
    const tick = Number(
      (job.opts as { prevMillis?: number }).prevMillis ??
        String(job.id).split(':').at(-1),
    );
    const handlerEnd = preciseNow();
    // After the timestamps: the lock and the run record by hand, with the library's own
    // statements (the claim with its pause check and fencing token, the fenced outcome)
    // through the raw drivers, so that the ratio is the library's own cost.
    const t0 = preciseNow();
    const lock = await raw.redlock.acquire(
      [`${prefix}:raw-lock:${NAMES.cron}`],
      30_000,
    );
    const { rows } = await raw.pool.query<{
      paused: boolean;
      id: string | null;
      fencing_token: string | null;
    }>(claimRowSql(raw.runs, raw.schedules), [
      prefix,
      NAMES.cron,
      new Date(tick),
      1,
      'schedule',
      lock.value,
      `${hostname()}:${process.pid}`,
      raw.sequence,
      30_000,
      true,
    ]);
    const t1 = preciseNow();
    await raw.pool.query(finishRunSql(raw.runs), [
      rows[0]?.id,
      rows[0]?.fencing_token,
      'COMPLETED',
      0,
      JSON.stringify({ tick }),
      null,
      null,
    ]);
    await lock.release();
    recordCron({
      tick,
      handlerStart,
      handlerEnd,
      rawBefore: t1 - t0,
      rawAfter: preciseNow() - t1,
    });
    return { tick };
  };

async function boot(): Promise<() => Promise<void>> {
  switch (role) {
    case 'plain-worker': {
      // BENCH_QUEUES=several: one Worker per queue of the several-queues side, each at WORKER_CONCURRENCY.
      const names =
        process.env.BENCH_QUEUES === 'several'
          ? [TASKS_QUEUE, ...EXTRA_QUEUES.map((queue) => bullQueueName(queue))]
          : [TASKS_QUEUE];
      const workers = names.map(
        (name) => new Worker(name, processor, workerOptions),
      );
      await Promise.all(workers.map((worker) => worker.waitUntilReady()));
      return async () => {
        await Promise.all(workers.map((worker) => worker.close()));
      };
    }
    case 'plain-cron': {
      const redis = new Redis(parseRedisUrl(redisUrl));
      const raw = await rawTracking(redis);
      const queue = new Queue(CRON_QUEUE, { connection, prefix });
      await queue.upsertJobScheduler(
        NAMES.cron,
        { pattern: '* * * * * *' },
        { name: NAMES.cron, data: {} },
      );
      const worker = new Worker(CRON_QUEUE, cronProcessor(raw), workerOptions);
      await worker.waitUntilReady();
      return async () => {
        await worker.close();
        await queue.close();
        await raw.pool.end();
        redis.disconnect();
      };
    }
    case 'plain-idle': {
      // What an idle worker holds without the library: two queues' workers
      // (tasks and cron), a Redlock client and a connected pg pool.
      const workers = [TASKS_QUEUE, CRON_QUEUE].map(
        (name) => new Worker(name, taskProcessor, workerOptions),
      );
      await Promise.all(workers.map((worker) => worker.waitUntilReady()));
      const redis = new Redis(parseRedisUrl(redisUrl));
      const redlock = new Redlock([redis], { retryCount: 0 });
      await (await redlock.acquire([`${prefix}:idle-lock`], 1_000)).release();
      const pool = new pg.Pool({
        connectionString: process.env.DATABASE_URL,
        max: 10,
      });
      await pool.query('SELECT 1');
      return async () => {
        await Promise.all(workers.map((worker) => worker.close()));
        redis.disconnect();
        await pool.end();
      };
    }
    default:
      throw new Error(`Unknown BENCH_ROLE "${String(role)}"`);
  }
}

serveOrchestrator(await boot());
