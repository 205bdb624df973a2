import { randomBytes } from 'node:crypto';
import { expect } from 'vitest';
import { CATCH_UP_WINDOW_MS, TIMEOUT_MS } from './contract-jobs.js';
import type { TaskHandle } from 'nestjs-tasks';
import { localTime, normaliseRuns, tickIndexes, type ContractDriver, type RunView, type StackSpec, type TaskOutcome } from './driver.js';

/**
 * One behaviour of the library, written once against {@link ContractDriver}
 * and run by every driver. `run` returns what it observed as a record without
 * ids or timestamps (ticks are indexes, durations `<n>`); every driver must
 * produce `expected` exactly, so the kit and the real stack agree on
 * statuses, attempts, results and reasons.
 */
export interface ContractScenario {
  readonly title: string;
  readonly stack: StackSpec;
  /** `key` is this run's own (notes, deduplication keys), so runs of a shared stack stay apart. */
  run(driver: ContractDriver, key: string): Promise<unknown>;
  readonly expected: unknown;
}

/** The stacks (processes on the real stack, a module in the kit) the scenarios share. */
export const STACKS = {
  /** The tasks, and the two crons whose runs wait at a gate. */
  main: { id: 'main', crons: ['overlap', 'bufferOne'] },
  // An outage holds the whole cron queue: each outage scenario has a stack of its own.
  // One cron run at a time, so two backlog ticks that both run do not overlap (the second would be SKIPPED).
  missed: { id: 'missed', crons: ['missed'], cronConcurrency: 1 },
  window: { id: 'window', crons: ['window'], cronConcurrency: 1 },
} as const satisfies Record<string, StackSpec>;

/** A fresh key for one scenario run. */
export const scenarioKey = (label: string) => `${label}-${randomBytes(4).toString('hex')}`;

const FINAL = new Set<RunView['status']>(['COMPLETED', 'FAILED', 'SKIPPED', 'MISSED']);
const isFinal = (run: RunView | undefined): run is RunView => run !== undefined && FINAL.has(run.status);
const runOf = (runs: readonly RunView[], tick: number) => runs.find((run) => run.tick === tick);

/** The runs of `ticks` that exist, in tick order. */
const runsOf = (runs: readonly RunView[], ticks: readonly number[]) => runs.filter((run) => ticks.includes(run.tick));

const CANCELLED = 'Cancelled by TaskClient (handle.cancel())';

/** `d.tasks.settle`, with the job's id in messages replaced by `<id>` (ids are each stack's own). */
async function settle(d: ContractDriver, handle: TaskHandle<unknown>): Promise<TaskOutcome> {
  const outcome = await d.tasks.settle(handle);
  if (!('rejected' in outcome.wait)) return outcome;
  return { ...outcome, wait: { ...outcome.wait, message: outcome.wait.message.replaceAll(`(job ${handle.id})`, '(job <id>)') } };
}

// ---------------------------------------------------------------- tasks

const retryThenSuccess: ContractScenario = {
  title: 'retry then success: the first attempt fails, the second returns; two attempts made',
  stack: STACKS.main,
  async run(d, key) {
    const handle = await d.tasks.enqueue('contract.flaky', { key });
    const outcome = await settle(d, handle);
    return { outcome, notes: await d.probe.notes(key, 2) };
  },
  expected: {
    outcome: { wait: { resolved: { attempt: 2 } }, job: { state: 'completed', attemptsMade: 2, result: { attempt: 2 } } },
    notes: ['attempt 1', 'attempt 2'],
  },
};

const nonRetriable: ContractScenario = {
  title: 'NonRetriableError: the job fails at its first attempt, with attempts left, and its message',
  stack: STACKS.main,
  async run(d, key) {
    const handle = await d.tasks.enqueue('contract.rejects', { key });
    const outcome = await settle(d, handle);
    return { outcome, notes: await d.probe.notes(key, 1) };
  },
  expected: {
    outcome: {
      wait: { rejected: 'TaskFailedError', message: 'Task "contract.rejects" (job <id>) failed after 1 attempt(s): contract.rejects refuses its payload' },
      job: { state: 'failed', attemptsMade: 1, error: 'contract.rejects refuses its payload' },
    },
    notes: ['attempt 1'],
  },
};

const TIMED_OUT = `Task "contract.timesOut" exceeded its timeout of ${TIMEOUT_MS} ms (set with @Task({ timeoutMs })).`;

