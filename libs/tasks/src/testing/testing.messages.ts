import type { TaskJobInfo } from '../client/task-client.types.js';
import type { CronJobRun } from '../tracking/cron-job-run.entity.js';
import { redactSecrets } from '../redaction/redact.js';
import { showValue } from './deep-match.js';

// What the testing kit says when a test misuses it or an expectation fails.

export const invalidTestingMode = (where: string, mode: unknown) =>
  `${where}: ${showValue(mode)} is not a mode of the testing kit; use 'manual' (jobs wait for runNext()/drain()) or 'inline' (enqueue runs the job).`;

export const invalidTestingNow = (now: unknown) =>
  `TasksTestingModule.forRoot({ now }): ${String(now)} is not a time; pass a Date or milliseconds since the epoch.`;

export const invalidDrainLimit = (maxRuns: unknown) => `drain({ maxRuns }): ${showValue(maxRuns)} is not a positive integer.`;

export const drainRunaway = (maxRuns: number, task: string) =>
  `drain() ran ${maxRuns} attempts and a job of "${task}" is still due: a handler may enqueue jobs without end. ` +
  `Pass drain({ maxRuns }) to allow more, or drain({ recursive: false }) to run only the jobs there when it started.`;

export const invalidContextField = (builder: string, field: string, value: unknown, expected: string) =>
  `${builder}: ${field} ${showValue(value)} is not ${expected}; production never gives a handler such a context.`;

export const unknownTaskInExpectation = (where: string, name: string, known: readonly string[]) =>
  `${where}: no task "${name}" is registered in this testing module (known: ${known.length > 0 ? known.map((n) => `"${n}"`).join(', ') : 'none'}). ` +
  `Import the module that provides its @Task() class next to TasksTestingModule.`;

/** One job in an expectation's message. */
export const describeJob = (job: { id: string; name: string; state: string; payload: unknown }) =>
  `  - ${job.name} ${showValue(job.payload)} (job ${job.id}, ${job.state})`;

export const enqueuedList = (jobs: readonly string[]) => (jobs.length === 0 ? 'Nothing was enqueued.' : `Enqueued:\n${jobs.join('\n')}`);

export const expectedEnqueued = (what: string, wanted: number | undefined, found: number, list: string) =>
  wanted === undefined
    ? `Expected a job of ${what} to be enqueued, but none was. ${list}`
    : `Expected ${wanted} job(s) of ${what} to be enqueued, found ${found}. ${list}`;

export const expectedNotEnqueued = (what: string, found: number, list: string) =>
  `Expected no job of ${what} to be enqueued, found ${found}. ${list}`;

export const taskAndMatch = (name: string, match: unknown) => (match === undefined ? `task "${name}"` : `task "${name}" matching ${showValue(match)}`);

export const invalidExpectedCount = (count: unknown) => `expectEnqueued(..., { count }): ${showValue(count)} is not a non-negative integer.`;

export const needsRealStack = (what: string, member: string) =>
  `${what}.${member}(): ${what} is Redis itself, which TasksTestingModule leaves out. ` +
  `Override the provider that uses it in this test (Test.createTestingModule(...).overrideProvider(YourService).useValue(...)), ` +
  `or test that code against real Redis (docs/testing.md, "Real-stack tests").`;

// waitForJob and waitForCronRun: what was awaited, what was last seen, what to check.

/** An error's text as a wait's message shows it: its first line, credentials masked, cut at 300 characters. */
const shownError = (text: string | null | undefined) => {
  if (!text) return '(no error text)';
  const first = redactSecrets(text.split('\n', 1)[0] ?? '');
  return first.length > 300 ? `${first.slice(0, 300)}…` : first;
};

export const invalidWaitTarget = (where: string, what: string, value: unknown, expected: string) =>
  `${where}(): the ${what} ${showValue(value)} is not ${expected}.`;

export const invalidWaitOption = (where: string, option: string, value: unknown, expected: string) =>
  `${where}(..., { ${option} }): ${showValue(value)} is not ${expected}.`;

/** A job as a wait last saw it. */
export const jobSeen = (job: TaskJobInfo) => `task "${job.name}", '${job.state}', ${job.attemptsMade} attempt(s) made`;

export const jobTimedOut = (id: string, awaited: string, timeoutMs: number, last: string | undefined, queue: string | undefined) =>
  `waitForJob: job ${id} did not reach ${awaited} within ${timeoutMs} ms (last seen: ${last ?? 'no answer from TaskClient.getJob() yet'}). ` +
  `Is a worker running that consumes ${queue === undefined ? 'its queue' : `queue "${queue}"`}, on the same Redis and prefix (TASKS_PREFIX) as this app? ` +
  `If one is and the job is only slow (a worker's boot counts too), raise timeoutMs.`;

