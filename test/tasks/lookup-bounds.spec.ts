import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestingModule } from '@nestjs/testing';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { TaskClient, TasksConfigurationError, TasksMetrics, TasksModule, TasksQueues, bullQueueName } from 'nestjs-tasks';
import { FixtureTasks, FixtureTasksModule } from '../fixtures/fixture-tasks.js';
import { createTasksApp, tasksAppsPerTest } from '../support/in-process.js';
import { parseMetrics } from '../support/metrics.js';
import { ExtraRedisServer } from '../support/redis-server.js';
import { REDIS_URL, uniquePrefix } from '../support/redis.js';

/** Ids a caller can send to `GET /status/:jobId`: a queue part for every lookup, none of them a queue of the app. */
const unknownQueueIds = (count: number) => Array.from({ length: count }, (_, i) => `x${i}:1`);

// A Redis of the test's own, so that every client and key on it is the app's.
describe('looking jobs up by id opens nothing', () => {
  let server: ExtraRedisServer;
  let admin: Redis;
  let app: TestingModule;
  const prefix = uniquePrefix('lookup');

  beforeAll(async () => {
    server = await ExtraRedisServer.start();
    admin = new Redis(server.url());
    app = await createTasksApp({ tasks: { redisUrl: server.url(), prefix }, imports: [FixtureTasksModule] });
  });

  afterAll(async () => {
    await app?.close();
    admin?.disconnect();
    await server?.stop();
  });

  const clients = async () => Number(/connected_clients:(\d+)/.exec(await admin.info('clients'))?.[1]);
  const keys = async () => (await admin.keys('*')).sort();
  const series = async () => [...parseMetrics(await app.get(TasksMetrics).metrics()).keys()].sort();

  it('1,000 getJob and 1,000 cancel of ids of unknown queues add no Redis client, key or metric series', async () => {
    const client = app.get(TaskClient);
    // Everything a lookup of a known queue opens is open: the app's queues, the cancellation client, the depth samples.
    const job = await client.enqueue(FixtureTasks, 'echo', { value: 1 });
    for (const id of [job.id, 'reports:1', 'mail:1']) await client.getJob(id);
    expect(await client.cancel('no-such-job')).toBe('finished');
    const before = { clients: await clients(), keys: await keys(), series: await series() };
    expect(before.series.some((key) => key.startsWith('tasks_queue_jobs{'))).toBe(true);

    for (const id of unknownQueueIds(1_000)) expect(await client.getJob(id)).toBeUndefined();
    for (const id of unknownQueueIds(1_000)) expect(await client.cancel(id)).toBe('finished');
    const hostile = ['cron:1', 'reports:a:b', 'Reports:1', 'x'.repeat(300), 'a\u0000b', 'a\nb', '\u202Eexe.txt', ' ', ':', 'constructor:1', '__proto__:1'];
    for (const id of hostile) {
      expect(await client.getJob(id), JSON.stringify(id)).toBeUndefined();
      expect(await client.cancel(id), JSON.stringify(id)).toBe('finished');
    }

    expect(await clients()).toBe(before.clients);
    expect(await keys()).toEqual(before.keys);
    expect(await series()).toEqual(before.series);
    // The app still finds its own job.
    await expect(client.getJob(job.id)).resolves.toMatchObject({ id: job.id, name: 'echo', state: 'waiting' });
  });
});

describe('the queues a lookup searches', () => {
  const apps = tasksAppsPerTest('lookupq');

  it('finds jobs of the queues the app knows: its tasks’, forRoot({ queues })’s, registerQueues()’ and those it enqueued to', async () => {
    const app = await apps.create({
      tasks: { allowUnregisteredTasks: true, queues: { exports: {} } },
      imports: [FixtureTasksModule, TasksModule.registerQueues('archive')],
    });
    // Jobs another app (with those tasks) added.
    for (const name of ['exports', 'archive']) {
      const queue = new Queue(bullQueueName(name), { connection: { url: REDIS_URL }, prefix: apps.prefix });
      await queue.add('remoteTask', { n: 1 });
      await queue.close();
    }
    const client = app.get(TaskClient);
    await expect(client.getJob('exports:1')).resolves.toMatchObject({ id: 'exports:1', name: 'remoteTask', state: 'waiting' });
    await expect(client.getJob('archive:1')).resolves.toMatchObject({ id: 'archive:1', name: 'remoteTask', state: 'waiting' });
    const report = await client.enqueue('fixture.report', { ms: 1 });
    await expect(client.getJob(report.id)).resolves.toMatchObject({ name: 'fixture.report' });
    const video = await client.enqueue('renderVideo', { id: 1 }, { queue: 'video' });
    await expect(client.getJob(video.id)).resolves.toMatchObject({ id: video.id, name: 'renderVideo' });
    expect(await client.cancel(video.id)).toBe('removed');

    const queues = app.get(TasksQueues);
    expect(queues.get('archive').name).toBe('tasks.archive');
    const error = (() => {
      try {
        queues.get('nosuchqueue');
      } catch (caught) {
        return caught as Error;
      }
      throw new Error('TasksQueues.get() returned a queue the app does not know');
    })();
    expect(error).toBeInstanceOf(TasksConfigurationError);
    expect(error.message).toContain('TasksQueues.get(): "nosuchqueue" is no queue of this app');
    expect(error.message).toContain('TasksModule.registerQueues(');
  });
});
