import { afterEach, describe, expect, it } from 'vitest';
import { Injectable, Module, type DynamicModule } from '@nestjs/common';
import { Test, type TestingModule } from '@nestjs/testing';
import { BullModule, InjectQueue } from '@nestjs/bullmq';
import { Queue, Worker } from 'bullmq';
import { LoggerModule } from 'nestjs-pino';
import { Redis } from 'ioredis';
import { TaskClient, TasksModule } from 'nestjs-tasks';
import { TASKS_QUEUE_TOKEN, TaskWorkerHost, bullmqConnection } from '#nestjs-tasks-internal';
import { FixtureTasks, FixtureTasksModule } from '../fixtures/fixture-tasks.js';
import { REDIS_URL, deletePrefix, uniquePrefix } from '../support/redis.js';

/** A user's own queue, with the plain name the library used to take for itself. */
@Injectable()
class UserReports {
  constructor(@InjectQueue('tasks') readonly queue: Queue) {}
}

@Module({
  imports: [BullModule.registerQueue({ name: 'tasks' })],
  providers: [UserReports],
  exports: [UserReports],
})
class UserReportsModule {}

// A Nest app with its own BullModule.forRoot({ prefix }) and a queue named "tasks",
// next to TasksModule, in both import orders, on the real Redis.
describe('the library and an app’s own BullMQ setup', () => {
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  it.each([
    ['before TasksModule', 'user-first'],
    ['after TasksModule', 'library-first'],
  ])('with BullModule.forRoot imported %s, each side keeps its own prefix and both work', async (_order, order) => {
    const userPrefix = uniquePrefix('userbull');
    const libraryPrefix = uniquePrefix('libbull');
    cleanups.push(() => deletePrefix(userPrefix), () => deletePrefix(libraryPrefix));

    const userBull: DynamicModule = BullModule.forRoot({ connection: bullmqConnection(REDIS_URL, 'command'), prefix: userPrefix });
    const tasks = TasksModule.forRoot({ redisUrl: REDIS_URL, prefix: libraryPrefix });
    @Module({
      imports: [
        LoggerModule.forRoot({ pinoHttp: { level: 'silent' } }),
        ...(order === 'user-first' ? [userBull, tasks] : [tasks, userBull]),
        UserReportsModule,
        FixtureTasksModule,
      ],
    })
    class AppModule {}

    const app: TestingModule = await Test.createTestingModule({ imports: [AppModule] }).compile();
    cleanups.push(() => app.close());
    await app.init();
    await app.get(TaskWorkerHost).startConsuming();

    // The user's queue: their prefix, their name.
    const userQueue = app.get(UserReports).queue;
    expect(userQueue.opts.prefix).toBe(userPrefix);
    expect(userQueue.name).toBe('tasks');
    // The library's queue: its own prefix and a namespaced name.
    const libraryQueue = app.get<Queue>(TASKS_QUEUE_TOKEN);
    expect(libraryQueue.opts.prefix).toBe(libraryPrefix);
    expect(libraryQueue).not.toBe(userQueue);

    // A library task runs, under the library's prefix.
    const handle = await app.get(TaskClient).enqueue(FixtureTasks, 'echo', { value: 42 });
    await expect(handle.waitResult({ timeoutMs: 20_000 })).resolves.toMatchObject({ value: 42 });

    // The user's job lands under the user's prefix, where the user's own worker runs it.
    const userJob = await userQueue.add('report', { n: 1 });
    const done = new Promise<unknown>((resolve, reject) => {
      const worker = new Worker('tasks', async (job) => ({ ran: job.data as unknown }), {
        connection: bullmqConnection(REDIS_URL, 'blocking'),
        prefix: userPrefix,
      });
      worker.on('completed', (job, result) => {
        if (job.id === userJob.id) resolve(result);
      });
      worker.on('failed', (_job, error) => reject(error));
      cleanups.push(() => worker.close());
    });
    await expect(done).resolves.toEqual({ ran: { n: 1 } });

    // Neither side wrote into the other's namespace.
    const redis = new Redis(REDIS_URL);
    try {
      const userKeys = await redis.keys(`${userPrefix}:*`);
      const libraryKeys = await redis.keys(`${libraryPrefix}:*`);
      expect(userKeys.every((key) => key.startsWith(`${userPrefix}:tasks:`))).toBe(true);
      expect(userKeys).toContain(`${userPrefix}:tasks:${userJob.id}`);
      expect(libraryKeys).toContain(`${libraryPrefix}:tasks.default:${handle.id}`);
      expect(libraryKeys.some((key) => key.startsWith(`${libraryPrefix}:tasks:`))).toBe(false);
    } finally {
      redis.disconnect();
    }
  });
});
