import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Injectable, Module } from '@nestjs/common';
import { Test, type TestingModule } from '@nestjs/testing';
import { Task } from '../task/task.decorator.js';
import type { TaskContext } from '../task/task-context.interface.js';
import { TaskClient } from '../client/task-client.js';
import { TaskFailedError, TasksConfigurationError } from '../errors/tasks.errors.js';
import { TasksTestingModule } from './tasks-testing.module.js';
import { TasksTesting } from './tasks-testing.js';
import type { TasksTestingMode } from './testing-options.js';

@Injectable()
class Mailer {
  readonly sent: string[] = [];
  failures = 0;
}

@Injectable()
class MailTasks {
  constructor(
    private readonly mailer: Mailer,
    private readonly client: TaskClient,
  ) {}

  @Task({ attempts: 3 })
  async send(payload: { to: string }, ctx: TaskContext): Promise<{ to: string; attempt: number }> {
    if (this.mailer.failures > 0) {
      this.mailer.failures--;
      throw new Error('SMTP is down');
    }
    this.mailer.sent.push(payload.to);
    return { to: payload.to, attempt: ctx.attempt };
  }

  @Task()
  async sendAll(payload: { to: string[] }): Promise<string[]> {
    const results: string[] = [];
    for (const to of payload.to) {
      const handle = await this.client.enqueue(MailTasks, 'send', { to });
      results.push((await handle.waitResult()).to);
    }
    return results;
  }
}

@Module({ providers: [Mailer, MailTasks] })
class MailModule {}

async function boot(mode?: TasksTestingMode): Promise<TestingModule> {
  const moduleRef = await Test.createTestingModule({ imports: [TasksTestingModule.forRoot({ mode }), MailModule] }).compile();
  return moduleRef.init();
}

/** Resolves once `parties` callers reached it: the blocks then surely run at the same time. */
function barrier(parties = 2): () => Promise<void> {
  let arrived = 0;
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  return async () => {
    arrived += 1;
    if (arrived === parties) release();
    await released;
  };
}

describe('TasksTestingModule, inline mode', () => {
  let app: TestingModule;
  let client: TaskClient;
  let tasks: TasksTesting;
  let mailer: Mailer;

  beforeEach(async () => {
    app = await boot('inline');
    client = app.get(TaskClient);
    tasks = app.get(TasksTesting);
    mailer = app.get(Mailer);
  });

  afterEach(async () => {
    await app.close();
  });

  it('runs the job before enqueue resolves; waitResult has its result', async () => {
    const handle = await client.enqueue(MailTasks, 'send', { to: 'a@example.com' });
    expect(mailer.sent).toEqual(['a@example.com']);
    await expect(handle.waitResult()).resolves.toEqual({ to: 'a@example.com', attempt: 1 });
    expect(tasks.enqueued()[0]).toMatchObject({ state: 'completed', attemptsMade: 1 });
    expect(await tasks.drain()).toEqual([]);
  });

  it('runs every attempt at once; a failure reaches waitResult, not enqueue', async () => {
    mailer.failures = 2;
    const handle = await client.enqueue(MailTasks, 'send', { to: 'a' });
    await expect(handle.waitResult()).resolves.toEqual({ to: 'a', attempt: 3 });
    mailer.failures = 3;
    const failed = await client.enqueue(MailTasks, 'send', { to: 'b' });
    await expect(failed.waitResult()).rejects.toBeInstanceOf(TaskFailedError);
    expect(tasks.enqueued(MailTasks, 'send', { to: 'b' })[0]).toMatchObject({ state: 'failed', attemptsMade: 3, error: 'SMTP is down' });
  });

  it('runs the jobs a handler enqueues inside it, so the handler can wait for them', async () => {
    const handle = await client.enqueue(MailTasks, 'sendAll', { to: ['a', 'b'] });
    await expect(handle.waitResult()).resolves.toEqual(['a', 'b']);
    expect(tasks.enqueued().map((j) => j.name)).toEqual(['sendAll', 'send', 'send']);
  });

  it('runs every job of enqueueMany', async () => {
    await client.enqueueMany([
      { name: 'send', payload: { to: 'a' } },
      { name: 'send', payload: { to: 'b' } },
    ]);
    expect(mailer.sent).toEqual(['a', 'b']);
  });

  it('does not run a deduplicated job twice, and leaves a delayed job until it is due', async () => {
    await client.enqueue(MailTasks, 'send', { to: 'a' }, { deduplicate: { key: 'a', windowMs: 60_000 } });
    await client.enqueue(MailTasks, 'send', { to: 'a' }, { deduplicate: { key: 'a', windowMs: 60_000 } });
    expect(mailer.sent).toEqual(['a']);
    const later = await client.enqueue(MailTasks, 'send', { to: 'later' }, { delayMs: 5_000 });
    expect(mailer.sent).toEqual(['a']);
    expect(tasks.job(later.id)?.state).toBe('delayed');
    await tasks.drain({ includeDelayed: true });
    expect(mailer.sent).toEqual(['a', 'later']);
  });

  it('switches to manual inside withMode, and back after it', async () => {
    await tasks.withMode('manual', async () => {
      await client.enqueue(MailTasks, 'send', { to: 'queued' });
      expect(tasks.mode).toBe('manual');
    });
    expect(mailer.sent).toEqual([]);
    expect(tasks.mode).toBe('inline');
    await client.enqueue(MailTasks, 'send', { to: 'now' });
    expect(mailer.sent).toEqual(['now']);
  });
});

