import { Writable } from 'node:stream';
import { afterEach, beforeEach } from 'vitest';
import { Module, type DynamicModule, type Type } from '@nestjs/common';
import { Test, type TestingModule } from '@nestjs/testing';
import { getQueueToken } from '@nestjs/bullmq';
import type { Queue } from 'bullmq';
import { Logger, LoggerModule } from 'nestjs-pino';
import { TaskClient, TasksModule, type TasksModuleOptions } from 'nestjs-tasks';
import { TASKS_QUEUE, TaskWorkerHost } from '#nestjs-tasks-internal';
import { AppProcess, ENTRY, workerReady, type LogLine } from './processes.js';
import { REDIS_URL, deletePrefix, uniquePrefix } from './redis.js';
import { waitFor } from './wait-for.js';

/** Collects the JSON lines pino writes, parsed. */
export class LogCapture {
  readonly lines: LogLine[] = [];
  readonly stream = new Writable({
    write: (chunk: Buffer | string, _encoding, callback) => {
      for (const line of chunk.toString().split('\n')) {
        if (line.trim() !== '') this.lines.push(JSON.parse(line) as LogLine);
      }
      callback();
    },
  });

  /** Waits until a line matches `match` (lines arrive asynchronously through the stream). */
  waitFor(match: (line: LogLine) => boolean, what: string, timeoutMs = 20_000): Promise<LogLine> {
    return waitFor(() => this.lines.find(match), { timeoutMs, what });
  }

  ofJob(jobId: string): LogLine[] {
    return this.lines.filter((line) => line.jobId === jobId);
  }
}

/**
 * nestjs-pino builds one root logger per process, on first use, from the first
 * LoggerModule it meets: every app of a test file therefore writes to this one
 * capture (Vitest runs each file in its own process).
 */
export const logs = new LogCapture();

export interface TasksAppOptions {
  /** Forwarded to `TasksModule.forRoot()`. */
  tasks?: TasksModuleOptions;
  /** The application's own modules (e.g. FixtureTasksModule). */
  imports?: Array<Type<unknown> | DynamicModule>;
  /** Start consuming, as `runWorker` does. Default false: a producer, like the api. */
  worker?: boolean;
}

/** An in-process Nest application with TasksModule, logging to {@link logs}. */
export async function createTasksApp({ tasks = {}, imports = [], worker = false }: TasksAppOptions): Promise<TestingModule> {
  @Module({
    imports: [LoggerModule.forRoot({ pinoHttp: [{ level: 'info' }, logs.stream] }), TasksModule.forRoot({ redisUrl: REDIS_URL, ...tasks }), ...imports],
  })
  class TasksTestAppModule {}

  const moduleRef = await Test.createTestingModule({ imports: [TasksTestAppModule] }).compile();
  moduleRef.useLogger(moduleRef.get(Logger));
  await moduleRef.init();
  if (worker) await moduleRef.get(TaskWorkerHost).startConsuming();
  return moduleRef;
}

/** Closes apps, ignoring those that failed to start. */
export async function closeAll(apps: Array<TestingModule | undefined>): Promise<void> {
  for (const app of apps.reverse()) await app?.close();
}

/**
 * Per test: a fresh TASKS_PREFIX, apps created under it, an empty {@link logs},
 * and after the test the apps closed and every key under the prefix deleted.
 */
export function tasksAppsPerTest(label: string) {
  let prefix = '';
  let apps: TestingModule[] = [];
  beforeEach(() => {
    prefix = uniquePrefix(label);
    apps = [];
    // Job ids restart at 1 under each prefix: keep only this test's lines.
    logs.lines.length = 0;
  });
  afterEach(async () => {
    await closeAll(apps);
    await deletePrefix(prefix);
  });
  return {
    get prefix(): string {
      return prefix;
    },
    async create(options: TasksAppOptions = {}): Promise<TestingModule> {
      const app = await createTasksApp({ ...options, tasks: { prefix, ...options.tasks } });
      apps.push(app);
      return app;
    },
  };
}

/** The BullMQ queue of an app, to look at what the library stored. */
export function tasksQueue(app: TestingModule): Queue {
  return app.get<Queue>(getQueueToken(TASKS_QUEUE));
}

/** The error a promise rejects with (fails the test if it resolves). */
export async function rejectionOf(promise: Promise<unknown>): Promise<Error> {
  try {
    const value = await promise;
    throw new Error(`expected a rejection, got ${JSON.stringify(value)}`, { cause: 'resolved' });
  } catch (error) {
    if (error instanceof Error && error.cause === 'resolved') throw error;
    return error as Error;
  }
}

/**
 * Boots an app with TasksModule.forRoot(`tasks`) (and `imports`) and returns why
 * it failed (fails the test if it boots), closing what it opened.
 */
export async function bootFailure(tasks: TasksModuleOptions, imports: Array<Type<unknown> | DynamicModule> = []): Promise<Error> {
  @Module({ imports: [LoggerModule.forRoot({ pinoHttp: { level: 'silent' } }), TasksModule.forRoot(tasks), ...imports] })
  class FailingBootModule {}
  const moduleRef = await Test.createTestingModule({ imports: [FailingBootModule] }).compile();
  try {
    return await rejectionOf(moduleRef.init());
  } finally {
    await moduleRef.close().catch(() => undefined);
  }
}

/** A fixture worker process and an in-process producer of the same prefix, from {@link startWorkerAndProducer}. */
export interface WorkerAndProducer {
  worker: AppProcess;
  producer: TestingModule;
  client: TaskClient;
  /** Stops the worker, closes the producer and deletes every key under the prefix. */
  stop(): Promise<void>;
}

/**
 * Starts test/fixtures/fixture-worker (with FixtureTasks) under `prefix` and a
 * producer in this process that has none of its tasks and enqueues them by name.
 */
export async function startWorkerAndProducer(
  prefix: string,
  { workerEnv = {}, tasks = {} }: { workerEnv?: Record<string, string>; tasks?: TasksModuleOptions } = {},
): Promise<WorkerAndProducer> {
  const worker = new AppProcess('worker', ENTRY.fixtureWorker, { TASKS_PREFIX: prefix, ...workerEnv });
  let producer: TestingModule | undefined;
  const stop = async () => {
    await worker.stop();
    await producer?.close();
    await deletePrefix(prefix);
  };
  try {
    producer = await createTasksApp({ tasks: { prefix, allowUnregisteredTasks: true, ...tasks } });
    await worker.waitForLog(workerReady, 'the worker to consume', 60_000);
  } catch (error) {
    await stop();
    throw error;
  }
  return { worker, producer, client: producer.get(TaskClient), stop };
}
