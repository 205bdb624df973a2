import type { CronRunStatus, EnqueueOptions, TaskClient, TaskHandle, TaskJobState } from 'nestjs-tasks';
import type { ContractCronSet, ContractPayload } from './contract-jobs.js';

/**
 * What a contract scenario needs of the system under test. Two drivers
 * implement it: the real stack (worker and scheduler processes, Redis,
 * Postgres; time is the wall clock, so "let ticks pass" waits for them) and
 * the testing kit (one process, in-memory ports; time is its fake clock, so
 * "let ticks pass" advances it). A scenario never sleeps: it says which ticks
 * must pass or what must hold, and the driver gets there its own way.
 */
export interface ContractDriver {
  readonly kind: 'real' | 'kit';
  readonly tasks: TaskDriver;
  readonly crons: CronDriver;
  /** What the handlers noted, and their gates. */
  readonly probe: ProbeDriver;
}

/** The processes (real) or the kit's module (kit) a group of scenarios shares. */
export interface StackSpec {
  /** Scenarios with the same id share one stack. */
  readonly id: string;
  /** The cron sets its worker runs and its scheduler fires. */
  readonly crons: readonly ContractCronSet[];
  /** The worker's `cronConcurrency` (CRON_CONCURRENCY); default the library's. */
  readonly cronConcurrency?: number;
}

export type ContractTaskName = 'contract.flaky' | 'contract.rejects' | 'contract.timesOut' | 'contract.cancellable' | 'contract.dedup';

export interface TaskDriver {
  /** Enqueues by name, through the app's TaskClient; the job runs as the stack runs jobs (a worker takes it; the kit runs it). */
  enqueue(name: ContractTaskName, payload: ContractPayload, options?: EnqueueOptions): Promise<TaskHandle<unknown>>;
  /** Waits until the job is done for good (or gone), then reads how: `waitResult` and `getJob`. */
  settle(handle: TaskHandle<unknown>): Promise<TaskOutcome>;
}

/** How one job ended, as a producer sees it. */
export interface TaskOutcome {
  /** What `waitResult()` did: resolved with the result, or rejected with an error of this class. */
  readonly wait: { readonly resolved: unknown } | { readonly rejected: string; readonly message: string };
  /** What `getJob()` says; undefined when the job is gone (a cancelled job that had not started). */
  readonly job?: {
    readonly state: TaskJobState;
    readonly attemptsMade: number;
    readonly result?: unknown;
    readonly error?: string;
  };
}

/** A row of cron_job_runs (or the kit's run), without ids and timestamps. */
export interface RunView {
  /** The tick, epoch ms (scenarios turn it into an index, see {@link tickIndexes}). */
  readonly tick: number;
  readonly status: `${CronRunStatus}`;
  readonly attempt: number;
  readonly result: unknown;
  readonly error: string | null;
  readonly reason: string | null;
  /** Whether the run has a fencing token (a positive one). */
  readonly fenced: boolean;
}

export interface CronDriver {
  /** The runs of a cron so far, in tick order. */
  runs(name: string): Promise<RunView[]>;
  /**
   * Lets the cron's ticks pass, one at a time, until `done(runs)` holds, and
   * returns those runs. Real: waits for the ticks (at most `maxTicks` of them
   * and a margin for a slow machine). Kit: checks, then advances its clock to
   * the next tick, at most `maxTicks` times.
   */
  until(name: string, done: (runs: RunView[]) => boolean | Promise<boolean>, what: string, maxTicks?: number): Promise<RunView[]>;
  /** The next `count` ticks of a cron after `from`, as the app's CronRegistry computes them. */
  nextTicks(name: string, count: number, from: number): Promise<number[]>;
  /** Holds every worker of the stack off the cron queue: ticks keep falling and wait in it. */
  stopWorkers(): Promise<void>;
  /** With the workers stopped, lets `count` ticks of `name` fall; returns them, oldest first. */
  ticksWhileStopped(name: string, count: number): Promise<number[]>;
  /**
   * Lets `afterLastTickMs` pass after the last tick {@link ticksWhileStopped}
   * returned (less than one period: the next tick has not fallen), then lets
   * the workers take the waiting ticks.
   */
  startWorkers(afterLastTickMs: number): Promise<void>;
  /**
   * The ticks of a cron in [`from`, `to`): real, what the production schedule
   * (the one a scheduler arms its timers with) gives over that span; kit, the
   * runs its clock fires while it moves from `from` to `to`.
   */
  firedTicks(name: string, from: number, to: number): Promise<number[]>;
}

