/**
 * The abort switch of one running job: fired by its timeout, by a lost cron
 * lock, or when shutdown hands the job back to the queue.
 *
 * Its AbortSignal is only created when someone reads it: an AbortController
 * costs about 5 µs on Node 20, a measurable share of a no-op job, and most
 * handlers never look at their signal.
 */
export class JobAbort {
  private controller?: AbortController;
  private abortedWith?: { reason: unknown };

  get signal(): AbortSignal {
    if (!this.controller) {
      this.controller = new AbortController();
      if (this.abortedWith) this.controller.abort(this.abortedWith.reason);
    }
    return this.controller.signal;
  }

  get aborted(): boolean {
    return this.abortedWith !== undefined;
  }

  /** Why it was aborted; undefined while it has not been. */
  get reason(): unknown {
    return this.abortedWith?.reason;
  }

  /** Aborts once; later calls keep the first reason, as AbortController does. */
  abort(reason: unknown): void {
    if (this.abortedWith) return;
    this.abortedWith = { reason };
    this.controller?.abort(reason);
  }
}

/** The abort reason of a job whose worker is shutting down past its grace period. */
export class WorkerShutdownAbort extends Error {
  constructor() {
    super('Worker is shutting down: the grace period is over');
    this.name = 'WorkerShutdownAbort';
  }
}

/** The abort reason of a job cancelled by `handle.cancel()` while it ran. */
export class JobCancelledAbort extends Error {
  constructor() {
    super('The job was cancelled (handle.cancel())');
    this.name = 'JobCancelledAbort';
  }
}

/**
 * Thrown by a processor that gave its job up after a {@link WorkerShutdownAbort}
 * and wants it back on the queue, so another worker runs it.
 */
export class HandBackRequest extends Error {
  constructor(reason: string) {
    super(reason);
    this.name = 'HandBackRequest';
  }
}
