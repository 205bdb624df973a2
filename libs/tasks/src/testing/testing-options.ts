import { TasksConfigurationError } from '../errors/tasks.errors.js';
import type { TasksModuleOptions } from '../options/tasks-options.interface.js';
import { invalidTestingMode, invalidTestingNow } from './testing.messages.js';

/**
 * How enqueued jobs run in the testing kit. `manual`: they wait until the test
 * runs them (`TasksTesting.runNext()`, `drain()`). `inline`: `enqueue` runs
 * the job at once, every attempt, before it resolves.
 */
export type TasksTestingMode = 'manual' | 'inline';

/** Options of `TasksTestingModule.forRoot()`. */
export interface TasksTestingModuleOptions {
  /** How jobs run unless `TasksTesting.withMode()` says otherwise. Default `manual`. */
  mode?: TasksTestingMode;
  /** The kit's clock at the start: what `ctx.enqueuedAt`, `delayMs` and deduplication windows are measured against. Default: the real time at `forRoot()`. */
  now?: Date | number;
  /** `TasksModule`'s options the code under test runs with (attempts, backoff, payload limits, `allowUnregisteredTasks`, ...), checked as `TasksModule` checks them. */
  options?: TasksModuleOptions;
}

/** The checked options of the kit. */
export interface ResolvedTestingOptions {
  readonly mode: TasksTestingMode;
  readonly startsAt: number;
}

/** The token of the kit's checked options. */
export const TASKS_TESTING_OPTIONS = Symbol('TASKS_TESTING_OPTIONS');

/** Throws, naming the option, on a mode the kit does not have. */
export function assertTestingMode(where: string, mode: unknown): asserts mode is TasksTestingMode {
  if (mode !== 'manual' && mode !== 'inline') throw new TasksConfigurationError(invalidTestingMode(where, mode));
}

/** The kit's options, checked, with their defaults. */
export function resolveTestingOptions(options: TasksTestingModuleOptions): ResolvedTestingOptions {
  const mode = options.mode ?? 'manual';
  assertTestingMode('TasksTestingModule.forRoot({ mode })', mode);
  const startsAt = options.now === undefined ? Date.now() : options.now instanceof Date ? options.now.getTime() : options.now;
  if (!Number.isFinite(startsAt)) throw new TasksConfigurationError(invalidTestingNow(options.now));
  return { mode, startsAt };
}
