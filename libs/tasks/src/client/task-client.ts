import { Inject, Injectable } from '@nestjs/common';
import type { Queue } from 'bullmq';
import { TASKS_OPTIONS } from '../options/tasks.constants.js';
import type { ResolvedTasksOptions } from '../options/tasks-options.interface.js';
import { TaskCatalog } from '../task/task.catalog.js';
import type { JsonValue } from '../task/assert-json-payload.js';
import type { JobIdConflictError } from '../errors/tasks.errors.js';
import { parsePublicJobId, publicJobId } from '../task/job-ids.js';
import { TaskQueues } from '../queues/task-queues.js';
import { JobCancellation } from '../queues/job-cancellation.js';
import { taskQueueOf } from '../options/task-queue-names.js';
import { enqueueCall, jobIdConflict, prepareEnqueue, prepareEnqueueMany, type EnqueueContext, type EnqueueManyItem, type PreparedEnqueue } from './enqueue-request.js';
import { EnqueuedTask } from './task-handle.js';
import { TasksEvents } from '../events/tasks-events.js';
import { endWithError, setMessageId, startBatchSpan, startProducerSpan } from '../observability/task-tracing.js';
import type {
  EnqueueOptions,
  TaskClass,
  TaskHandle,
  TaskJobInfo,
  TaskJobState,
  TaskMethodName,
  TaskPayload,
  TaskResult,
} from './task-client.types.js';

export type { EnqueueManyItem } from './enqueue-request.js';

/** Enqueues tasks and reads their outcome. Inject it anywhere in an app that imports `TasksModule`. */
@Injectable()
export class TaskClient {
  private readonly enqueueContext: EnqueueContext;

  /** @internal Built by Nest's injector. */
  constructor(
    private readonly queues: TaskQueues,
    @Inject(TASKS_OPTIONS) options: ResolvedTasksOptions,
    private readonly catalog: TaskCatalog,
    private readonly events: TasksEvents,
    private readonly cancellation: JobCancellation,
  ) {
    this.enqueueContext = { catalog, options };
  }

  /** Cancels a job by its public id (see `TaskHandle.cancel`); `'finished'` for an id no job of a queue this app knows has. */
  async cancel(publicId: string): Promise<'removed' | 'signalled' | 'finished'> {
    const found = this.locate(publicId);
    return found ? this.cancellation.cancel(found.queue, found.storedId) : 'finished';
  }

  /** Typed form: the payload must match the method's first parameter; the handle resolves with its return type. */
  enqueue<T, K extends TaskMethodName<T>>(
    taskClass: TaskClass<T>,
    method: K,
    payload: TaskPayload<T, K>,
    options?: EnqueueOptions,
  ): Promise<TaskHandle<TaskResult<T, K>>>;
  /**
   * By name, for producers that do not import the task's class. The task's
   * retries (`attempts`, `backoff`) and `timeoutMs` are those of the worker
   * that runs it, as for the typed form; its queue is the task's own when
   * this process has the task, else `options.queue` (default `default`).
   */
  enqueue<R = unknown>(name: string, payload: JsonValue, options?: EnqueueOptions): Promise<TaskHandle<R>>;
  async enqueue(
    target: string | TaskClass<unknown>,
    ...args: [string, unknown, EnqueueOptions?] | [unknown, EnqueueOptions?]
  ): Promise<TaskHandle<unknown>> {
    const { name, payload, options, declared } = enqueueCall(target, args);
    const { queueName, jobOptions: prepared } = prepareEnqueue(this.enqueueContext, name, payload, options, declared);
    const queue = this.queues.queue(queueName);
    const { span, jobOptions } = startProducerSpan('send', queue.name, name, prepared);
    let job;
    try {
      job = await queue.add(name, payload, jobOptions);
      const refused = jobOptions.jobId === undefined ? undefined : takenBy(name, job.id as string, queue, await jobNames(queue, [job.id as string]));
      if (refused) throw refused;
    } catch (error) {
      endWithError(span, error);
      throw error;
    }
    setMessageId(span, job.id as string, queue.name);
    span.end();
    this.events.emit('task.enqueued', { task: name, queue: queue.name, jobId: publicJobId(job.id as string, queue.name) });
    return this.handle(job.id as string, name, queue, queueName);
  }

