import { afterEach, describe, expect, it } from 'vitest';
import { Inject, Injectable, Module } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { InjectQueue } from '@nestjs/bullmq';
import type { Queue } from 'bullmq';
import { LoggerModule } from 'nestjs-pino';
import { TaskClient, TasksConfigurationError, TasksModule, TasksQueues, tasksQueueToken } from 'nestjs-tasks';
import { CRON_QUEUE_TOKEN, TASKS_QUEUE_TOKEN } from '#nestjs-tasks-internal';
import { FixtureTasksModule } from '../fixtures/fixture-tasks.js';
import { tasksAppsPerTest } from '../support/in-process.js';
import { REDIS_URL, deletePrefix, uniquePrefix } from '../support/redis.js';

/** A user's admin code that wants the reports queue, by the library's token and by @nestjs/bullmq's. */
@Injectable()
class ReportsAdmin {
  constructor(
    @Inject(tasksQueueToken('reports')) readonly queue: Queue,
    @InjectQueue('tasks.reports') readonly byBullName: Queue,
  ) {}
}

@Module({ providers: [ReportsAdmin] })
class ReportsAdminModule {}

/** The BullMQ id of a task's public job id (`reports:12` → `12`). */
const storedId = (publicId: string) => publicId.slice(publicId.indexOf(':') + 1);

// In-process apps on the real Redis: the queues an app's admin code (or Bull
// Board) gets are the very queues TaskClient adds jobs to.
describe('every task queue can be injected or listed', () => {
  const apps = tasksAppsPerTest('queueaccess');

  it('injects the queue of a queue named in forRoot({ queues }), the one TaskClient enqueues to', async () => {
    const app = await apps.create({ tasks: { queues: { reports: { concurrency: 1 } } }, imports: [FixtureTasksModule, ReportsAdminModule] });
    const admin = app.get(ReportsAdmin);
    expect(admin.queue.name).toBe('tasks.reports');
    expect(admin.queue.opts.prefix).toBe(apps.prefix);
    expect(admin.byBullName).toBe(admin.queue);
    expect(app.get(TasksQueues).get('reports')).toBe(admin.queue);

    const handle = await app.get(TaskClient).enqueue('fixture.report', { ms: 1 });
    expect(handle.id).toMatch(/^reports:/);
    const job = await admin.queue.getJob(storedId(handle.id));
    expect(job).toMatchObject({ name: 'fixture.report', data: { ms: 1 } });
  });

  it('lists every queue of the app: default first, then its tasks’ queues, forRoot’s and any opened since, and cron last', async () => {
    const worker = await apps.create({ tasks: { queues: { exports: {} } }, imports: [FixtureTasksModule] });
    const names = (queues: Queue[]) => queues.map((queue) => queue.name);
    expect(names(worker.get(TasksQueues).all())).toEqual(['tasks.default', 'tasks.exports', 'tasks.mail', 'tasks.reports', 'tasks.cron']);

    // A producer without the tasks knows the queues it was told of and those it enqueued to.
    const api = await apps.create({ tasks: { allowUnregisteredTasks: true, queues: { reports: {} } } });
    const queues = api.get(TasksQueues);
    expect(names(queues.all())).toEqual(['tasks.default', 'tasks.reports', 'tasks.cron']);
    const handle = await api.get(TaskClient).enqueue('renderVideo', { id: 1 }, { queue: 'video' });
    expect(names(queues.all())).toEqual(['tasks.default', 'tasks.reports', 'tasks.video', 'tasks.cron']);
    await expect(queues.get('video').getJob(storedId(handle.id))).resolves.toMatchObject({ name: 'renderVideo' });
    expect(queues.get('default')).toBe(api.get(TASKS_QUEUE_TOKEN));
    expect(queues.get('cron')).toBe(api.get(CRON_QUEUE_TOKEN));
  });

  it('names the culprit of a queue name no queue can have', () => {
    expect(() => tasksQueueToken('Reports')).toThrow(TasksConfigurationError);
    expect(() => tasksQueueToken('Reports')).toThrow('tasksQueueToken(): "Reports" is not a queue name');
    expect(() => TasksModule.registerQueues('reports', 'no_underscores')).toThrow('TasksModule.registerQueues(): "no_underscores" is not a queue name');
    expect(tasksQueueToken('default')).toBe(TASKS_QUEUE_TOKEN);
    expect(tasksQueueToken('cron')).toBe(CRON_QUEUE_TOKEN);
  });
});

describe('TasksModule.registerQueues with forRootAsync', () => {
  const prefix = uniquePrefix('queueasync');
  afterEach(() => deletePrefix(prefix));

  it('provides the tokens of queues whose settings come from a factory', async () => {
    @Module({
      imports: [
        LoggerModule.forRoot({ pinoHttp: { level: 'silent' } }),
        TasksModule.forRootAsync({ useFactory: () => ({ redisUrl: REDIS_URL, prefix, queues: { reports: { concurrency: 2 } } }) }),
        TasksModule.registerQueues('reports'),
        FixtureTasksModule,
        ReportsAdminModule,
      ],
    })
    class AsyncAppModule {}

    const app = await Test.createTestingModule({ imports: [AsyncAppModule] }).compile();
    await app.init();
    try {
      const admin = app.get(ReportsAdmin);
      expect(admin.queue).toBe(app.get(TasksQueues).get('reports'));
      const handle = await app.get(TaskClient).enqueue('fixture.report', { ms: 2 });
      await expect(admin.queue.getJob(storedId(handle.id))).resolves.toMatchObject({ name: 'fixture.report' });
    } finally {
      await app.close();
    }
  });
});
