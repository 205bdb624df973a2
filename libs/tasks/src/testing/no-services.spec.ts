import { Socket } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Injectable, Module } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { Task } from '../task/task.decorator.js';
import type { TaskContext } from '../task/task-context.interface.js';
import { TaskClient } from '../client/task-client.js';
import { EventPublisher } from '../pubsub/event-publisher.js';
import { EventSubscriber } from '../pubsub/event-subscriber.js';
import type { PublishedEvent } from '../pubsub/task-event.js';
import { InvalidEventError } from '../pubsub/event.errors.js';
import { tasksOptionsFromEnv } from '../options/tasks-options-from-env.js';
import { TasksTestingModule } from './tasks-testing.module.js';
import { TasksTesting } from './tasks-testing.js';

@Injectable()
class UploadTasks {
  constructor(private readonly events: EventPublisher) {}

  @Task({ timeoutMs: 5_000 })
  async processUpload(payload: { uploadId: string; userId: string }, ctx: TaskContext): Promise<string> {
    await this.events.publish(payload.userId, { name: 'upload.started', payload: { uploadId: payload.uploadId } });
    await ctx.updateProgress(50);
    await this.events.publish(payload.userId, { name: 'upload.completed', payload: { uploadId: payload.uploadId } });
    return payload.uploadId;
  }

  @Task()
  async untilAborted(_payload: Record<string, never>, ctx: TaskContext): Promise<void> {
    await new Promise((_, reject) => {
      ctx.signal.throwIfAborted();
      ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason as Error));
    });
  }
}

@Module({ providers: [UploadTasks] })
class UploadsModule {}

/** The process's active resources by type, e.g. { Timeout: 1, TCPSocketWrap: 2 }. */
function resources(): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const type of process.getActiveResourcesInfo()) counts[type] = (counts[type] ?? 0) + 1;
  return counts;
}

/** Resources open now that were not at `before` (the runner's own may have closed meanwhile). */
function openedSince(before: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(resources()).filter(([type, count]) => count > (before[type] ?? 0)));
}

describe('the kit needs no Redis, no Postgres and no other process', () => {
  afterEach(() => {
    vi.restoreAllMocks();
    vi.unstubAllEnvs();
  });

  it('enqueues and runs with REDIS_URL and DATABASE_URL on closed ports, opening no connection, and leaves nothing open after close', async () => {
    // Port 1 (tcpmux): nothing listens there, and only root could make something.
    const port = 1;
    vi.stubEnv('REDIS_URL', `redis://127.0.0.1:${port}`);
    vi.stubEnv('DATABASE_URL', `postgres://postgres@127.0.0.1:${port}/none`);
    const connect = vi.spyOn(Socket.prototype, 'connect');
    const before = resources();

    const moduleRef = await Test.createTestingModule({
      imports: [TasksTestingModule.forRoot({ options: tasksOptionsFromEnv() }), UploadsModule],
    }).compile();
    const app = await moduleRef.init();
    const client = app.get(TaskClient);
    const tasks = app.get(TasksTesting);
    const received: PublishedEvent[] = [];
    app.get(EventSubscriber).subscribe('u1').subscribe((event) => received.push(event));

    const handle = await client.enqueue(UploadTasks, 'processUpload', { uploadId: 'a', userId: 'u1' });
    const result = handle.waitResult({ timeoutMs: 10_000 });
    const progress: unknown[] = [];
    handle.onProgress((p) => progress.push(p));
    expect(await tasks.drain()).toEqual([expect.objectContaining({ status: 'completed' })]);
    await expect(result).resolves.toBe('a');
    expect(progress).toEqual([50]);
    expect(received.map((e) => e.name)).toEqual(['upload.started', 'upload.completed']);
    expect(tasks.publishedEvents('u1').map(({ event, receivers }) => [event.name, event.payload, receivers])).toEqual([
      ['upload.started', { uploadId: 'a' }, 1],
      ['upload.completed', { uploadId: 'a' }, 1],
    ]);
    await expect(app.get(EventPublisher).publish('u1', { name: '', payload: null })).rejects.toBeInstanceOf(InvalidEventError);

    await app.close();
    expect(connect).not.toHaveBeenCalled();
    expect(openedSince(before)).toEqual({});
  });

  it('leaves no timer or handle open after close, whatever was pending: waits, delayed jobs, a running job, subscriptions', async () => {
    const before = resources();
    const moduleRef = await Test.createTestingModule({ imports: [TasksTestingModule.forRoot(), UploadsModule] }).compile();
    const app = await moduleRef.init();
    const client = app.get(TaskClient);
    const tasks = app.get(TasksTesting);
    await client.enqueue(UploadTasks, 'untilAborted', {});
    const running = tasks.runNext();
    const waiting = (await client.enqueue(UploadTasks, 'processUpload', { uploadId: 'w', userId: 'u' })).waitResult({ timeoutMs: 60_000 });
    await client.enqueue(UploadTasks, 'processUpload', { uploadId: 'd', userId: 'u' }, { delayMs: 60_000 });
    let completed = false;
    app.get(EventSubscriber).subscribe('u').subscribe({ complete: () => (completed = true) });
    expect(openedSince(before).Timeout).toBeGreaterThanOrEqual(1);

    await app.close();
    await expect(waiting).rejects.toThrow(/shutting down/);
    expect(await running).toMatchObject({ status: 'interrupted' });
    expect(tasks.enqueued().find((job) => job.name === 'untilAborted')?.state).toBe('waiting');
    // A closed app's worker takes nothing more.
    expect(await tasks.drain()).toEqual([]);
    expect(completed).toBe(true);
    expect(openedSince(before)).toEqual({});
  });
});