const timeout: ContractScenario = {
  title: 'timeout: each attempt is aborted with TaskTimeoutError and fails; the job fails after its two attempts',
  stack: STACKS.main,
  async run(d, key) {
    const handle = await d.tasks.enqueue('contract.timesOut', { key });
    const outcome = await settle(d, handle);
    return { outcome, notes: await d.probe.notes(key, 2) };
  },
  expected: {
    outcome: {
      wait: { rejected: 'TaskFailedError', message: `Task "contract.timesOut" (job <id>) failed after 2 attempt(s): ${TIMED_OUT}` },
      job: { state: 'failed', attemptsMade: 2, error: TIMED_OUT },
    },
    notes: ['attempt 1 aborted: TaskTimeoutError', 'attempt 2 aborted: TaskTimeoutError'],
  },
};

const abortRunning: ContractScenario = {
  title: 'abort: cancelling a running job aborts its signal (JobCancelledAbort); it fails once, without retries',
  stack: STACKS.main,
  async run(d, key) {
    const handle = await d.tasks.enqueue('contract.cancellable', { key });
    // Cancel only once the handler runs.
    await d.probe.notes(key, 1);
    const answer = await handle.cancel();
    const outcome = await settle(d, handle);
    return { answer, outcome, notes: await d.probe.notes(key, 2) };
  },
  expected: {
    answer: 'signalled',
    outcome: {
      wait: { rejected: 'TaskCancelledError', message: 'Task "contract.cancellable" (job <id>) was cancelled' },
      job: { state: 'failed', attemptsMade: 1, error: CANCELLED },
    },
    notes: ['attempt 1 started', 'attempt 1 aborted: JobCancelledAbort'],
  },
};

const cancelWaiting: ContractScenario = {
  title: 'cancellation: a job that has not started is removed; waitResult rejects with TaskCancelledError; it never runs',
  stack: STACKS.main,
  async run(d, key) {
    const handle = await d.tasks.enqueue('contract.cancellable', { key }, { delayMs: 600_000 });
    const answer = await handle.cancel();
    const outcome = await settle(d, handle);
    return { answer, outcome, notes: await d.probe.notes(key) };
  },
  expected: {
    answer: 'removed',
    outcome: { wait: { rejected: 'TaskCancelledError', message: 'Task "contract.cancellable" (job <id>) was cancelled' } },
    notes: [],
  },
};

const deduplication: ContractScenario = {
  title: 'deduplication: within its window a key runs once, even after that run finished; another key runs apart',
  stack: STACKS.main,
  async run(d, key) {
    const once = { deduplicate: { key: `once-${key}`, windowMs: 60_000 } };
    const first = await d.tasks.enqueue('contract.dedup', { key, n: 1 }, once);
    const whilePending = await d.tasks.enqueue('contract.dedup', { key, n: 2 }, once);
    const [firstOutcome, pendingOutcome] = [await settle(d, first), await settle(d, whilePending)];
    const afterIt = await d.tasks.enqueue('contract.dedup', { key, n: 3 }, once);
    const afterOutcome = await settle(d, afterIt);
    const other = await d.tasks.enqueue('contract.dedup', { key, n: 4 }, { deduplicate: { key: `other-${key}`, windowMs: 60_000 } });
    const otherOutcome = await settle(d, other);
    const ids = [first.id, whilePending.id, afterIt.id, other.id];
    return {
      // Which handle names which job, ids numbered by first appearance.
      jobs: ids.map((id) => `job ${ids.indexOf(id) + 1}`),
      outcomes: [firstOutcome, pendingOutcome, afterOutcome, otherOutcome],
      notes: await d.probe.notes(key, 2),
    };
  },
  expected: {
    jobs: ['job 1', 'job 1', 'job 1', 'job 4'],
    outcomes: [1, 1, 1, 4].map((n) => ({ wait: { resolved: { n } }, job: { state: 'completed', attemptsMade: 1, result: { n } } })),
    notes: ['ran n=1', 'ran n=4'],
  },
};

// ---------------------------------------------------------------- crons

const SKIPPED_LOCK = 'Skipped: an earlier run still holds the lock';
const SKIPPED_WAITER = "Skipped: another tick already waits for it (overlap: 'bufferOne')";