  /**
   * Adds many jobs, one Redis round trip per queue (BullMQ `addBulk`); each
   * item is validated like `enqueue` before any is added. Handles come back
   * in the order of the items. A `jobId` that names another task's job
   * throws `JobIdConflictError`: before anything is added when two items
   * clash, after the other items are added when a job of the queue has it.
   */
  async enqueueMany(items: readonly EnqueueManyItem[]): Promise<TaskHandle<unknown>[]> {
    const { prepared, byQueue } = prepareEnqueueMany(this.enqueueContext, items);
    const handles: TaskHandle<unknown>[] = [];
    const refusals: JobIdConflictError[] = [];
    for (const [queueName, indexes] of byQueue) {
      const queue = this.queues.queue(queueName);
      // One `create` span per job, carried by it; the batch's `send` span links to them all.
      const creates = indexes.map((i) => startProducerSpan('create', queue.name, (items[i] as EnqueueManyItem).name, (prepared[i] as PreparedEnqueue).jobOptions));
      const batch = startBatchSpan(
        queue.name,
        indexes.length,
        creates.map(({ span }) => ({ context: span.spanContext() })),
      );
      const bulk = indexes.map((i, k) => ({ name: (items[i] as EnqueueManyItem).name, data: (items[i] as EnqueueManyItem).payload, opts: creates[k]?.jobOptions }));
      let jobs;
      let names: ReadonlyMap<string, string | null> = new Map();
      try {
        jobs = await queue.addBulk(bulk);
        const chosenIds = jobs.filter((_, k) => bulk[k]?.opts?.jobId !== undefined).map((job) => job.id as string);
        if (chosenIds.length > 0) names = await jobNames(queue, chosenIds);
      } catch (error) {
        for (const { span } of creates) endWithError(span, error);
        endWithError(batch, error);
        throw error;
      }
      const outcomes = this.queues.outcomes(queueName);
      jobs.forEach((job, k) => {
        const span = creates[k]?.span;
        const refused = takenBy(job.name, job.id as string, queue, names);
        if (refused) {
          refusals.push(refused);
          if (span) endWithError(span, refused);
          return;
        }
        if (span) {
          setMessageId(span, job.id as string, queue.name);
          span.end();
        }
        handles[indexes[k] as number] = this.handle(job.id as string, job.name, queue, queueName, outcomes);
        this.events.emit('task.enqueued', { task: job.name, queue: queue.name, jobId: publicJobId(job.id as string, queue.name) });
      });
      batch.end();
    }
    if (refusals[0]) throw refusals[0];
    return handles;
  }

  /**
   * State, result or error of a job; undefined when no such job is retained,
   * and, without a Redis command, for anything that is no job id of a queue
   * this app knows (see `TasksQueues.get`).
   */
  async getJob(publicId: string): Promise<TaskJobInfo | undefined> {
    const found = this.locate(publicId);
    if (!found) return undefined;
    const { queue, storedId: jobId } = found;
    // State first, then the job: a job read after it was seen completed or failed
    // has its result or error (one script stores both), whereas a job read first
    // can be a snapshot from before it finished, paired with the newer state.
    let state = (await queue.getJobState(jobId)) as TaskJobState;
    const job = await queue.getJob(jobId);
    if (!job) return undefined;
    // Added between the two reads.
    if (state === 'unknown') state = (await job.getState()) as TaskJobState;
    return {
      id: publicJobId(job.id as string, queue.name),
      name: job.name,
      state,
      attemptsMade: job.attemptsMade,
      progress: job.progress,
      ...(state === 'completed' ? { result: job.returnvalue as unknown } : {}),
      ...(state === 'failed' ? { error: job.failedReason } : {}),
      enqueuedAt: new Date(job.timestamp),
      ...(job.finishedOn ? { finishedAt: new Date(job.finishedOn) } : {}),
    };
  }

  /**
   * The queue and BullMQ job id a public job id names; undefined, opening
   * nothing, when no job id handed out could read so, or when its queue is
   * not one the app knows: the id may come from anyone.
   */
  private locate(publicId: unknown): { queue: Queue; storedId: string } | undefined {
    if (typeof publicId !== 'string') return undefined;
    const parsed = parsePublicJobId(publicId);
    const queue = parsed && this.queues.find(parsed.queue);
    return queue && parsed ? { queue, storedId: parsed.storedId } : undefined;
  }

  private handle(storedId: string, name: string, queue: Queue, queueName: string, outcomes = this.queues.outcomes(queueName)): EnqueuedTask<unknown> {
    return new EnqueuedTask(storedId, name, queue.name, outcomes, () => this.cancellation.cancel(queue, storedId));
  }

  /** Names of the tasks registered in this process. */
  knownTasks(): string[] {
    return this.catalog.names();
  }
}

/** The task name of each of these jobs of `queue` (null for one that is gone); the commands go out together, one round trip. */
async function jobNames(queue: Queue, storedIds: readonly string[]): Promise<Map<string, string | null>> {
  const client = await queue.getBackend().client;
  const names = await Promise.all(storedIds.map((id) => client.hget(queue.toKey(id), 'name')));
  return new Map(storedIds.map((id, i) => [id, names[i] ?? null]));
}

/**
 * BullMQ answers an add whose id exists with that job, whichever its task:
 * a caller must not get a handle on (and the result of) another task's job.
 * The error when `names` (see {@link jobNames}) has the job of another task.
 */
function takenBy(task: string, storedId: string, queue: Queue, names: ReadonlyMap<string, string | null>): JobIdConflictError | undefined {
  const owner = names.get(storedId);
  return owner !== null && owner !== undefined && owner !== task ? jobIdConflict(task, storedId, taskQueueOf(queue.name), owner) : undefined;
}
