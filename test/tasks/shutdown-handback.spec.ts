import { describe, expect, it } from 'vitest';
import { TaskClient } from 'nestjs-tasks';
import { TaskWorkerHost } from '#nestjs-tasks-internal';
import { FixtureTasks, FixtureTasksModule } from '../fixtures/fixture-tasks.js';
import { logs, tasksAppsPerTest, tasksQueue } from '../support/in-process.js';

// In-process counterpart of graceful-shutdown.e2e.spec.ts: what shutdown leaves in Redis.
describe('worker shutdown', () => {
  const apps = tasksAppsPerTest('handback');

  it('hands a job still running at the end of the grace period back to the queue, without using an attempt or logging a failure', async () => {
    const producer = await apps.create({ imports: [FixtureTasksModule] });
    // A long stalled timeout (the default): only the hand-back, not stalled-job recovery, can requeue the job.
    const worker = await apps.create({ imports: [FixtureTasksModule], tasks: { shutdownGraceMs: 50 }, worker: true });
    // sleepy has attempts: 1, so a hand-back counted as a failed attempt would lose the job.
    const handle = await producer.get(TaskClient).enqueue(FixtureTasks, 'sleepy', { ms: 60_000, id: 'held' });
    await logs.waitFor((l) => l.jobId === handle.id && l.msg === 'sleepy started', 'the job to start');

    await worker.get(TaskWorkerHost).beforeApplicationShutdown('SIGTERM');

    const job = await tasksQueue(producer).getJob(handle.id);
    expect(await job?.getState()).toBe('waiting');
    expect(job?.attemptsMade).toBe(0);
    expect(job?.failedReason).toBeFalsy();
    const ofJob = logs.ofJob(handle.id);
    expect(ofJob.find((l) => l.event === 'task.interrupted')).toMatchObject({ level: 40, task: 'sleepy', attempt: 1 });
    expect(ofJob.some((l) => l.event === 'task.failed')).toBe(false);
    expect(logs.lines.some((l) => l.msg === `Job ${handle.id} (sleepy) handed back to the queue`)).toBe(true);
  });
});