const overlapSkipped: ContractScenario = {
  title: "overlap 'skip': while a run goes, each tick is SKIPPED with the reason; once it ends, the next tick runs",
  stack: STACKS.main,
  async run(d) {
    const name = 'contract.overlap';
    let ticks: number[] = [];
    // The first run waits at its gate: the two ticks after it find it going.
    const held = await d.crons.until(
      name,
      async (runs) => {
        if (!runs[0]) return false;
        ticks = await tickIndexes(d.crons, name, runs[0].tick, 3);
        return ticks.every((tick) => isFinal(runOf(runs, tick)) || tick === ticks[0]);
      },
      'the first run going and the two ticks after it recorded',
      8,
    );
    const whileRunning = normaliseRuns(runsOf(held, ticks), ticks);
    await d.probe.openGate(name);
    const first = ticks[0] as number;
    const done = await d.crons.until(
      name,
      (runs) => isFinal(runOf(runs, first)) && isFinal(runs.find((run) => run.tick > first && run.status !== 'SKIPPED')),
      'the first run to end and a later tick to run',
      8,
    );
    const later = done.filter((run) => run.tick > first);
    const next = later.findIndex((run) => run.status !== 'SKIPPED');
    // Every tick between the first run and the next one found the first going.
    expect(later.slice(0, next).map((run) => run.reason)).toEqual(later.slice(0, next).map(() => SKIPPED_LOCK));
    // How many ticks passed before the next run is the machine's pace, not the contract: left out.
    const nextTick = later[next] as RunView;
    const [firstRun, nextRun] = normaliseRuns([runOf(done, first) as RunView, nextTick], [...ticks, nextTick.tick]).map(({ tick: _tick, ...run }) => run);
    return { whileRunning, firstRun, nextRun };
  },
  expected: {
    whileRunning: [
      { tick: 0, status: 'RUNNING', attempt: 1, result: null, error: null, reason: null, fenced: true },
      { tick: 1, status: 'SKIPPED', attempt: 1, result: null, error: null, reason: SKIPPED_LOCK, fenced: false },
      { tick: 2, status: 'SKIPPED', attempt: 1, result: null, error: null, reason: SKIPPED_LOCK, fenced: false },
    ],
    firstRun: { status: 'COMPLETED', attempt: 1, result: { ran: 'contract.overlap', attempt: 1 }, error: null, reason: null, fenced: true },
    nextRun: { status: 'COMPLETED', attempt: 1, result: { ran: 'contract.overlap', attempt: 1 }, error: null, reason: null, fenced: true },
  },
};

const bufferOne: ContractScenario = {
  title: "overlap 'bufferOne': the tick after a run going waits (no row yet), later ones are SKIPPED; it runs when the run ends",
  stack: STACKS.main,
  async run(d) {
    const name = 'contract.bufferOne';
    let ticks: number[] = [];
    const held = await d.crons.until(
      name,
      async (runs) => {
        if (!runs[0]) return false;
        ticks = await tickIndexes(d.crons, name, runs[0].tick, 4);
        return isFinal(runOf(runs, ticks[2] as number)) && isFinal(runOf(runs, ticks[3] as number));
      },
      'the first run going and ticks 2 and 3 recorded',
      8,
    );
    const whileRunning = normaliseRuns(runsOf(held, ticks), ticks);
    await d.probe.openGate(name);
    const done = await d.crons.until(
      name,
      (runs) => ticks.every((tick) => isFinal(runOf(runs, tick))),
      'the first run and the waiting tick to end',
      8,
    );
    return { whileRunning, after: normaliseRuns(runsOf(done, ticks), ticks) };
  },
  expected: {
    whileRunning: [
      { tick: 0, status: 'RUNNING', attempt: 1, result: null, error: null, reason: null, fenced: true },
      // Tick 1 waits for the run: it has no row until it starts.
      { tick: 2, status: 'SKIPPED', attempt: 1, result: null, error: null, reason: SKIPPED_WAITER, fenced: false },
      { tick: 3, status: 'SKIPPED', attempt: 1, result: null, error: null, reason: SKIPPED_WAITER, fenced: false },
    ],
    after: [
      { tick: 0, status: 'COMPLETED', attempt: 1, result: { ran: 'contract.bufferOne', attempt: 1 }, error: null, reason: null, fenced: true },
      { tick: 1, status: 'COMPLETED', attempt: 1, result: { ran: 'contract.bufferOne', attempt: 1 }, error: null, reason: null, fenced: true },
      { tick: 2, status: 'SKIPPED', attempt: 1, result: null, error: null, reason: SKIPPED_WAITER, fenced: false },
      { tick: 3, status: 'SKIPPED', attempt: 1, result: null, error: null, reason: SKIPPED_WAITER, fenced: false },
    ],
  },
};

/**
 * The workers stop for three ticks of a cron every five seconds and come
 * back 1.5 s after the third: the first two are superseded by then, the
 * third is 1.5 s old, its successor 3.5 s away.
 */
