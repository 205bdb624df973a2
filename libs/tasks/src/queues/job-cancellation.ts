import { Inject, Injectable } from '@nestjs/common';
import type { Queue } from 'bullmq';
import { TASKS_OPTIONS } from '../options/tasks.constants.js';
import type { ResolvedTasksOptions } from '../options/tasks-options.interface.js';
import { RedisClients } from '../redis/redis-clients.js';
import type { ChannelListener } from '../redis/redis-channels.js';

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
export class JobCancellation {
  private listener?: ChannelListener;
  private readonly recent = new Map<string, number>();

  /** @internal Built by Nest's injector. */
  constructor(
    @Inject(TASKS_OPTIONS) private readonly options: ResolvedTasksOptions,
    private readonly clients: RedisClients,
  ) {}

  private get channel(): string {
    return `${this.options.prefix}:tasks.cancel`;
  }

  private markKey(bullQueue: string, storedId: string): string {
    return `${this.options.prefix}:tasks.cancelled:${bullQueue}:${storedId}`;
  }

  /** Cancels the job; `'removed'` when it had not started, `'signalled'` when its run is told to stop, `'finished'` when too late. */
  async cancel(queue: Queue, storedId: string): Promise<'removed' | 'signalled' | 'finished'> {
    const redis = this.clients.command;
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
    return (await this.clients.command.exists(this.markKey(bullQueue, storedId))) === 1;
  }

  /** Worker side: calls `onCancel(queue, id)` for each cancellation of a running job, from any producer; resolves once Redis listens. */
  async listen(onCancel: (bullQueue: string, storedId: string) => void): Promise<void> {
    if (this.listener) return;
    const listener = this.clients.channels.listen(this.channel, (message) => {
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
    this.listener = listener;
    try {
      await listener.subscribed;
    } catch (error) {
      this.listener = undefined;
      throw error;
    }
  }

  /** Whether this worker heard of the job's cancellation lately: a run that starts just after it must not go on. */
  heardOf(bullQueue: string, storedId: string): boolean {
    return this.recent.size > 0 && this.recent.has(`${bullQueue}\0${storedId}`);
  }

  private remember(key: string): void {
    const now = Date.now();
    for (const [old, at] of this.recent) if (now - at > RECENT_MS) this.recent.delete(old);
    this.recent.set(key, now);
  }
}