describe('TasksTesting.withMode', () => {
  let app: TestingModule;
  let client: TaskClient;
  let tasks: TasksTesting;
  let mailer: Mailer;

  beforeEach(async () => {
    app = await boot();
    client = app.get(TaskClient);
    tasks = app.get(TasksTesting);
    mailer = app.get(Mailer);
  });

  afterEach(async () => {
    await app.close();
  });

  it('is manual by default', async () => {
    expect(tasks.mode).toBe('manual');
    await client.enqueue(MailTasks, 'send', { to: 'a' });
    expect(mailer.sent).toEqual([]);
  });

  it('runs one block inline and returns its value', async () => {
    const result = await tasks.withMode('inline', async () => {
      const handle = await client.enqueue(MailTasks, 'send', { to: 'a' });
      return handle.waitResult();
    });
    expect(result).toEqual({ to: 'a', attempt: 1 });
    await client.enqueue(MailTasks, 'send', { to: 'b' });
    expect(mailer.sent).toEqual(['a']);
  });

  it('keeps parallel code apart: a block’s mode is not seen by code running at the same time outside it', async () => {
    const meet = barrier(3);
    const seen: Record<string, TasksTestingMode> = {};
    await Promise.all([
      tasks.withMode('inline', async () => {
        await meet();
        seen.inline = tasks.mode;
        await client.enqueue(MailTasks, 'send', { to: 'inline' });
      }),
      (async () => {
        await meet();
        seen.outside = tasks.mode;
        await client.enqueue(MailTasks, 'send', { to: 'outside' });
      })(),
      tasks.withMode('manual', async () => {
        await meet();
        seen.manual = tasks.mode;
        await client.enqueue(MailTasks, 'send', { to: 'manual' });
      }),
    ]);
    expect(seen).toEqual({ inline: 'inline', outside: 'manual', manual: 'manual' });
    expect(mailer.sent).toEqual(['inline']);
    expect(tasks.enqueued(MailTasks, 'send').map((j) => `${j.payload.to} ${j.state}`).sort()).toEqual(['inline completed', 'manual waiting', 'outside waiting']);
  });

  it('keeps a block’s mode across timers and callbacks it starts, and nests', async () => {
    await tasks.withMode('inline', async () => {
      await new Promise<void>((resolve) => setImmediate(() => void client.enqueue(MailTasks, 'send', { to: 'from a callback' }).then(() => resolve())));
      await tasks.withMode('manual', () => client.enqueue(MailTasks, 'send', { to: 'nested manual' }));
      expect(tasks.mode).toBe('inline');
    });
    expect(mailer.sent).toEqual(['from a callback']);
  });

  it('changes the module’s mode by assignment, and refuses a mode it does not have', async () => {
    tasks.mode = 'inline';
    await client.enqueue(MailTasks, 'send', { to: 'a' });
    expect(mailer.sent).toEqual(['a']);
    expect(() => (tasks.mode = 'eager' as TasksTestingMode)).toThrow(TasksConfigurationError);
    await expect(tasks.withMode('eager' as TasksTestingMode, () => undefined)).rejects.toThrow(`"eager" is not a mode of the testing kit; use 'manual'`);
    expect(() => TasksTestingModule.forRoot({ mode: 'sync' as TasksTestingMode })).toThrow(TasksConfigurationError);
  });
});

describe.concurrent('withMode in concurrent tests sharing one module', () => {
  let shared: Promise<TestingModule> | undefined;
  const module = () => (shared ??= boot());
  const meet = barrier();

  it('sees inline inside its block', async () => {
    const app = await module();
    await app.get(TasksTesting).withMode('inline', async () => {
      await meet();
      const handle = await app.get(TaskClient).enqueue(MailTasks, 'send', { to: 'concurrent-inline' });
      expect(app.get(TasksTesting).job(handle.id)?.state).toBe('completed');
    });
  });

  it('sees manual meanwhile', async () => {
    const app = await module();
    await meet();
    const handle = await app.get(TaskClient).enqueue(MailTasks, 'send', { to: 'concurrent-manual' });
    expect(app.get(TasksTesting).mode).toBe('manual');
    expect(app.get(TasksTesting).job(handle.id)?.state).toBe('waiting');
  });

  it.sequential('closes the shared module', async () => {
    await (await module()).close();
  });
});
