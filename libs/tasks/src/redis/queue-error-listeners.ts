import { Inject, Injectable, Logger } from '@nestjs/common';
import type { Queue } from 'bullmq';
import { CRON_QUEUE_TOKEN, TASKS_QUEUE_TOKEN } from '../options/tasks.constants.js';
import { RedisConnections } from './redis-connections.js';
import { RedisPreflight } from './redis-preflight.js';

/**
 * The library's BullMQ queues are built by @nestjs/bullmq, which attaches no
 * `error` listener: Node then prints each connection error raw, with the AUTH
 * command's arguments (the password) in it. This gives them one that logs the
 * scrubbed message; the same message again within a minute (every reconnect
 * attempt of one outage) is not repeated. Errors before the boot check passed
 * are left to it, so a failed boot says what is wrong first.
 */
const REPEAT_AFTER_MS = 60_000;

@Injectable()
export class QueueErrorListeners {
  private readonly logger = new Logger(QueueErrorListeners.name);

  constructor(
    @Inject(TASKS_QUEUE_TOKEN) tasks: Queue,
    @Inject(CRON_QUEUE_TOKEN) cron: Queue,
    private readonly connections: RedisConnections,
    private readonly preflight: RedisPreflight,
  ) {
    for (const queue of [tasks, cron]) this.listen(queue);
  }

  /** Gives `queue` the scrubbing error listener (for queues the library builds itself). */
  listen(queue: Queue): void {
    let last = '';
    let lastAt = 0;
    queue.on('error', (error: Error) => {
      if (!this.preflight.passed) return;
      const message = this.connections.describe(error);
      const now = Date.now();
      if (message === last && now - lastAt < REPEAT_AFTER_MS) return;
      last = message;
      lastAt = now;
      this.logger.warn(`Queue ${queue.name}: ${message}`);
    });
  }
}
