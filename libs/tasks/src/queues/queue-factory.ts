import { Inject, Injectable, Logger, type OnApplicationShutdown, type Provider } from '@nestjs/common';
import { Queue } from 'bullmq';
import { CRON_QUEUE, CRON_QUEUE_TOKEN, TASKS_OPTIONS, TASKS_QUEUE, TASKS_QUEUE_TOKEN } from '../options/tasks.constants.js';
import type { ResolvedTasksOptions } from '../options/tasks-options.interface.js';
import { RedisClients } from '../redis/redis-clients.js';
import { RedisConnections } from '../redis/redis-connections.js';
import { JobOutcomeListener } from './job-outcome.listener.js';
import { JobCancellation } from './job-cancellation.js';

interface BuiltQueue {
  readonly queue: Queue;
  outcomes?: JobOutcomeListener;
}

/**
 * Builds every BullMQ queue of the library (`tasks.default`, `tasks.cron`,
 * `tasks.<queue>`), once per process and name, and the one result listener of
 * each (every `waitResult()` and `onProgress()` of the process on that queue).
 *
 * All the queues share the process's `command` connection ({@link RedisClients}):
 * a queue costs no connection of its own, and a new queue none either. Its
 * result listener opens one blocking reader, on the first wait.
 */
@Injectable()
export class QueueFactory implements OnApplicationShutdown {
  private readonly built = new Map<string, BuiltQueue>();
  // The queues repeat the errors of the connection they share: one listener for
  // them all logs a message once a minute, not once per queue.
  private readonly reportError: (error: unknown) => void;

  /** @internal Built by Nest's injector. */
  constructor(
    @Inject(TASKS_OPTIONS) private readonly options: ResolvedTasksOptions,
    private readonly clients: RedisClients,
    private readonly connections: RedisConnections,
    private readonly cancellation: JobCancellation,
  ) {
    this.reportError = connections.errorListener('Queues of the library', new Logger(QueueFactory.name));
  }

  /** The BullMQ queue named `bullName`, built on first use. */
  queue(bullName: string): Queue {
    return this.entry(bullName).queue;
  }

  /** The result listener of the BullMQ queue named `bullName`, made on first use (its reader opens on the first wait). */
  outcomes(bullName: string): JobOutcomeListener {
    const entry = this.entry(bullName);
    entry.outcomes ??= new JobOutcomeListener(entry.queue, this.connections, this.clients, (id) => this.cancellation.isCancelled(bullName, id));
    return entry.outcomes;
  }

  /** Closes the result listeners (rejecting their waiters), then the queues; their connection closes after, with the other shared ones. */
  async onApplicationShutdown(): Promise<void> {
    const built = [...this.built.values()];
    await Promise.all(built.map(async (entry) => entry.outcomes?.close()));
    await Promise.all(built.map((entry) => entry.queue.close()));
  }

  private entry(bullName: string): BuiltQueue {
    let entry = this.built.get(bullName);
    if (!entry) {
      // Given a client rather than options, BullMQ shares it and leaves it open when the queue closes.
      const queue = new Queue(bullName, { connection: this.clients.command, prefix: this.options.prefix });
      queue.on('error', this.reportError);
      entry = { queue };
      this.built.set(bullName, entry);
    }
    return entry;
  }
}

/** The providers of `TASKS_QUEUE_TOKEN` and `CRON_QUEUE_TOKEN`: `@nestjs/bullmq`'s tokens of `tasks.default` and `tasks.cron`. */
export const libraryQueueProviders: Provider<Queue>[] = [
  { provide: TASKS_QUEUE_TOKEN, useFactory: (queues: QueueFactory) => queues.queue(TASKS_QUEUE), inject: [QueueFactory] },
  { provide: CRON_QUEUE_TOKEN, useFactory: (queues: QueueFactory) => queues.queue(CRON_QUEUE), inject: [QueueFactory] },
];
