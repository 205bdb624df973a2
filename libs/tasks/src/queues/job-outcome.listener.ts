import { Logger } from '@nestjs/common';
import { QueueEvents, type Job, type Queue } from 'bullmq';
import type { RedisConnections } from '../redis/redis-connections.js';
import type { RedisClients } from '../redis/redis-clients.js';
import { TaskCancelledError, TaskFailedError, TaskNotFoundError, TaskWaitAbortedError, TaskWaitTimeoutError } from '../errors/tasks.errors.js';
import { CANCELLED_REASON } from './job-cancellation.js';
import { jobIdReused, jobVanished, waitAborted, waitTimedOut } from '../errors/tasks.messages.js';
import { publicJobId } from '../task/job-ids.js';

/** How long closing waits for the result reader's connection to end. */
const READER_CLOSE_WAIT_MS = 2_000;

interface Waiter {
  readonly taskName: string;
  /**
   * Set once the stored job was seen to be this task's. Until then an outcome
   * an event brings is held: the job may be gone, and its id taken by a job
   * of another task, whose result this waiter must never get.
   */
  confirmed: boolean;
  held?: () => void;
  resolve(value: unknown): void;
  reject(error: Error): void;
}

/**
 * Delivers a queue's job outcomes to `waitResult()` callers. One QueueEvents
 * stream reader serves every waiter of the process, and a waiter checks the job's
 * stored state only after it is registered, so an outcome can never fall
 * between the two (the race behind BullMQ's "Missing key ... isFinished").
 * The reader opens with the first waiter; when it cannot, the waiter learns
 * why and the next one tries again. Closing it rejects every waiter.
 */
export class JobOutcomeListener {
  private readonly logger = new Logger(JobOutcomeListener.name);
  private events?: Promise<QueueEvents>;
  /** The reader as soon as it exists, before it is connected: closed even when Redis never let it in. */
  private reader?: QueueEvents;
  private closed = false;
  private readonly waiters = new Map<string, Set<Waiter>>();
  private readonly progressListeners = new Map<string, Set<(progress: number | object) => void>>();

  constructor(
    private readonly queue: Queue,
    private readonly connections: RedisConnections,
    private readonly clients: RedisClients,
    /** Whether a job that is gone was cancelled (rather than removed some other way). */
    private readonly wasCancelled: (storedId: string) => Promise<boolean> = async () => false,
  ) {}

