import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Injectable, Module } from '@nestjs/common';
import { Test, type TestingModule } from '@nestjs/testing';
import { Task } from '../task/task.decorator.js';
import type { TaskContext } from '../task/task-context.interface.js';
import { Cron } from '../cron/cron.decorator.js';
import type { CronContext } from '../cron/cron-context.js';
import { TaskClient } from '../client/task-client.js';
import type { TaskJobInfo } from '../client/task-client.types.js';
import { CronRunsService } from '../tracking/cron-runs.service.js';
import type { CronJobRun } from '../tracking/cron-job-run.entity.js';
import { CronRunStatus } from '../tracking/cron-run-status.js';
import type { CronRunQuery } from '../tracking/cron-runs.service.js';
import { NonRetriableError, TasksError, UnknownCronError } from '../errors/tasks.errors.js';
import { TasksTestingModule } from './tasks-testing.module.js';
import { TasksExpectationError, TasksTesting } from './tasks-testing.js';
import { waitForCronRun, waitForJob } from './wait-for.js';

// The helpers read public APIs only (TaskClient.getJob, CronRunsService.find):
// the kit's in-memory ones stand in for Redis and Postgres here, and stubs
// give the answers a real stack gives only by chance.

const T0 = Date.parse('2030-03-04T10:00:30.000Z');
const MINUTE = 60_000;
/** Longer than any test may take: a wait that had to run out would fail the test by its timeout. */
const NEVER = 600_000;

@Injectable()
class Jobs {
  @Task()
  async echo(payload: { value: number }, ctx: TaskContext): Promise<{ value: number }> {
    await ctx.updateProgress(100);
    return { value: payload.value };
  }

  @Task({ attempts: 5 })
  async rejects(payload: { why: string }): Promise<never> {
    throw new NonRetriableError(payload.why);
  }

  @Task({ queue: 'reports' })
  async report(): Promise<number> {
    return 1;
  }

  /** Every minute; fails while `failing` is set. */
  failing = false;

  @Cron('* * * * *', { name: 'minutely' })
  async minutely(ctx: CronContext): Promise<{ tick: string }> {
    if (this.failing) throw new Error('the minutely report is broken');
    return { tick: ctx.scheduledAt.toISOString() };
  }
}

@Module({ providers: [Jobs] })
class JobsModule {}

/** The process's active resources by type. */
function resources(): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const type of process.getActiveResourcesInfo()) counts[type] = (counts[type] ?? 0) + 1;
  return counts;
}

/** The error a promise rejects with (fails the test if it resolves). */
async function rejection(promise: Promise<unknown>): Promise<Error> {
  const outcome = await promise.then(
    (value) => ({ value }),
    (error: unknown) => ({ error }),
  );
  if (!('error' in outcome)) throw new Error(`expected a rejection, got ${JSON.stringify(outcome.value)}`);
  return outcome.error as Error;
}

/** A run as cron_job_runs holds it, for the stubs. */
function row(fields: Partial<CronJobRun>): CronJobRun {
  return {
    id: '1',
    namespace: 'test',
    jobName: 'minutely',
    status: CronRunStatus.RUNNING,
    scheduledAt: new Date(T0),
    startedAt: new Date(T0),
    completedAt: null,
    durationMs: null,
    result: null,
    error: null,
    attempt: 1,
    trigger: 'schedule',
    fencingToken: '1',
    heartbeatAt: new Date(T0),
    lockTtlMs: 60_000,
    exclusive: true,
    handedBack: false,
    reason: null,
    lockToken: 'token',
    workerId: 'host:1',
    ...fields,
  };
}

/** `CronRunsService.find` answering each read with the next of `answers` (the last one ever after), newest first as the service. */
function scriptedRuns(answers: Array<CronJobRun[] | Error>): { find: (query?: CronRunQuery) => Promise<CronJobRun[]>; reads: number } {
  const stub = {
    reads: 0,
    find: async () => {
      const answer = answers[Math.min(stub.reads, answers.length - 1)] as CronJobRun[] | Error;
      stub.reads += 1;
      if (answer instanceof Error) throw answer;
      return answer;
    },
  };
  return stub;
}

