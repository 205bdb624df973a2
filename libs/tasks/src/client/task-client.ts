import { Inject, Injectable } from '@nestjs/common';
import type { JobsOptions, Queue } from 'bullmq';
import { TASKS_OPTIONS } from '../options/tasks.constants.js';
import type { ResolvedTasksOptions } from '../options/tasks-options.interface.js';
import { TaskCatalog } from '../task/task.catalog.js';
import { getTaskMetadata } from '../task/task-metadata.accessor.js';
import type { TaskMetadata } from '../task/task.decorator.js';
import { taskJobRetryOptions } from '../task/task-attempts.js';
import { assertJsonPayload, type JsonValue } from '../task/assert-json-payload.js';
import { InvalidEnqueueOptionError, JobIdConflictError, TasksError, UnknownTaskError } from '../errors/tasks.errors.js';
import { invalidEnqueueKey, invalidTaskOption, jobIdTaken, notATaskMethod, unknownTaskOnEnqueue } from '../errors/tasks.messages.js';
import { dedupKeyProblem, jobIdProblem, parsePublicJobId, publicJobId, showKey, storedDedupId, storedJobId } from '../task/job-ids.js';
import { TaskQueues } from '../queues/task-queues.js';
import { JobCancellation } from '../queues/job-cancellation.js';
import { DEFAULT_TASK_QUEUE, queueNameProblem, taskQueueOf } from '../options/task-queue-names.js';
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

/** One job of `enqueueMany`. */
export interface EnqueueManyItem {
  name: string;
  payload: JsonValue;
  options?: EnqueueOptions;
}

