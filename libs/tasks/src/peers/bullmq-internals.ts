import type { Worker } from 'bullmq';

// What the library relies on in BullMQ beyond its public API, in one place.
// Checked against bullmq 6.7.0; bullmq-internals.spec.ts fails, naming the
// change, when a BullMQ release changes what is relied on here.

/**
 * Whether the worker waits out its queue's rate limit (BullMQ's private
 * `Worker.isRateLimited()`). Such a worker does not poll Redis until the
 * limit is over, which the worker health check must not take for a stuck
 * worker. BullMQ tells this to no public member or event. False when this
 * BullMQ has no such method.
 */
export function workerIsRateLimited(worker: Worker): boolean {
  const isRateLimited: unknown = (worker as unknown as Record<string, unknown>).isRateLimited;
  return typeof isRateLimited === 'function' ? (isRateLimited as () => unknown).call(worker) === true : false;
}