async function outage(d: ContractDriver, name: string) {
  await d.crons.until(name, (runs) => runs.some((run) => run.status === 'COMPLETED'), 'a first run', 3);
  await d.crons.stopWorkers();
  const backlog = await d.crons.ticksWhileStopped(name, 3);
  await d.crons.startWorkers(1_500);
  const runs = await d.crons.until(name, (all) => backlog.every((tick) => isFinal(runOf(all, tick))), 'the backlog to be handled', 2);
  return normaliseRuns(runsOf(runs, backlog), backlog);
}

const missedAfterPause: ContractScenario = {
  title: "MISSED after a pause of the workers (catchUp 'skip'): superseded ticks are MISSED with the reason, the newest runs",
  stack: STACKS.missed,
  run: (d) => outage(d, 'contract.missed'),
  expected: [
    { tick: 0, status: 'MISSED', attempt: 1, result: null, error: null, reason: 'Missed: superseded by the tick of tick #1, due before this one could start', fenced: false },
    { tick: 1, status: 'MISSED', attempt: 1, result: null, error: null, reason: 'Missed: superseded by the tick of tick #2, due before this one could start', fenced: false },
    { tick: 2, status: 'COMPLETED', attempt: 1, result: { ran: 'contract.missed', attempt: 1 }, error: null, reason: null, fenced: true },
  ],
};

const catchUpWindow: ContractScenario = {
  title: `catch-up window (${CATCH_UP_WINDOW_MS} ms) after a pause of the workers: ticks within it run, one by one; the older one is MISSED`,
  stack: STACKS.window,
  run: (d) => outage(d, 'contract.window'),
  expected: [
    { tick: 0, status: 'MISSED', attempt: 1, result: null, error: null, reason: `Missed: <n> ms late, past its catch-up window of ${CATCH_UP_WINDOW_MS} ms`, fenced: false },
    { tick: 1, status: 'COMPLETED', attempt: 1, result: { ran: 'contract.window', attempt: 1 }, error: null, reason: null, fenced: true },
    { tick: 2, status: 'COMPLETED', attempt: 1, result: { ran: 'contract.window', attempt: 1 }, error: null, reason: null, fenced: true },
  ],
};

/** The two days Europe/Berlin changes its clocks in 2026, midnight to midnight local time. */
const DST_DAYS = {
  spring: [Date.parse('2026-03-29T00:00:00+01:00'), Date.parse('2026-03-30T00:00:00+02:00')],
  autumn: [Date.parse('2026-10-25T00:00:00+02:00'), Date.parse('2026-10-26T00:00:00+01:00')],
} as const;

// A DST day cannot be waited for in real time: on the real stack the ticks are
// those the production schedule gives (what a scheduler arms its timers with,
// through the app's CronRegistry), on the kit those its clock fires.
const dstDay: ContractScenario = {
  title: 'a DST day (Europe/Berlin): 02:30 falls on 03:00 in spring and runs once in autumn; half hours 01:00–03:30 skip the gap and repeat the hour',
  stack: STACKS.main,
  async run(d) {
    const record: Record<string, string[]> = {};
    for (const name of ['contract.dstNightly', 'contract.dstHalfHourly']) {
      for (const [day, [from, to]] of Object.entries(DST_DAYS)) {
        record[`${name} ${day}`] = (await d.crons.firedTicks(name, from, to)).map((tick) => localTime(tick, 'Europe/Berlin'));
      }
    }
    return record;
  },
  expected: {
    'contract.dstNightly spring': ['2026-03-29T03:00+02:00'],
    'contract.dstNightly autumn': ['2026-10-25T02:30+02:00'],
    'contract.dstHalfHourly spring': ['2026-03-29T01:00+01:00', '2026-03-29T01:30+01:00', '2026-03-29T03:00+02:00', '2026-03-29T03:30+02:00'],
    'contract.dstHalfHourly autumn': [
      '2026-10-25T01:00+02:00',
      '2026-10-25T01:30+02:00',
      '2026-10-25T02:00+02:00',
      '2026-10-25T02:30+02:00',
      '2026-10-25T02:00+01:00',
      '2026-10-25T02:30+01:00',
      '2026-10-25T03:00+01:00',
      '2026-10-25T03:30+01:00',
    ],
  },
};

/** Every scenario, the slow ones (outages of several five-second ticks) first. */
export const CONTRACT_SCENARIOS: readonly ContractScenario[] = [
  missedAfterPause,
  catchUpWindow,
  overlapSkipped,
  bufferOne,
  retryThenSuccess,
  nonRetriable,
  timeout,
  abortRunning,
  cancelWaiting,
  deduplication,
  dstDay,
];
