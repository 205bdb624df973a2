import { AsyncLocalStorage } from 'node:async_hooks';
import { Inject, Injectable } from '@nestjs/common';
import { TASKS_TESTING_OPTIONS, assertTestingMode, type ResolvedTestingOptions, type TasksTestingMode } from './testing-options.js';

/**
 * The kit's mode: a default for the module, and one per `withMode()` block,
 * carried by the async context, so tests running in parallel on one module
 * each see their own.
 */
@Injectable()
export class TestingMode {
  private readonly scoped = new AsyncLocalStorage<TasksTestingMode>();
  private fallback: TasksTestingMode;

  /** @internal Built by Nest's injector. */
  constructor(@Inject(TASKS_TESTING_OPTIONS) options: ResolvedTestingOptions) {
    this.fallback = options.mode;
  }

  /** The mode of the calling code: its `withMode()` block's, else the module's. */
  get current(): TasksTestingMode {
    return this.scoped.getStore() ?? this.fallback;
  }

  /** Changes the module's mode: every caller outside a `withMode()` block sees it. */
  setDefault(mode: TasksTestingMode): void {
    assertTestingMode('TasksTesting.mode', mode);
    this.fallback = mode;
  }

  async run<T>(mode: TasksTestingMode, fn: () => T | Promise<T>): Promise<T> {
    assertTestingMode('TasksTesting.withMode()', mode);
    return this.scoped.run(mode, fn);
  }
}
