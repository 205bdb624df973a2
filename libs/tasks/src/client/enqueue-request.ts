import type { JobsOptions } from 'bullmq';
import type { ResolvedTasksOptions } from '../options/tasks-options.interface.js';
import type { TaskCatalog } from '../task/task.catalog.js';
import { getTaskMetadata } from '../task/task-metadata.accessor.js';
import type { TaskMetadata } from '../task/task.decorator.js';
import { taskJobRetryOptions } from '../task/task-attempts.js';
import { assertJsonPayload, type JsonValue } from '../task/assert-json-payload.js';
import { InvalidEnqueueOptionError, JobIdConflictError, TasksError, UnknownTaskError } from '../errors/tasks.errors.js';
import { invalidEnqueueKey, invalidTaskOption, jobIdTaken, notATaskMethod, unknownTaskOnEnqueue } from '../errors/tasks.messages.js';
import { dedupKeyProblem, jobIdProblem, publicJobId, showKey, storedDedupId, storedJobId } from '../task/job-ids.js';
import { DEFAULT_TASK_QUEUE, queueNameProblem } from '../options/task-queue-names.js';
import type { EnqueueOptions, TaskClass } from './task-client.types.js';

// Everything `enqueue` decides before it talks to a queue, shared by
// TaskClient and the testing kit's client: a payload, a name or an option
// production refuses is refused by both, with the same error.

/** One job of `enqueueMany`. */
export interface EnqueueManyItem {
  name: string;
  payload: JsonValue;
  options?: EnqueueOptions;
}

/** An `enqueue` call's arguments, whichever overload: the task's name, payload, options, and the metadata the class form carries. */
export interface EnqueueCall {
  readonly name: string;
  readonly payload: unknown;
  readonly options: EnqueueOptions | undefined;
  readonly declared: TaskMetadata | undefined;
}

/** What `enqueue` adds: the task queue and the BullMQ job options. */
export interface PreparedEnqueue {
  readonly queueName: string;
  readonly jobOptions: JobsOptions;
}

/** What preparing a job reads: the tasks this process registered and the module's options. */
export interface EnqueueContext {
  readonly catalog: TaskCatalog;
  readonly options: ResolvedTasksOptions;
}

/** Reads `enqueue(name, payload, options?)` and `enqueue(TaskClass, method, payload, options?)` alike. */
export function enqueueCall(
  target: string | TaskClass<unknown>,
  args: [string, unknown, EnqueueOptions?] | [unknown, EnqueueOptions?],
): EnqueueCall {
  if (typeof target === 'string') return { name: target, payload: args[0], options: args[1] as EnqueueOptions | undefined, declared: undefined };
  // The class form carries its task's metadata, so it works in producers
  // that import the class without registering it as a provider.
  const declared = taskMetadataOf(target, args[0] as string);
  return { name: declared.name, payload: args[1], options: args[2] as EnqueueOptions | undefined, declared };
}

/** The `@Task()` metadata of `taskClass.prototype[method]`; throws when that is no task method. */
export function taskMetadataOf(taskClass: TaskClass<unknown>, method: string): TaskMetadata {
  const metadata = getTaskMetadata((taskClass.prototype as Record<string, unknown>)[method]);
  if (!metadata) throw new TasksError(notATaskMethod(taskClass.name, method));
  return metadata;
}

/**
 * Checks one job (known task, JSON payload, options) and builds what is
 * added to its queue. Throws `UnknownTaskError`, `InvalidPayloadError` or
 * `InvalidEnqueueOptionError`; nothing is added then.
 */
export function prepareEnqueue(
  { catalog, options: moduleOptions }: EnqueueContext,
  name: string,
  payload: unknown,
  options: EnqueueOptions = {},
  declared?: TaskMetadata,
): PreparedEnqueue {
  const task = catalog.get(name) ?? declared;
  if (!task && !moduleOptions.allowUnregisteredTasks) {
    const known = catalog.names();
    throw new UnknownTaskError(unknownTaskOnEnqueue(name, known), name, known);
  }
  assertJsonPayload(name, payload, moduleOptions.maxPayloadBytes);
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
  return { queueName: queueOf(name, task, options), jobOptions };
}

/**
 * The items of `enqueueMany`, each prepared as `enqueue` prepares a job, and
 * their indexes grouped by task queue in the order the queues first appear.
 * Throws before anything is added when an item is refused, or when two items
 * give one job id of a queue to different tasks.
 */
export function prepareEnqueueMany(context: EnqueueContext, items: readonly EnqueueManyItem[]): { prepared: PreparedEnqueue[]; byQueue: Map<string, number[]> } {
  const prepared = items.map((item) => prepareEnqueue(context, item.name, item.payload, item.options));
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
    if (first !== name) throw jobIdConflict(name, jobOptions.jobId, queueName, first);
  });
  return { prepared, byQueue };
}

/** The error of a chosen job id (`storedId`, BullMQ's) of task queue `queue` that another task's job has. */
export function jobIdConflict(task: string, storedId: string, queue: string, takenBy: string): JobIdConflictError {
  // The id as the caller chose it: without its queue.
  const jobId = publicJobId(storedId);
  return new JobIdConflictError(jobIdTaken(task, jobId, queue, takenBy), task, jobId, takenBy);
}

/** The task's own queue; `options.queue` only for a task this process does not know, and it must agree with a known one. */
function queueOf(name: string, task: { queue: string } | undefined, options: EnqueueOptions): string {
  if (options.queue === undefined) return task?.queue ?? DEFAULT_TASK_QUEUE;
  const problem = queueNameProblem(options.queue);
  if (problem) throw optionError(name, 'queue', options.queue, problem.replace(/^.* is not a queue name: /, ''));
  if (task && task.queue !== options.queue) {
    throw optionError(name, 'queue', options.queue, `the task's own queue "${task.queue}" (set by @Task({ queue }); leave the option out)`);
  }
  return options.queue;
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
