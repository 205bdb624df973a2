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
