import { Inject, Injectable } from '@nestjs/common';
import { TASKS_OPTIONS } from '../options/tasks.constants.js';
import type { ResolvedTasksOptions } from '../options/tasks-options.interface.js';
import { TaskCatalog } from '../task/task.catalog.js';
import type { JsonValue } from '../task/assert-json-payload.js';
import { parsePublicJobId } from '../task/job-ids.js';
import { bullQueueName } from '../options/task-queue-names.js';
import type { TaskClient } from '../client/task-client.js';
import {
  enqueueCall,
  jobIdConflict,
  prepareEnqueue,
  prepareEnqueueMany,
  type EnqueueContext,
  type EnqueueManyItem,
} from '../client/enqueue-request.js';
import type {
  EnqueueOptions,
  TaskClass,
  TaskHandle,
  TaskJobInfo,
  TaskMethodName,
  TaskPayload,
  TaskResult,
  WaitResultOptions,
} from '../client/task-client.types.js';
import type { JobIdConflictError } from '../errors/tasks.errors.js';
import { TestingJobs, type TestingJob } from './testing-jobs.js';
import { TestingTaskWorker } from './testing-task-worker.js';
import { TestingMode } from './testing-mode.js';
import { TasksEvents } from '../events/tasks-events.js';

/** What code can call on a `TaskClient`: the kit's client has all of it, with the same types, or the build fails. */
export type PublicTaskClient = { [K in keyof TaskClient]: TaskClient[K] };

/** The handle of a kit job: production's contract, settled by the kit's runs. */
class TestingTaskHandle<R> implements TaskHandle<R> {
  readonly id: string;

  constructor(
    private readonly job: TestingJob,
    readonly name: string,
    private readonly jobs: TestingJobs,
    private readonly worker: TestingTaskWorker,
  ) {
    this.id = job.publicId;
  }

  async cancel(): Promise<'removed' | 'signalled' | 'finished'> {
    return this.worker.cancel(this.job);
  }

  onProgress(listener: (progress: number | object) => void): () => void {
    return this.jobs.onProgress(this.job, listener);
  }

  waitResult(options: WaitResultOptions = {}): Promise<R> {
    return this.jobs.wait(this.job, this.name, options.timeoutMs) as Promise<R>;
  }
}

/**
 * The `TaskClient` of the testing kit, injected wherever the code under test
 * injects `TaskClient`. It checks every call as production does (the same
 * code: unknown tasks, payloads, options, job id conflicts) and keeps the
 * jobs in memory; in `inline` mode `enqueue` runs the job before it resolves.
 */
@Injectable()
export class TestingTaskClient implements PublicTaskClient {
  private readonly enqueueContext: EnqueueContext;

  /** @internal Built by Nest's injector. */
  constructor(
    @Inject(TASKS_OPTIONS) options: ResolvedTasksOptions,
    private readonly catalog: TaskCatalog,
    private readonly jobs: TestingJobs,
    private readonly worker: TestingTaskWorker,
    private readonly mode: TestingMode,
    private readonly events: TasksEvents,
  ) {
    this.enqueueContext = { catalog, options };
  }

  /** Cancels a job by its public id; `'finished'` for an id no job of the kit has. */
  async cancel(publicId: string): Promise<'removed' | 'signalled' | 'finished'> {
    const job = this.locate(publicId);
    return job ? this.worker.cancel(job) : 'finished';
  }

  /** Typed form: the payload must match the method's first parameter; the handle resolves with its return type. */
  enqueue<T, K extends TaskMethodName<T>>(
    taskClass: TaskClass<T>,
    method: K,
    payload: TaskPayload<T, K>,
    options?: EnqueueOptions,
  ): Promise<TaskHandle<TaskResult<T, K>>>;
  /** By name, as `TaskClient.enqueue(name, payload, options)`. */
  enqueue<R = unknown>(name: string, payload: JsonValue, options?: EnqueueOptions): Promise<TaskHandle<R>>;
  async enqueue(
    target: string | TaskClass<unknown>,
    ...args: [string, unknown, EnqueueOptions?] | [unknown, EnqueueOptions?]
  ): Promise<TaskHandle<unknown>> {
    const inline = this.mode.current === 'inline';
    const { name, payload, options, declared } = enqueueCall(target, args);
    const { queueName, jobOptions } = prepareEnqueue(this.enqueueContext, name, payload, options, declared);
    const { job, added } = this.jobs.add(name, payload, queueName, jobOptions, options ?? {});
    if (job.name !== name) throw jobIdConflict(name, job.id, queueName, job.name);
    this.enqueued(job);
    if (added && inline) await this.worker.runInline(job);
    return this.handle(job, name);
  }

  /**
   * As `TaskClient.enqueueMany`: every item is checked before any is added;
   * a `jobId` of another task's job throws `JobIdConflictError` once the
   * other items are added (and, inline, have run).
   */
  async enqueueMany(items: readonly EnqueueManyItem[]): Promise<TaskHandle<unknown>[]> {
    const inline = this.mode.current === 'inline';
    const { prepared, byQueue } = prepareEnqueueMany(this.enqueueContext, items);
    const handles: TaskHandle<unknown>[] = [];
    const added: TestingJob[] = [];
    const refusals: JobIdConflictError[] = [];
    for (const [queueName, indexes] of byQueue) {
      for (const i of indexes) {
        const item = items[i] as EnqueueManyItem;
        const { jobOptions } = prepared[i] as (typeof prepared)[number];
        const result = this.jobs.add(item.name, item.payload, queueName, jobOptions, item.options ?? {});
        if (result.job.name !== item.name) {
          refusals.push(jobIdConflict(item.name, result.job.id, queueName, result.job.name));
          continue;
        }
        this.enqueued(result.job);
        if (result.added) added.push(result.job);
        handles[i] = this.handle(result.job, item.name);
      }
    }
    if (inline) for (const job of added) await this.worker.runInline(job);
    if (refusals[0]) throw refusals[0];
    return handles;
  }

  /** State, result or error of a job; undefined for an id no job of the kit has (or one `cancel()` removed). */
  async getJob(publicId: string): Promise<TaskJobInfo | undefined> {
    const job = this.locate(publicId);
    return job && this.jobs.info(job);
  }

  /** Names of the tasks registered in this testing module. */
  knownTasks(): string[] {
    return this.catalog.names();
  }

  private locate(publicId: unknown): TestingJob | undefined {
    if (typeof publicId !== 'string') return undefined;
    const parsed = parsePublicJobId(publicId);
    return parsed && this.jobs.find(bullQueueName(parsed.queue), parsed.storedId);
  }

  /** As production's client, once the queue has the job (a new one, or the one an id or a deduplication key named). */
  private enqueued(job: TestingJob): void {
    this.events.emit('task.enqueued', { task: job.name, queue: job.queueName, jobId: job.publicId });
  }

  private handle(job: TestingJob, name: string): TaskHandle<unknown> {
    return new TestingTaskHandle(job, name, this.jobs, this.worker);
  }
}
