import { describe, expect, it } from 'vitest';
import { TaskClient, TaskFailedError, UnknownTaskError } from 'nestjs-tasks';
import { FixtureTasks, FixtureTasksModule } from '../fixtures/fixture-tasks.js';
import { logs, rejectionOf, tasksAppsPerTest, tasksQueue } from '../support/in-process.js';

describe('unknown tasks', () => {
  const apps = tasksAppsPerTest('unknown');

  it('rejects enqueue of a name no module registered, listing the known names, and adds nothing', async () => {
    const app = await apps.create({ imports: [FixtureTasksModule] });

    const error = await rejectionOf(app.get(TaskClient).enqueue('procesUpload', { uploadId: 'a' }));
    expect(error).toBeInstanceOf(UnknownTaskError);
    expect(error.message).toContain('Cannot enqueue unknown task "procesUpload"');
    expect(error.message).toMatch(/Tasks registered in this process: .*"echo", .*"flaky", .*"sleepy"/);
    expect(error.message).toContain('allowUnregisteredTasks');
    expect((error as UnknownTaskError).knownTasks).toEqual(expect.arrayContaining(['echo', 'flaky', 'sleepy']));
    expect(await tasksQueue(app).count()).toBe(0);
  });

  it('lets a client configured with allowUnregisteredTasks enqueue names only a remote worker knows', async () => {
    const producer = await apps.create({ tasks: { allowUnregisteredTasks: true } });
    const handle = await producer.get(TaskClient).enqueue('remoteOnly', { uploadId: 'a' });
    expect(handle.name).toBe('remoteOnly');
    await expect(producer.get(TaskClient).getJob(handle.id)).resolves.toMatchObject({ name: 'remoteOnly', state: 'waiting' });
  });

  it('enqueues by class from a producer that imports the class but does not register it', async () => {
    const producer = await apps.create();
    await apps.create({ imports: [FixtureTasksModule], worker: true });
    expect(producer.get(TaskClient).knownTasks()).toEqual([]);
    const handle = await producer.get(TaskClient).enqueue(FixtureTasks, 'echo', { value: 3 });
    await expect(handle.waitResult({ timeoutMs: 20_000 })).resolves.toMatchObject({ value: 3 });
  });

  it('fails, without retries, a job the worker has no handler for, and logs the task and the known names', async () => {
    const producer = await apps.create({ tasks: { allowUnregisteredTasks: true } });
    await apps.create({ imports: [FixtureTasksModule], worker: true });
    const handle = await producer.get(TaskClient).enqueue('notDeployed', { uploadId: 'a' }, { attempts: 5 });

    const error = await rejectionOf(handle.waitResult({ timeoutMs: 20_000 }));
    expect(error).toBeInstanceOf(TaskFailedError);
    expect(error.message).toContain('No handler for task "notDeployed"');
    expect(error).toMatchObject({ attemptsMade: 1 });
    expect((await tasksQueue(producer).getJob(handle.id))?.attemptsMade).toBe(1);

    const logged = await logs.waitFor((l) => l.level === 50 && l.msg.includes('"notDeployed"'), 'the worker to log the unknown task');
    expect(logged.msg).toContain('No handler for task "notDeployed" in this worker');
    expect(logged.msg).toMatch(/Tasks this worker knows: .*"echo", .*"flaky", .*"sleepy"/);
  });
});