export interface ProbeDriver {
  /** The notes of `key`, once there are at least `atLeast` (a handler notes asynchronously to its job's outcome). */
  notes(key: string, atLeast?: number): Promise<string[]>;
  /** Opens a gate: every run waiting at it goes on. */
  openGate(gate: string): Promise<void>;
}

/**
 * Turns runs into a driver-independent record: a tick becomes its index in
 * `ticks` (the ticks the scenario looks at), a tick's timestamp in a reason
 * `tick #<index>`, a lateness `<n> ms late`.
 */
export function normaliseRuns(runs: readonly RunView[], ticks: readonly number[]): NormalisedRun[] {
  const indexOf = (tick: number) => {
    const index = ticks.indexOf(tick);
    if (index < 0) throw new Error(`tick ${new Date(tick).toISOString()} is not one of the ${ticks.length} ticks looked at`);
    return index;
  };
  return runs.map((run) => ({
    tick: indexOf(run.tick),
    status: run.status,
    attempt: run.attempt,
    result: run.result ?? null,
    error: run.error,
    reason:
      run.reason === null
        ? null
        : run.reason
            .replace(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z/g, (iso) => `tick #${indexOf(Date.parse(iso))}`)
            .replace(/\b\d+ ms late\b/g, '<n> ms late'),
    fenced: run.fenced,
  }));
}

export interface NormalisedRun {
  /** Index of its tick among the ticks the scenario looked at (0: the first). */
  tick: number;
  status: RunView['status'];
  attempt: number;
  result: unknown;
  error: string | null;
  reason: string | null;
  fenced: boolean;
}

/** `first` and the `count - 1` ticks after it: the ticks a scenario numbers its runs by. */
export async function tickIndexes(crons: CronDriver, name: string, first: number, count: number): Promise<number[]> {
  return [first, ...(await crons.nextTicks(name, count - 1, first))];
}

/** Local wall-clock time with its UTC offset, e.g. `2026-03-29T03:00+02:00`: how a DST day reads. */
export function localTime(ms: number, timeZone: string): string {
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat('en-US', {
      timeZone,
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      hourCycle: 'h23',
      timeZoneName: 'longOffset',
    })
      .formatToParts(new Date(ms))
      .map((part) => [part.type, part.value]),
  ) as Record<string, string>;
  const offset = parts.timeZoneName === 'GMT' ? '+00:00' : parts.timeZoneName.replace('GMT', '');
  return `${parts.year}-${parts.month}-${parts.day}T${parts.hour}:${parts.minute}${offset}`;
}

/** How a job ended, as both drivers report it: what `waitResult` did, then the job as `getJob` shows it. */
export async function settleHandle(client: Pick<TaskClient, 'getJob'>, handle: TaskHandle<unknown>, timeoutMs: number): Promise<TaskOutcome> {
  let wait: TaskOutcome['wait'];
  try {
    wait = { resolved: await handle.waitResult({ timeoutMs }) };
  } catch (error) {
    wait = { rejected: (error as Error).name, message: (error as Error).message };
  }
  const info = await client.getJob(handle.id);
  if (!info) return { wait };
  return {
    wait,
    job: {
      state: info.state,
      attemptsMade: info.attemptsMade,
      ...('result' in info ? { result: info.result } : {}),
      ...('error' in info ? { error: info.error } : {}),
    },
  };
}
