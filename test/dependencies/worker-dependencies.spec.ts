import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import type { TestingModule } from '@nestjs/testing';
import { TaskClient } from 'nestjs-tasks';
import { EventSubscriber, type PublishedEvent } from 'nestjs-tasks/extras';
import { ExpiringRecord } from '@app/jobs';
import { DependencyTasks } from '../fixtures/dependency-tasks.js';
import { createTasksApp } from '../support/in-process.js';
import { AppProcess, ENTRY, workerReady } from '../support/processes.js';
import { REDIS_URL, deletePrefix, uniquePrefix } from '../support/redis.js';
import { waitForSubscribedProcesses } from '../support/sse.js';
import { waitFor } from '../support/wait-for.js';
import { createTestSchema, type TestSchema } from '../support/database.js';

// A real worker process (the fixture worker, with DatabaseModule) runs the
// tasks; this process enqueues them (by class, without a database of its own) and
// checks what they left in Postgres and Redis. Own TASKS_PREFIX, own schema.
describe('what a task can inject, run by a worker process', () => {
  const prefix = uniquePrefix('deps');
  let schema: TestSchema;
  let worker: AppProcess;
  let producer: TestingModule;

  beforeAll(async () => {
    schema = await createTestSchema('deps');
    worker = new AppProcess('fixture-worker', ENTRY.fixtureWorker, { TASKS_PREFIX: prefix, ...schema.env });
    [producer] = await Promise.all([createTasksApp({ tasks: { prefix } }), worker.waitForLog(workerReady, 'ready', 60_000)]);
  });

  afterAll(async () => {
    await producer?.close();
    await worker?.stop();
    await deletePrefix(prefix);
    await schema?.drop();
  });

  const records = () => schema.dataSource.getRepository(ExpiringRecord);

  it('runs a task that uses the database, logger, Redis, event publisher and concurrent sessions at once', async () => {
    const events: PublishedEvent[] = [];
    const subscription = producer
      .get(EventSubscriber)
      .subscribe('user-deps')
      .subscribe((event) => events.push(event));
    try {
      await waitForSubscribedProcesses(prefix, 'user-deps', 1);
      const client = producer.get(TaskClient);
      const handle = await client.enqueue(DependencyTasks, 'usesAllDependencies', { userId: 'user-deps', label: 'all-five' });
      const result = await handle.waitResult({ timeoutMs: 20_000 });

      // Database: the injected repository wrote to this test's schema.
      const rows = await records().findBy({ payload: 'all-five' });
      expect(rows.map((row) => row.id)).toEqual([result.recordId]);

      // Redis: the injected client wrote under the app namespace of this prefix.
      expect(result.redisCount).toBe(1);
      const raw = new Redis(REDIS_URL);
      try {
        expect(await raw.get(`${prefix}:app:dependency-runs:all-five`)).toBe('1');
      } finally {
        raw.disconnect();
      }

      // Session factory: two sessions on two connections, both seeing the committed row.
      expect(new Set(result.sessionPids).size).toBe(2);
      expect(result.sessionsSaw).toEqual([1, 1]);

      // Events: this process was the one listening to the user, and got the event.
      expect(result.receivers).toBe(1);
      await waitFor(() => events.length > 0, { timeoutMs: 10_000, what: 'the dependencies.used event' });
      expect(events).toEqual([
        expect.objectContaining({
          name: 'dependencies.used',
          payload: { label: 'all-five', recordId: result.recordId, redisCount: 1, jobId: handle.id },
        }),
      ]);

      // Logger: the task's own lines carry the run's context.
      const started = await worker.waitForLog((line) => line.msg === 'usesAllDependencies started', 'the task’s log line');
      const finished = await worker.waitForLog((line) => line.msg === 'usesAllDependencies finished', 'the task’s last line');
      for (const line of [started, finished]) {
        expect(line).toMatchObject({ task: 'usesAllDependencies', jobId: handle.id, attempt: 1, label: 'all-five' });
      }
    } finally {
      subscription.unsubscribe();
    }
  });

  it('runs two database sessions of one task concurrently and independently: one commits while the other rolls back', async () => {
    const client = producer.get(TaskClient);
    const handle = await client.enqueue(DependencyTasks, 'concurrentSessions', {
      commit: 'session-commit',
      rollBack: 'session-rollback',
    });
    const { committed, rolledBack } = await handle.waitResult({ timeoutMs: 20_000 });

    // Concurrent: two connections, each open (in a transaction) while the other looked at it.
    // The task only gets here if both reached the barrier, i.e. were open at the same time.
    expect(committed.pid).not.toBe(rolledBack.pid);
    expect(['idle in transaction', 'active']).toContain(committed.otherState);
    expect(['idle in transaction', 'active']).toContain(rolledBack.otherState);

    // Independent: while both were open, neither saw the other's uncommitted row.
    expect(committed.visible).toEqual(['session-commit']);
    expect(rolledBack.visible).toEqual(['session-rollback']);
    expect(rolledBack.error).toBe('rolled back on purpose');

    // One committed, the other rolled back.
    expect(await records().countBy({ payload: 'session-commit' })).toBe(1);
    expect(await records().countBy({ payload: 'session-rollback' })).toBe(0);
  });
});
