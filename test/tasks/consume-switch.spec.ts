import { describe, expect, it } from 'vitest';
import { TaskClient } from 'nestjs-tasks';
import { TaskWorkerHost } from '#nestjs-tasks-internal';
import { FixtureTasks, FixtureTasksModule } from '../fixtures/fixture-tasks.js';
import { tasksAppsPerTest } from '../support/in-process.js';

describe('only a started worker consumes', () => {
  const apps = tasksAppsPerTest('switch');

  it('an app that imports the task modules but was not started as a worker (the api) never runs tasks', async () => {
    const api = await apps.create({ imports: [FixtureTasksModule] });
    expect(api.get(TaskWorkerHost).running).toBe(false);
    const client = api.get(TaskClient);
    // Jobs wait in the queue while only the api is up: a consuming api would take them all.
    const handles = [];
    for (let n = 0; n < 5; n++) handles.push(await client.enqueue(FixtureTasks, 'whoRuns', { n }));

    const worker = await apps.create({ imports: [FixtureTasksModule], worker: true });
    expect(worker.get(TaskWorkerHost).running).toBe(true);
    const results = await Promise.all(handles.map((h) => h.waitResult({ timeoutMs: 20_000 })));

    const workerId = worker.get(FixtureTasks).instanceId;
    expect(api.get(FixtureTasks).instanceId).not.toBe(workerId);
    expect(results.map((r) => r.instanceId)).toEqual(Array(5).fill(workerId));
  });
});
