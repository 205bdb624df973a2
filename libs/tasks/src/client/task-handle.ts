import type { JobOutcomeListener } from './job-outcome.listener.js';
import type { TaskHandle, WaitResultOptions } from './task-client.types.js';

export class EnqueuedTask<R> implements TaskHandle<R> {
  constructor(
    readonly id: string,
    readonly name: string,
    private readonly outcomes: JobOutcomeListener,
  ) {}

  waitResult(options: WaitResultOptions = {}): Promise<R> {
    return this.outcomes.wait(this.id, this.name, options.timeoutMs) as Promise<R>;
  }
}