export const jobNotFound = (id: string, awaited: string) =>
  `waitForJob: TaskClient.getJob() finds no job ${showValue(id)} (awaited: ${awaited}). Pass the handle enqueue() returned, or its id, ` +
  `to a client on the same prefix (TASKS_PREFIX); a job cancel() removed, or one retention (keepCompleted, keepFailed) removed once finished, is gone too.`;

/** A job that finished otherwise than awaited: `expected` is the state awaited, undefined for a predicate. */
export const jobEnded = (job: TaskJobInfo, expected: string | undefined) => {
  const how = job.state === 'failed' ? `failed for good after ${job.attemptsMade} attempt(s)` : 'completed';
  const head = `waitForJob: job ${job.id} (task "${job.name}") ${how}`;
  const tail = job.state === 'failed' ? ` Its error: ${shownError(job.error)}` : '';
  if (expected === undefined) return `${head}, and its predicate does not accept it: a finished job changes no more.${tail}`;
  // A quick job is waiting at one read and finished at the next: the states between are never seen.
  const passed = expected === 'completed' || expected === 'failed' ? '' : ` (a job can pass through '${expected}' between two reads: await the state it ends in)`;
  return `${head}, so it will not reach '${expected}'${passed}.${tail}`;
};

/** A cron run as a wait last saw it. */
export const cronRunSeen = (run: CronJobRun) => {
  const head = `run ${run.id} scheduled at ${run.scheduledAt.toISOString()} (${run.trigger}), ${run.status}, attempt ${run.attempt}`;
  if (run.status === 'FAILED') return `${head}: ${shownError(run.error)}`;
  return run.reason ? `${head}: ${run.reason}` : head;
};

export const cronRunNotYet = (detail: string | undefined) => (detail ? `no run yet (${detail})` : 'no run yet');

export const cronRunTimedOut = (name: string, awaited: string, since: number | undefined, timeoutMs: number, last: string | undefined) =>
  `waitForCronRun: no run of cron "${name}"${since === undefined ? '' : ` scheduled at or after ${new Date(since).toISOString()}`} reached ${awaited} ` +
  `within ${timeoutMs} ms (last seen: ${last ?? 'no answer from CronRunsService.find() yet'}). ` +
  `Is a worker running this cron on the same Redis, prefix (TASKS_PREFIX) and database as this app, and is something firing it: ` +
  `a scheduler process, or CronRegistry.trigger()? If so and the run is only slow (a worker's boot counts too), raise timeoutMs.`;

/** A run that finished otherwise than awaited: `expected` is the status awaited, undefined for a predicate. */
export const cronRunEnded = (name: string, run: CronJobRun, expected: string | undefined, attempts: number) => {
  const failed = run.status === 'FAILED';
  const head = `waitForCronRun: the run of cron "${name}" scheduled at ${run.scheduledAt.toISOString()} (run ${run.id}, ${run.trigger}) ended ${run.status}${failed ? ` after ${run.attempt} attempt(s)` : ''}`;
  const passed = expected === 'RUNNING' ? ' (a run can pass through RUNNING between two reads: await the status it ends in)' : '';
  const main = expected === undefined ? `${head}, and its predicate does not accept it: a finished run changes no more.` : `${head}, so it will not reach ${expected}${passed}.`;
  if (!failed) return run.reason ? `${main} Reason: ${run.reason}` : main;
  const retries = attempts === 1 ? ' (A cron with @Cron({ attempts }) retries a FAILED run: pass waitForCronRun the same attempts.)' : '';
  return `${main}${retries} Its error: ${shownError(run.error)}`;
};

// purgeTasksPrefix.

export const purgeWithoutTasksModule = () =>
  'purgeTasksPrefix(app): this app has no TasksModule connections (no Redis client of the library): pass the app a real-stack test booted ' +
  'with TasksModule. An app of TasksTestingModule keeps nothing in Redis or Postgres: closing it is enough.';

export const purgeDefaultPrefix = (prefix: string) =>
  `purgeTasksPrefix(app): the app runs with the default prefix "${prefix}", a deployment's, and nothing is deleted. ` +
  'Give each test file a prefix of its own (TasksModule.forRoot({ prefix }) or TASKS_PREFIX, the same for the processes it starts), then purge that.';

export const purgeFailed = (prefix: string, where: 'Redis' | 'Postgres', detail: string) =>
  `purgeTasksPrefix(app): could not delete what prefix "${prefix}" left in ${where}: ${detail}. ` +
  'Call it while the app is open (before app.close()), once the worker and scheduler processes of the prefix have exited.';
