import { describe, expect, it } from 'vitest';
import { TaskClient, type TaskJobInfo } from 'nestjs-tasks';
import { FixtureTasks, FixtureTasksModule } from '../fixtures/fixture-tasks.js';
import { tasksAppsPerTest } from '../support/in-process.js';

describe('TaskClient.getJob', () => {
  const apps = tasksAppsPerTest('getjob');

  it('never reports a job completed without its result, however often it is read while the job runs', async () => {
    const app = await apps.create({ imports: [FixtureTasksModule], worker: true });
    const client = app.get(TaskClient);
    const inconsistent: TaskJobInfo[] = [];
    let completedReads = 0;
    for (let n = 0; n < 20; n++) {
      const handle = await client.enqueue(FixtureTasks, 'progresses', { steps: 20 });
      for (;;) {
        const info = await client.getJob(handle.id);
        if (info?.state !== 'completed') continue;
        completedReads++;
        if (info.progress !== 100 || (info.result as { steps?: number } | undefined)?.steps !== 20) inconsistent.push(info);
        break;
      }
    }
    expect(completedReads).toBe(20);
    expect(inconsistent).toEqual([]);
  });

  it('reports state, result, error and attempts of finished jobs, and undefined for unknown ids', async () => {
    const app = await apps.create({ imports: [FixtureTasksModule], worker: true });
    const client = app.get(TaskClient);
    const done = await client.enqueue(FixtureTasks, 'echo', { value: 5 });
    const failed = await client.enqueue(FixtureTasks, 'rejectsInput', { reason: 'gone' });
    await done.waitResult({ timeoutMs: 20_000 });
    await failed.waitResult({ timeoutMs: 20_000 }).catch(() => undefined);

    await expect(client.getJob(done.id)).resolves.toMatchObject({
      id: done.id,
      name: 'echo',
      state: 'completed',
      result: { value: 5 },
      attemptsMade: 1,
      enqueuedAt: expect.any(Date),
      finishedAt: expect.any(Date),
    });
    const failedInfo = await client.getJob(failed.id);
    expect(failedInfo).toMatchObject({ state: 'failed', error: 'bad input: gone', attemptsMade: 1 });
    expect(failedInfo).not.toHaveProperty('result');
    await expect(client.getJob('no-such-job')).resolves.toBeUndefined();
  });
});
