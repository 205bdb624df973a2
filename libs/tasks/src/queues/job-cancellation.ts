import { Inject, Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { TASKS_OPTIONS } from '../options/tasks.constants.js';
import type { ResolvedTasksOptions } from '../options/tasks-options.interface.js';
import { RedisConnections } from '../redis/redis-connections.js';

/** The text a cancelled run fails with, so that every waiter tells a cancellation from a failure. */
export const CANCELLED_REASON = 'Cancelled by TaskClient (handle.cancel())';

/** How long a cancellation is remembered: a waiter that arrives later still learns the job was cancelled. */
const MARK_TTL_SECONDS = 24 * 3_600;
/** How long a worker remembers a cancellation it heard of, for a job whose run had not quite started. */
const RECENT_MS = 60_000;

/**
 * Cancels jobs: a waiting or delayed job is removed from its queue; a running
 * one is told, through Redis pub/sub, to whichever worker runs it, which
 * aborts the run's `ctx.signal` (and fails the job without retries). Either
 * way the job is marked cancelled for a day, and `waitResult` rejects with
 * `TaskCancelledError`.
 */
@Injectable()
export class JobCancellation implements OnApplicationShutdown {
  private readonly logger = new Logger(JobCancellation.name);
  private client?: Redis;
  private subscriber?: Redis;
  private readonly recent = new Map<string, number>();

  /** @internal Built by Nest's injector. */
  constructor(
    @Inject(TASKS_OPTIONS) private readonly options: ResolvedTasksOptions,
    private readonly connections: RedisConnections,
  ) {}

  private get channel(): string {
    return `${this.options.prefix}:tasks.cancel`;
  }

  private markKey(bullQueue: string, storedId: string): string {
    return `${this.options.prefix}:tasks.cancelled:${bullQueue}:${storedId}`;
  }

  /** Cancels the job; `'removed'` when it had not started, `'signalled'` when its run is told to stop, `'finished'` when too late. */
  async cancel(queue: Queue, storedId: string): Promise<'removed' | 'signalled' | 'finished'> {
    const redis = this.redis();
    const state = await queue.getJobState(storedId);
    if (state === 'completed' || state === 'failed' || state === 'unknown') return 'finished';
    await redis.set(this.markKey(queue.name, storedId), '1', 'EX', MARK_TTL_SECONDS);
    // Removal fails while a worker holds the job's lock: then it runs, and is told.
    if ((await queue.remove(storedId)) === 1) return 'removed';
    await redis.publish(this.channel, JSON.stringify({ queue: queue.name, id: storedId }));
    return 'signalled';
  }

  /** Whether the job was cancelled (for a waiter that finds it gone, or failed). */
  async isCancelled(bullQueue: string, storedId: string): Promise<boolean> {
    return (await this.redis().exists(this.markKey(bullQueue, storedId))) === 1;
  }

  /** Worker side: calls `onCancel(queue, id)` for each cancellation of a running job, from any producer. */
  async listen(onCancel: (bullQueue: string, storedId: string) => void): Promise<void> {
    if (this.subscriber) return;
    const subscriber = this.connections.create('subscriber', 'cancel-subscriber');
    this.subscriber = subscriber;
    subscriber.on('error', (error) => this.logger.warn(`Cancellation listener: ${this.connections.describe(error)}`));
    subscriber.on('message', (_channel: string, message: string) => {
      let parsed: { queue?: unknown; id?: unknown };
      try {
        parsed = JSON.parse(message) as typeof parsed;
      } catch {
        return;
      }
      if (typeof parsed.queue !== 'string' || typeof parsed.id !== 'string') return;
      this.remember(`${parsed.queue}\0${parsed.id}`);
      onCancel(parsed.queue, parsed.id);
    });
    await subscriber.subscribe(this.channel);
  }

  /** Whether this worker heard of the job's cancellation lately: a run that starts just after it must not go on. */
  heardOf(bullQueue: string, storedId: string): boolean {
    return this.recent.size > 0 && this.recent.has(`${bullQueue}\0${storedId}`);
  }

  async onApplicationShutdown(): Promise<void> {
    this.subscriber?.disconnect();
    this.client?.disconnect();
  }

  private remember(key: string): void {
    const now = Date.now();
    for (const [old, at] of this.recent) if (now - at > RECENT_MS) this.recent.delete(old);
    this.recent.set(key, now);
  }

  private redis(): Redis {
    this.client ??= this.connections.create('command', 'cancellation');
    return this.client;
  }
}
