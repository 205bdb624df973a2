import type { JobOutcomeListener } from '../queues/job-outcome.listener.js';
import type { TaskHandle, WaitResultOptions } from './task-client.types.js';
import { publicJobId } from '../task/job-ids.js';

export class EnqueuedTask<R> implements TaskHandle<R> {
  readonly id: string;

  constructor(
    /** The BullMQ job id. */
    private readonly storedId: string,
    readonly name: string,
    bullQueue: string,
    private readonly outcomes: JobOutcomeListener,
    private readonly cancelJob?: () => Promise<'removed' | 'signalled' | 'finished'>,
  ) {
    this.id = publicJobId(storedId, bullQueue);
  }

  cancel(): Promise<'removed' | 'signalled' | 'finished'> {
    if (!this.cancelJob) return Promise.reject(new Error(`Job ${this.id} cannot be cancelled`));
    return this.cancelJob();
  }

  onProgress(listener: (progress: number | object) => void): () => void {
    return this.outcomes.onProgress(this.storedId, listener);
  }

  waitResult(options: WaitResultOptions = {}): Promise<R> {
    return this.outcomes.wait(this.storedId, this.name, options.timeoutMs) as Promise<R>;
  }
}
