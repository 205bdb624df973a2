import type { Job } from 'bullmq';
import type { JobAbort } from './job-abort.js';
import type { TaskContext } from './task-context.interface.js';
import { publicJobId } from './job-ids.js';

/**
 * The TaskContext of one run. A class with getters rather than an object
 * literal with closures: one is built for every job, and most handlers read
 * one field or none.
 */
export class TaskRunContext implements TaskContext {
  constructor(
    private readonly job: Job,
    readonly taskName: string,
    readonly attempt: number,
    readonly maxAttempts: number,
    private readonly abort: JobAbort,
  ) {}

  get jobId(): string {
    return publicJobId(this.job.id as string, this.job.queueName);
  }

  get enqueuedAt(): Date {
    return new Date(this.job.timestamp);
  }

  get signal(): AbortSignal {
    return this.abort.signal;
  }

  /** What logging or serialising the context shows: its fields, not the BullMQ job behind them. */
  toJSON(): Omit<TaskContext, 'signal' | 'updateProgress'> & { aborted: boolean } {
    const { jobId, taskName, attempt, maxAttempts, enqueuedAt } = this;
    return { jobId, taskName, attempt, maxAttempts, enqueuedAt, aborted: this.abort.aborted };
  }

  updateProgress(progress: number | Record<string, unknown>): Promise<void> {
    return this.job.updateProgress(progress);
  }
}
