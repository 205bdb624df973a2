import { describe, expect, it } from 'vitest';
import { Inject, Injectable, Module } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { TASKS_QUEUE_TOKEN } from '../options/tasks.constants.js';
import { InjectRedis } from '../redis/app-redis.js';
import { TasksQueues } from '../queues/tasks-queues.js';
import { TasksHealthIndicator } from '../health/tasks-health.indicator.js';
import { TasksConfigurationError } from '../errors/tasks.errors.js';
import { TasksTestingModule } from './tasks-testing.module.js';

/** What an app's providers inject of TasksModule's Redis-backed exports. */
@Injectable()
class QueueDashboard {
  constructor(
    readonly queues: TasksQueues,
    @Inject(TASKS_QUEUE_TOKEN) readonly queue: Queue,
    @InjectRedis() readonly redis: Redis,
    readonly health: TasksHealthIndicator,
  ) {}
}

@Module({ providers: [QueueDashboard] })
class DashboardModule {}

describe('what TasksModule exports from Redis, under the testing kit', () => {
  const boot = async () => {
    const app = await Test.createTestingModule({ imports: [TasksTestingModule.forRoot(), DashboardModule] }).compile();
    await app.init();
    return app;
  };

  it('a module whose providers inject the queues, the Redis client and the health indicator compiles, inits and closes', async () => {
    const app = await boot();
    expect(app.get(QueueDashboard)).toBeInstanceOf(QueueDashboard);
    await app.close();
  });

  it('the first call on a queue, TasksQueues or the Redis client fails naming it and what to do instead', async () => {
    const app = await boot();
    const dashboard = app.get(QueueDashboard);
    const calls: Array<[() => unknown, string]> = [
      [() => dashboard.queues.get('default'), 'TasksQueues.get()'],
      [() => dashboard.queue.getJobCounts(), 'The task queue (TASKS_QUEUE_TOKEN).getJobCounts()'],
      [() => dashboard.redis.get('key'), 'The app Redis client (@InjectRedis()).get()'],
    ];
    for (const [call, named] of calls) {
      let thrown: unknown;
      try {
        call();
      } catch (error) {
        thrown = error;
      }
      expect(thrown).toBeInstanceOf(TasksConfigurationError);
      expect((thrown as Error).message).toContain(named);
      expect((thrown as Error).message).toContain('overrideProvider(YourService)');
      expect((thrown as Error).message).toContain('Real-stack tests');
    }
    await app.close();
  });

  it('every health check is up, said to be the kit’s, under the key asked for', async () => {
    const app = await boot();
    const { health } = app.get(QueueDashboard);
    expect(await health.redis()).toEqual({ redis: { status: 'up', testing: expect.stringContaining('TasksTestingModule') } });
    expect(await health.worker('tasks-worker')).toEqual({ 'tasks-worker': expect.objectContaining({ status: 'up' }) });
    expect(await health.cronLate('cleanup')).toEqual({ 'cron:cleanup': expect.objectContaining({ status: 'up' }) });
    expect(Object.keys(await health.database())).toEqual(['database']);
    expect(Object.keys(await health.scheduler())).toEqual(['scheduler']);
    await app.close();
  });
});
