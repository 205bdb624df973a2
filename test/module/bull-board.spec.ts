import { afterEach, describe, expect, it } from 'vitest';
import { Injectable, Module, type INestApplication, type OnApplicationBootstrap } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { BullBoardModule, InjectBullBoard, type BullBoardInstance } from '@bull-board/nestjs';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import { Logger, LoggerModule } from 'nestjs-pino';
import { TaskClient, TasksModule, TasksQueues, bullQueueName } from 'nestjs-tasks';
import { TASKS_QUEUE, TaskWorkerHost } from '#nestjs-tasks-internal';
import { FixtureTasksModule } from '../fixtures/fixture-tasks.js';
import { logs, rejectionOf } from '../support/in-process.js';
import { REDIS_URL, deletePrefix, uniquePrefix } from '../support/redis.js';

/** The board's queue listing, as its UI reads it. */
interface BoardQueues {
  queues: Array<{ name: string; counts: Record<string, number>; jobs: Array<{ id: string; name: string; attempts: number }> }>;
}

/** Mounts every queue of the library, whatever tasks the app has: the runtime path. */
@Injectable()
class MountAllQueues implements OnApplicationBootstrap {
  constructor(
    @InjectBullBoard() private readonly board: BullBoardInstance,
    private readonly queues: TasksQueues,
  ) {}

  onApplicationBootstrap(): void {
    for (const queue of this.queues.all()) this.board.addQueue(new BullMQAdapter(queue));
  }
}

@Module({ providers: [MountAllQueues] })
class BoardOfAllQueuesModule {}

// Bull Board (@bull-board/nestjs with Express) in an in-process HTTP app, on the real Redis.
describe('Bull Board shows and retries the library’s queues', () => {
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  async function start(imports: NonNullable<Parameters<typeof Module>[0]['imports']>): Promise<{ app: INestApplication; base: string }> {
    const prefix = uniquePrefix('bullboard');
    cleanups.push(() => deletePrefix(prefix));
    @Module({
      imports: [
        LoggerModule.forRoot({ pinoHttp: [{ level: 'info' }, logs.stream] }),
        TasksModule.forRoot({ redisUrl: REDIS_URL, prefix, queues: { reports: { concurrency: 1 } } }),
        FixtureTasksModule,
        BullBoardModule.forRoot({ route: '/queues', adapter: ExpressAdapter }),
        ...imports,
      ],
    })
    class BoardAppModule {}

    const moduleRef = await Test.createTestingModule({ imports: [BoardAppModule] }).compile();
    const app = moduleRef.createNestApplication({ logger: false });
    app.useLogger(app.get(Logger));
    cleanups.push(() => app.close());
    await app.listen(0, '127.0.0.1');
    return { app, base: `${await app.getUrl()}/queues/api` };
  }

  async function boardQueues(base: string, query = ''): Promise<BoardQueues> {
    const response = await fetch(`${base}/queues${query}`);
    expect(response.status).toBe(200);
    return (await response.json()) as BoardQueues;
  }

  it('mounts a named queue by its BullMQ name with BullBoardModule.forFeature, listing the jobs TaskClient adds', async () => {
    const { app, base } = await start([BullBoardModule.forFeature({ name: bullQueueName('reports'), adapter: BullMQAdapter })]);
    const handle = await app.get(TaskClient).enqueue('fixture.report', { ms: 1 });

    const { queues } = await boardQueues(base, '?activeQueue=tasks.reports&status=waiting');
    expect(queues.map((queue) => queue.name)).toEqual(['tasks.reports']);
    expect(queues[0]?.counts).toMatchObject({ waiting: 1 });
    expect(queues[0]?.jobs).toEqual([expect.objectContaining({ id: handle.id.replace('reports:', ''), name: 'fixture.report' })]);
  });

  it('mounts every queue from TasksQueues.all(), and its Retry of a failed job starts a new round of attempts', async () => {
    const { app, base } = await start([BoardOfAllQueuesModule]);
    const { queues } = await boardQueues(base);
    expect(queues.map((queue) => queue.name)).toEqual(['tasks.default', 'tasks.mail', 'tasks.reports', 'tasks.cron']);

    await app.get(TaskWorkerHost).startConsuming();
    // fixture.failsRuns has attempts: 2; its first 2 runs fail.
    const handle = await app.get(TaskClient).enqueue('fixture.failsRuns', { key: 'board', failRuns: 2 });
    await rejectionOf(handle.waitResult({ timeoutMs: 20_000 }));

    const retried = await fetch(`${base}/queues/${encodeURIComponent(TASKS_QUEUE)}/${handle.id}/retry`, { method: 'PUT' });
    expect(retried.status).toBe(204);
    await expect(handle.waitResult({ timeoutMs: 20_000 })).resolves.toEqual({ runs: 3 });
    await logs.waitFor((line) => line.jobId === handle.id && line.event === 'task.completed', 'the retried run to complete');
    expect(logs.ofJob(handle.id).filter((line) => line.event === 'task.started').map((line) => line.msg)).toEqual([
      'Task fixture.failsRuns started (attempt 1/2)',
      'Task fixture.failsRuns started (attempt 2/2)',
      'Task fixture.failsRuns started (attempt 1/2, manual retry)',
    ]);
  });
});