/** Enqueues tasks and reads their outcome. Inject it anywhere in an app that imports `TasksModule`. */
@Injectable()
export class TaskClient {
  /** @internal Built by Nest's injector. */
  constructor(
    private readonly queues: TaskQueues,
    @Inject(TASKS_OPTIONS) private readonly options: ResolvedTasksOptions,
    private readonly catalog: TaskCatalog,
    private readonly events: TasksEvents,
    private readonly cancellation: JobCancellation,
  ) {}

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
    // The class form carries its task's metadata, so it works in producers
    // that import the class without registering it as a provider.
    const [declared, payload, options] =
      typeof target === 'string'
        ? ([undefined, args[0], args[1]] as [undefined, unknown, EnqueueOptions | undefined])
        : ([this.metadataOf(target, args[0] as string), args[1], args[2]] as [TaskMetadata, unknown, EnqueueOptions | undefined]);
    const name = declared?.name ?? (target as string);
    const { queueName, jobOptions: prepared } = this.prepare(name, payload, options, declared);
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
    const prepared = items.map((item) => this.prepare(item.name, item.payload, item.options));
    const byQueue = new Map<string, number[]>();
    const chosen = new Map<string, string>();
    prepared.forEach(({ queueName, jobOptions }, i) => {
      const indexes = byQueue.get(queueName);
      if (indexes) indexes.push(i);
      else byQueue.set(queueName, [i]);
      if (jobOptions.jobId === undefined) return;
      const name = (items[i] as EnqueueManyItem).name;
      const key = `${queueName}\0${jobOptions.jobId}`;
      const first = chosen.get(key) ?? name;
      chosen.set(key, first);
      if (first !== name) throw conflict(name, jobOptions.jobId, queueName, first);
    });
    const handles: TaskHandle<unknown>[] = [];
    const refusals: JobIdConflictError[] = [];
    for (const [queueName, indexes] of byQueue) {
      const queue = this.queues.queue(queueName);
      // One `create` span per job, carried by it; the batch's `send` span links to them all.
      const creates = indexes.map((i) => startProducerSpan('create', queue.name, (items[i] as EnqueueManyItem).name, (prepared[i] as { jobOptions: JobsOptions }).jobOptions));
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

  private metadataOf(taskClass: TaskClass<unknown>, method: string): TaskMetadata {
    const metadata = getTaskMetadata((taskClass.prototype as Record<string, unknown>)[method]);
    if (!metadata) throw new TasksError(notATaskMethod(taskClass.name, method));
    return metadata;
  }

  private prepare(
    name: string,
    payload: unknown,
    options: EnqueueOptions = {},
    declared?: TaskMetadata,
  ): { queueName: string; jobOptions: JobsOptions } {
    const task = this.catalog.get(name) ?? declared;
    if (!task && !this.options.allowUnregisteredTasks) {
      const known = this.catalog.names();
      throw new UnknownTaskError(unknownTaskOnEnqueue(name, known), name, known);
    }
    assertJsonPayload(name, payload, this.options.maxPayloadBytes);
    assertEnqueueOptions(name, options);
    // Attempts and backoff are the worker's: it retries by its own @Task()
    // settings (TaskRunner.backoffStrategy), so a producer that enqueues by
    // name, or runs older code, applies no settings of its own. Retention
    // (keepCompleted/keepFailed) is the worker's too (QueueConsumer): per-job
    // options are stored in every job's hash and cost Redis about 20% more CPU
    // per add. Unset options are left out rather than passed as undefined,
    // which BullMQ would still carry (about 3 µs per add).
    const jobOptions: JobsOptions = taskJobRetryOptions(options.attempts);
    if (options.jobId !== undefined) jobOptions.jobId = storedJobId(options.jobId);
    if (options.delayMs !== undefined) jobOptions.delay = options.delayMs;
    if (options.priority !== undefined) jobOptions.priority = options.priority;
    if (options.deduplicate !== undefined) {
      const { key, windowMs } = options.deduplicate;
      // Per task: a key shared by two tasks must not hand one the other's job.
      const id = storedDedupId(name, key);
      jobOptions.deduplication = windowMs === undefined ? { id } : { id, ttl: windowMs };
    }
    return { queueName: this.queueOf(name, task, options), jobOptions };
  }

  /** The task's own queue; `options.queue` only for a task this process does not know, and it must agree with a known one. */
  private queueOf(name: string, task: { queue: string } | undefined, options: EnqueueOptions): string {
    if (options.queue === undefined) return task?.queue ?? DEFAULT_TASK_QUEUE;
    const problem = queueNameProblem(options.queue);
    if (problem) throw optionError(name, 'queue', options.queue, problem.replace(/^.* is not a queue name: /, ''));
    if (task && task.queue !== options.queue) {
      throw optionError(name, 'queue', options.queue, `the task's own queue "${task.queue}" (set by @Task({ queue }); leave the option out)`);
    }
    return options.queue;
  }
}

function optionError(task: string, option: string, value: unknown, expected: string): InvalidEnqueueOptionError {
  return new InvalidEnqueueOptionError(invalidTaskOption(`enqueue("${task}")`, option, value, expected), task, option);
}

function assertEnqueueOptions(task: string, o: EnqueueOptions): void {
  const where = `enqueue("${task}")`;
  if (o.jobId !== undefined) {
    const problem = jobIdProblem(o.jobId);
    if (problem) throw new InvalidEnqueueOptionError(invalidEnqueueKey(where, 'jobId', showKey(o.jobId), problem), task, 'jobId');
  }
  if (o.delayMs !== undefined && (!Number.isInteger(o.delayMs) || o.delayMs < 0)) {
    throw optionError(task, 'delayMs', o.delayMs, 'a non-negative integer');
  }
  if (o.priority !== undefined && (!Number.isInteger(o.priority) || o.priority < 1 || o.priority > 2_097_152)) {
    throw optionError(task, 'priority', o.priority, 'an integer from 1 (highest) to 2097152');
  }
  if (o.deduplicate !== undefined) {
    const { key, windowMs } = (o.deduplicate ?? {}) as { key?: unknown; windowMs?: unknown };
    const problem = dedupKeyProblem(key);
    if (problem) throw new InvalidEnqueueOptionError(invalidEnqueueKey(where, 'deduplicate.key', showKey(key), problem), task, 'deduplicate.key');
    if (windowMs !== undefined && (!Number.isInteger(windowMs) || (windowMs as number) < 1)) {
      throw optionError(task, 'deduplicate.windowMs', windowMs, 'a positive integer of ms');
    }
  }
  if (o.attempts !== undefined && (!Number.isInteger(o.attempts) || o.attempts < 1)) {
    throw optionError(task, 'attempts', o.attempts, 'a positive integer');
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
  return owner !== null && owner !== undefined && owner !== task ? conflict(task, storedId, taskQueueOf(queue.name), owner) : undefined;
}

/** The error of a chosen job id (`storedId`, BullMQ's) of task queue `queue` that another task's job has. */
function conflict(task: string, storedId: string, queue: string, takenBy: string): JobIdConflictError {
  // The id as the caller chose it: without its queue.
  const jobId = publicJobId(storedId);
  return new JobIdConflictError(jobIdTaken(task, jobId, queue, takenBy), task, jobId, takenBy);
}
