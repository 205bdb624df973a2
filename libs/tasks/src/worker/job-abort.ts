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