describe('waitForJob and waitForCronRun', () => {
  let app: TestingModule;
  let tasks: TasksTesting;
  let client: TaskClient;
  let jobs: Jobs;
  /** Counts the reads a wait makes of the kit's client. */
  let reads: number;
  let counted: Pick<TaskClient, 'getJob'>;

  beforeEach(async () => {
    app = await (await Test.createTestingModule({ imports: [TasksTestingModule.forRoot({ now: T0 }), JobsModule] }).compile()).init();
    tasks = app.get(TasksTesting);
    client = app.get(TaskClient);
    jobs = app.get(Jobs);
    reads = 0;
    counted = {
      getJob: (id) => {
        reads += 1;
        return client.getJob(id);
      },
    };
  });

  afterEach(async () => {
    await app.close();
  });

  describe('waitForJob', () => {
    it('resolves with the job once it reaches the state, read through TaskClient.getJob', async () => {
      const handle = await client.enqueue(Jobs, 'echo', { value: 7 });
      const waiting = waitForJob(counted, handle, 'completed', { timeoutMs: NEVER, intervalMs: 5 });
      await tasks.drain();
      const job = await waiting;
      expect(job).toMatchObject({ id: handle.id, name: 'echo', state: 'completed', result: { value: 7 }, attemptsMade: 1, progress: 100 });
      expect(reads).toBeGreaterThanOrEqual(1);
    });

    it('takes a job id as well as a handle, and a predicate on the job', async () => {
      const handle = await client.enqueue(Jobs, 'echo', { value: 8 });
      const waiting = waitForJob(client, handle.id, (job: TaskJobInfo) => job.progress === 100, { timeoutMs: NEVER, intervalMs: 5 });
      await tasks.drain();
      await expect(waiting).resolves.toMatchObject({ id: handle.id, state: 'completed' });
    });

    it('fails at once, with its error, when the job failed for good while awaited as completed', async () => {
      const handle = await client.enqueue(Jobs, 'rejects', { why: 'the upload is empty' });
      await tasks.drain();
      const error = await rejection(waitForJob(counted, handle, 'completed', { timeoutMs: NEVER }));
      expect(error).toBeInstanceOf(TasksExpectationError);
      expect(error.message).toBe(
        `waitForJob: job ${handle.id} (task "rejects") failed for good after 1 attempt(s), so it will not reach 'completed'. ` +
          'Its error: the upload is empty',
      );
      expect(reads).toBe(1);
    });

    it('fails at once when the job completed while awaited as failed, or finished past an awaited state', async () => {
      const handle = await client.enqueue(Jobs, 'echo', { value: 1 });
      await tasks.drain();
      const failed = await rejection(waitForJob(counted, handle, 'failed', { timeoutMs: NEVER }));
      expect(failed.message).toBe(`waitForJob: job ${handle.id} (task "echo") completed, so it will not reach 'failed'.`);
      const active = await rejection(waitForJob(counted, handle, 'active', { timeoutMs: NEVER }));
      expect(active.message).toContain("so it will not reach 'active' (a job can pass through 'active' between two reads: await the state it ends in)");
      const predicate = await rejection(waitForJob(counted, handle, () => false, { timeoutMs: NEVER }));
      expect(predicate.message).toContain('and its predicate does not accept it: a finished job changes no more');
      expect(reads).toBe(3);
    });

    it('fails at once when no such job is retained', async () => {
      const error = await rejection(waitForJob(counted, 'reports:404', 'completed', { timeoutMs: NEVER }));
      expect(error).toBeInstanceOf(TasksExpectationError);
      expect(error.message).toMatch(/^waitForJob: TaskClient\.getJob\(\) finds no job "reports:404" \(awaited: 'completed'\)\. Pass the handle enqueue\(\) returned/);
      expect(reads).toBe(1);
    });

    it('fails after timeoutMs, naming the job, the state awaited, the last state seen and what to check', async () => {
      const handle = await client.enqueue(Jobs, 'report', {});
      const error = await rejection(waitForJob(client, handle, 'completed', { timeoutMs: 100, intervalMs: 10 }));
      expect(error).toBeInstanceOf(TasksExpectationError);
      expect(error.message).toBe(
        `waitForJob: job ${handle.id} did not reach 'completed' within 100 ms (last seen: task "report", 'waiting', 0 attempt(s) made). ` +
          'Is a worker running that consumes queue "reports", on the same Redis and prefix (TASKS_PREFIX) as this app? ' +
          "If one is and the job is only slow (a worker's boot counts too), raise timeoutMs.",
      );
    });

    it('times out a read that never answers, and leaves no timer behind, whichever way it ends', async () => {
      const before = resources().Timeout ?? 0;
      const hung = { getJob: () => new Promise<undefined>(() => undefined) };
      const error = await rejection(waitForJob(hung, '1', 'completed', { timeoutMs: 50 }));
      expect(error.message).toContain("did not reach 'completed' within 50 ms (last seen: no answer from TaskClient.getJob() yet)");

      const answers: Array<Pick<TaskJobInfo, 'state'>> = [{ state: 'active' }, { state: 'completed' }];
      const finishing = { getJob: async () => ({ id: '1', name: 'echo', attemptsMade: 0, progress: 0, enqueuedAt: new Date(T0), ...answers.shift() }) as TaskJobInfo };
      await expect(waitForJob(finishing, '1', 'completed', { timeoutMs: NEVER, intervalMs: 5 })).resolves.toMatchObject({ state: 'completed' });
      expect(resources().Timeout ?? 0).toBe(before);
    });

    it('rethrows what getJob throws, and refuses arguments it cannot wait on', async () => {
      const broken = { getJob: () => Promise.reject(new Error('Connection is closed.')) };
      await expect(waitForJob(broken, '1', 'completed', { timeoutMs: NEVER })).rejects.toThrow('Connection is closed.');

      const typo = await rejection(waitForJob(client, '1', 'complete' as 'completed', { timeoutMs: 1_000 }));
      expect(typo).toBeInstanceOf(TasksError);
      expect(typo).not.toBeInstanceOf(TasksExpectationError);
      expect(typo.message).toMatch(/^waitForJob\(\): the expected state "complete" is not one of 'waiting', .*'completed', 'failed'/);
      await expect(waitForJob(client, undefined as unknown as string, 'completed', { timeoutMs: 1_000 })).rejects.toThrow(
        'waitForJob(): the job undefined is not a job id or the handle enqueue() returned.',
      );
      await expect(waitForJob(client, '1', 'completed', {} as { timeoutMs: number })).rejects.toThrow(
        'waitForJob(..., { timeoutMs }): undefined is not a positive number of ms.',
      );
      await expect(waitForJob(client, '1', 'completed', { timeoutMs: 1_000, intervalMs: 0 })).rejects.toThrow(
        'waitForJob(..., { intervalMs }): 0 is not a positive number of ms.',
      );
    });

    it("masks credentials in the job's error text", async () => {
      const handle = await client.enqueue(Jobs, 'rejects', { why: 'cannot reach redis://reports:s3cr3t-pw@cache.internal:6379' });
      await tasks.drain();
      const error = await rejection(waitForJob(client, handle, 'completed', { timeoutMs: NEVER }));
      expect(error.message).toContain('cannot reach redis://reports:***@cache.internal:6379');
      expect(error.message).not.toContain('s3cr3t-pw');
    });
  });

  describe('waitForCronRun', () => {
    it('resolves with the run once it reaches the status, read through CronRunsService.find', async () => {
      const waiting = waitForCronRun(app.get(CronRunsService), 'minutely', CronRunStatus.COMPLETED, { timeoutMs: NEVER, intervalMs: 5 });
      await tasks.clock.advanceBy(MINUTE);
      const run = await waiting;
      expect(run).toMatchObject({ jobName: 'minutely', status: 'COMPLETED', scheduledAt: new Date('2030-03-04T10:01:00.000Z'), result: { tick: '2030-03-04T10:01:00.000Z' } });
    });

    it('awaits the first run scheduled at or after since, and takes a predicate on the run', async () => {
      await tasks.clock.advanceBy(2 * MINUTE);
      const runs = app.get(CronRunsService);
      const second = await waitForCronRun(runs, 'minutely', CronRunStatus.COMPLETED, { since: new Date('2030-03-04T10:01:30.000Z'), timeoutMs: NEVER });
      expect(second.scheduledAt).toEqual(new Date('2030-03-04T10:02:00.000Z'));
      const first = await waitForCronRun(runs, 'minutely', (run) => (run.result as { tick: string }).tick.endsWith('01:00.000Z'), { timeoutMs: NEVER });
      expect(first.scheduledAt).toEqual(new Date('2030-03-04T10:01:00.000Z'));

      const later = waitForCronRun(runs, 'minutely', CronRunStatus.COMPLETED, { since: tasks.clock.now(), timeoutMs: NEVER, intervalMs: 5 });
      await tasks.clock.advanceBy(MINUTE);
      expect((await later).scheduledAt).toEqual(new Date('2030-03-04T10:03:00.000Z'));
    });

    it('fails at once, with its error, when the run FAILED with no attempt left while awaited as COMPLETED', async () => {
      jobs.failing = true;
      await tasks.clock.advanceBy(MINUTE);
      const [run] = tasks.runsOf('minutely');
      const error = await rejection(waitForCronRun(app.get(CronRunsService), 'minutely', CronRunStatus.COMPLETED, { timeoutMs: NEVER }));
      expect(error).toBeInstanceOf(TasksExpectationError);
      expect(error.message).toBe(
        `waitForCronRun: the run of cron "minutely" scheduled at 2030-03-04T10:01:00.000Z (run ${run?.id}, schedule) ended FAILED after 1 attempt(s), ` +
          'so it will not reach COMPLETED. (A cron with @Cron({ attempts }) retries a FAILED run: pass waitForCronRun the same attempts.) ' +
          'Its error: Error: the minutely report is broken',
      );
    });

    it('waits on through a FAILED run that a retry or a hand-back will claim again, and fails at once on SKIPPED or MISSED', async () => {
      const failedOnce = row({ status: CronRunStatus.FAILED, attempt: 1, error: 'Error: flaky\n    at stack' });
      const retried = scriptedRuns([[failedOnce], [row({ status: CronRunStatus.RUNNING, attempt: 2 })], [row({ status: CronRunStatus.COMPLETED, attempt: 2 })]]);
      await expect(waitForCronRun(retried, 'minutely', CronRunStatus.COMPLETED, { attempts: 2, timeoutMs: NEVER, intervalMs: 1 })).resolves.toMatchObject({ attempt: 2 });
      expect(retried.reads).toBe(3);

      const handedBack = scriptedRuns([[row({ status: CronRunStatus.FAILED, handedBack: true })], [row({ status: CronRunStatus.COMPLETED })]]);
      await expect(waitForCronRun(handedBack, 'minutely', CronRunStatus.COMPLETED, { timeoutMs: NEVER, intervalMs: 1 })).resolves.toMatchObject({ status: 'COMPLETED' });

      const skipped = scriptedRuns([[row({ status: CronRunStatus.SKIPPED, reason: 'Skipped: an earlier run still holds the lock' })]]);
      const error = await rejection(waitForCronRun(skipped, 'minutely', CronRunStatus.COMPLETED, { timeoutMs: NEVER }));
      expect(error.message).toBe(
        'waitForCronRun: the run of cron "minutely" scheduled at 2030-03-04T10:00:30.000Z (run 1, schedule) ended SKIPPED, so it will not reach COMPLETED. ' +
          'Reason: Skipped: an earlier run still holds the lock',
      );
      expect(skipped.reads).toBe(1);
    });

    it('takes a cron no scheduler has reconciled for one without runs yet, and says so when it times out', async () => {
      const unknown = new UnknownCronError('Unknown cron job "minutely": no schedule of that name in cron_schedules, so no runs.', 'minutely', []);
      const notYet = scriptedRuns([unknown, unknown, [row({ status: CronRunStatus.COMPLETED })]]);
      await expect(waitForCronRun(notYet, 'minutely', CronRunStatus.COMPLETED, { timeoutMs: NEVER, intervalMs: 1 })).resolves.toMatchObject({ status: 'COMPLETED' });

      const error = await rejection(waitForCronRun(app.get(CronRunsService), 'minutly', CronRunStatus.COMPLETED, { timeoutMs: 100, intervalMs: 10 }));
      expect(error).toBeInstanceOf(TasksExpectationError);
      expect(error.message).toMatch(/^waitForCronRun: no run of cron "minutly" reached COMPLETED within 100 ms \(last seen: no run yet \(Unknown cron job "minutly".*"minutely"/);
      expect(error.message).toContain('Is a worker running this cron on the same Redis, prefix (TASKS_PREFIX) and database as this app');
      expect(error.message).toContain('a scheduler process, or CronRegistry.trigger()? If so and the run is only slow');
    });

    it('fails after timeoutMs with the last run seen, and rethrows what find throws otherwise', async () => {
      await tasks.clock.advanceBy(MINUTE);
      const error = await rejection(
        waitForCronRun(app.get(CronRunsService), 'minutely', CronRunStatus.COMPLETED, { since: Date.parse('2030-03-04T10:01:30.000Z'), timeoutMs: 100, intervalMs: 10 }),
      );
      expect(error.message).toMatch(
        /^waitForCronRun: no run of cron "minutely" scheduled at or after 2030-03-04T10:01:30\.000Z reached COMPLETED within 100 ms \(last seen: no run yet \(the latest run is older: run \d+ scheduled at 2030-03-04T10:01:00\.000Z \(schedule\), COMPLETED, attempt 1\)\)\./,
      );

      const broken = scriptedRuns([new Error('relation "cron_job_runs" does not exist')]);
      await expect(waitForCronRun(broken, 'minutely', CronRunStatus.COMPLETED, { timeoutMs: NEVER })).rejects.toThrow('relation "cron_job_runs" does not exist');
      await expect(waitForCronRun(broken, 'minutely', 'DONE' as CronRunStatus, { timeoutMs: NEVER })).rejects.toThrow(
        'waitForCronRun(): the expected status "DONE" is not one of RUNNING, COMPLETED, FAILED, SKIPPED, MISSED, or a predicate.',
      );
      await expect(waitForCronRun(broken, 'minutely', CronRunStatus.COMPLETED, { timeoutMs: NEVER, since: new Date('nope') })).rejects.toThrow(
        'waitForCronRun(..., { since }): "Invalid Date" is not a valid Date or epoch ms.',
      );
      await expect(waitForCronRun(broken, 'minutely', CronRunStatus.COMPLETED, { timeoutMs: NEVER, attempts: 0 })).rejects.toThrow(
        'waitForCronRun(..., { attempts }): 0 is not a positive integer.',
      );
      expect(broken.reads).toBe(1);
    });
  });
});