  async wait(jobId: string, taskName: string, timeoutMs?: number): Promise<unknown> {
    if (this.closed) throw this.aborted(jobId, taskName);
    await this.listen();
    // Closed while the reader opened.
    if (this.closed) throw this.aborted(jobId, taskName);
    return new Promise<unknown>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const waiter: Waiter = {
        taskName,
        confirmed: false,
        resolve: (value) => {
          this.forget(jobId, waiter, timer);
          resolve(value);
        },
        reject: (error) => {
          this.forget(jobId, waiter, timer);
          reject(error);
        },
      };
      let set = this.waiters.get(jobId);
      if (!set) this.waiters.set(jobId, (set = new Set()));
      set.add(waiter);
      if (timeoutMs !== undefined) {
        timer = setTimeout(
          () => {
            const id = publicJobId(jobId, this.queue.name);
            waiter.reject(new TaskWaitTimeoutError(waitTimedOut(taskName, id, timeoutMs), taskName, id));
          },
          timeoutMs,
        );
      }
      this.settleFromStoredState(jobId, taskName, waiter).catch((error: unknown) => waiter.reject(error as Error));
    });
  }

  /** Delivers the job's progress events to `listener` until the returned function is called or the job finishes. */
  onProgress(jobId: string, listener: (progress: number | object) => void): () => void {
    if (this.closed) return () => undefined;
    let set = this.progressListeners.get(jobId);
    if (!set) this.progressListeners.set(jobId, (set = new Set()));
    set.add(listener);
    void this.listen().catch((error: unknown) => this.logger.warn(`Progress listener could not start: ${this.connections.describe(error)}`));
    return () => {
      set.delete(listener);
      if (set.size === 0) this.progressListeners.delete(jobId);
    };
  }

  /**
   * ioredis' status of the result reader's connection (`ready` when it
   * reads), or undefined while nothing opened the reader; `open` opens it
   * first, as the first `wait` would. For readiness checks.
   */
  async readerStatus(open = false): Promise<string | undefined> {
    if (this.closed) return 'end';
    if (!this.events && !open) return undefined;
    const events = await this.listen();
    return (await events.getBackend().client).status;
  }

  /** Stops listening: every pending waiter rejects with `TaskWaitAbortedError`, and so does any later one. */
  async close(): Promise<void> {
    this.closed = true;
    const reader = this.reader;
    this.events = undefined;
    this.reader = undefined;
    // Each reject removes its waiter: deleting the entry being visited is safe while iterating a Map or Set.
    for (const [jobId, set] of this.waiters) for (const waiter of set) waiter.reject(this.aborted(jobId, waiter.taskName));
    this.progressListeners.clear();
    if (!reader) return;
    // BullMQ's close waits for its connection to end, which never comes while
    // Redis is away or refuses it (the reader retries forever, and one still
    // opening waits to be let in): by then the connection is dropped, and
    // shutdown must not wait for Redis.
    const closing = reader.close().catch((error: unknown) => this.logger.warn(`Result listener did not close cleanly: ${this.connections.describe(error)}`));
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([closing, new Promise<void>((resolve) => (timer = setTimeout(resolve, READER_CLOSE_WAIT_MS)))]);
    clearTimeout(timer);
  }

  private aborted(jobId: string, taskName: string): TaskWaitAbortedError {
    const id = publicJobId(jobId, this.queue.name);
    return new TaskWaitAbortedError(waitAborted(taskName, id), taskName, id);
  }

  private async settleFromStoredState(jobId: string, taskName: string, waiter: Waiter): Promise<void> {
    const job = (await this.queue.getJob(jobId)) as Job | undefined;
    const id = publicJobId(jobId, this.queue.name);
    if (!job) {
      waiter.reject((await this.wasCancelled(jobId)) ? cancelled(taskName, id) : new TaskNotFoundError(jobVanished(id)));
      return;
    }
    if (job.name !== taskName) {
      waiter.reject(new TaskNotFoundError(jobIdReused(id, taskName, job.name)));
      return;
    }
    // finishedOn is set only when a job completes or fails for good.
    if (job.finishedOn) {
      const state = await job.getState();
      if (state === 'completed') return waiter.resolve(job.returnvalue);
      if (state === 'failed') return waiter.reject(failure(taskName, id, job.failedReason, job.attemptsMade, job.stacktrace ?? undefined));
    }
    waiter.confirmed = true;
    waiter.held?.();
  }

  /** Settles the waiter with an outcome an event brought, once its job is known to be its task's. */
  private deliver(waiter: Waiter, settle: () => void): void {
    if (waiter.confirmed) settle();
    else waiter.held ??= settle;
  }

  private listen(): Promise<QueueEvents> {
    if (!this.events) {
      const opening = this.openEvents();
      this.events = opening;
      // A reader that could not open is not kept: the next waiter tries again.
      opening.catch(() => {
        if (this.events === opening) this.events = undefined;
      });
    }
    return this.events;
  }

  private async openEvents(): Promise<QueueEvents> {
    // Start reading right after the newest event that exists now, not at '$'
    // when the first XREAD happens to run: nothing in between is missed.
    const newest = await this.clients.failFast.xrevrange(this.queue.keys.events, '+', '-', 'COUNT', 1);
    const events = new QueueEvents(this.queue.name, {
      // The name BullMQ gives a reader once it runs, set from the start: a reconnected connection keeps it.
      connection: { ...this.connections.bullmq('blocking'), connectionName: readerName(this.queue) },
      prefix: this.queue.opts.prefix,
      lastEventId: newest[0]?.[0] ?? '0-0',
    });
    if (this.closed) {
      // Closed while the newest event was read: nobody waits on this reader.
      void events.close().catch(() => undefined);
      throw new Error('The result listener was closed');
    }
    this.reader = events;
    events.on('progress', ({ jobId, data }) => {
      for (const listener of this.progressListeners.get(jobId) ?? []) listener(data as number | object);
    });
    events.on('completed', ({ jobId, returnvalue }) => {
      this.progressListeners.delete(jobId);
      for (const waiter of this.waitersOf(jobId)) this.deliver(waiter, () => waiter.resolve(returnvalue));
    });
    // A waiting job removed by a cancellation.
    events.on('removed', ({ jobId }) => {
      const waiters = this.waitersOf(jobId);
      if (waiters.length === 0) return;
      void this.wasCancelled(jobId).then((yes) => {
        if (yes) for (const waiter of waiters) this.deliver(waiter, () => waiter.reject(cancelled(waiter.taskName, publicJobId(jobId, this.queue.name))));
      });
    });
    events.on('failed', ({ jobId, failedReason }) => {
      this.progressListeners.delete(jobId);
      const waiters = this.waitersOf(jobId);
      if (waiters.length === 0) return;
      // The event carries only the reason; the job has the attempts and stack.
      void this.queue.getJob(jobId).then(
        (job?: Job) => {
          const error = failure(job?.name ?? 'unknown', publicJobId(jobId, this.queue.name), failedReason, job?.attemptsMade ?? 0, job?.stacktrace ?? undefined);
          for (const waiter of waiters) this.deliver(waiter, () => waiter.reject(error));
        },
        (error: unknown) => waiters.forEach((w) => w.reject(error as Error)),
      );
    });
    // ioredis reconnects by itself; say so rather than stay silent.
    events.on('error', (error) => this.logger.warn(`Result listener lost Redis: ${this.connections.describe(error)}`));
    try {
      await events.waitUntilReady();
    } catch (error) {
      await events.close().catch(() => undefined);
      throw error;
    }
    return events;
  }

  private waitersOf(jobId: string): Waiter[] {
    return [...(this.waiters.get(jobId) ?? [])];
  }

  private forget(jobId: string, waiter: Waiter, timer: NodeJS.Timeout | undefined): void {
    if (timer) clearTimeout(timer);
    const set = this.waiters.get(jobId);
    set?.delete(waiter);
    if (set?.size === 0) this.waiters.delete(jobId);
  }
}

/** BullMQ's `CLIENT SETNAME` of a queue's QueueEvents reader: `<prefix>:<base64 of the queue's name>:qe`. */
function readerName(queue: Queue): string {
  return `${queue.opts.prefix ?? 'bull'}:${Buffer.from(queue.name).toString('base64')}:qe`;
}

function failure(
  taskName: string,
  id: string,
  reason: string,
  attemptsMade: number,
  stacktrace: string[] | undefined,
): TaskFailedError {
  if (reason === CANCELLED_REASON) return cancelled(taskName, id, attemptsMade);
  return new TaskFailedError(
    `Task "${taskName}" (job ${id}) failed after ${attemptsMade} attempt(s): ${reason}`,
    taskName,
    id,
    attemptsMade,
    stacktrace?.at(-1),
  );
}

function cancelled(taskName: string, id: string, attemptsMade = 0): TaskCancelledError {
  return new TaskCancelledError(`Task "${taskName}" (job ${id}) was cancelled`, taskName, id, attemptsMade);
}
