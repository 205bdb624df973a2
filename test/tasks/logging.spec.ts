import { describe, expect, it } from 'vitest';
import { TaskClient } from 'nestjs-tasks';
import { FixtureTasks, FixtureTasksModule } from '../fixtures/fixture-tasks.js';
import { logs, tasksAppsPerTest } from '../support/in-process.js';
import type { LogLine } from '../support/processes.js';

describe('logging through nestjs-pino', () => {
  const apps = tasksAppsPerTest('logging');

  it('tags every line written during a task run with task, jobId and attempt, and logs start, end with duration, and failure', async () => {
    const app = await apps.create({ imports: [FixtureTasksModule], worker: true });
    const handle = await app.get(TaskClient).enqueue(FixtureTasks, 'chatty', { word: 'hello' });
    await expect(handle.waitResult({ timeoutMs: 20_000 })).resolves.toEqual({ word: 'hello' });
    await logs.waitFor((l) => l.jobId === handle.id && l.event === 'task.completed', 'the completion line');

    // Every line the run produced: the library's, the injected PinoLogger's, and a plain Nest Logger's.
    const duringRun = logs.lines.filter(
      (l) => typeof l.event === 'string' || l.context === 'FixtureTasks' || l.context === 'FixtureNestLogger',
    );
    const summary = duringRun.map((l) => [l.attempt, l.event ?? l.msg]);
    expect(summary).toEqual([
      [1, 'task.started'],
      [1, 'chatty pino line'],
      [1, 'chatty nest line hello'],
      [1, 'task.failed'],
      [2, 'task.started'],
      [2, 'chatty pino line'],
      [2, 'chatty nest line hello'],
      [2, 'task.completed'],
    ]);
    for (const line of duringRun) {
      expect(line, JSON.stringify(line)).toMatchObject({ task: 'chatty', jobId: handle.id, attempt: expect.any(Number) });
    }

    const byEvent = (event: string) => duringRun.filter((l) => l.event === event) as LogLine[];
    expect(byEvent('task.failed')[0]).toMatchObject({
      level: 50,
      willRetry: true,
      durationMs: expect.any(Number),
      err: expect.objectContaining({ message: 'chatty fails its first attempt' }),
    });
    expect(byEvent('task.completed')[0]).toMatchObject({ level: 30, durationMs: expect.any(Number) });
    expect(duringRun.find((l) => l.msg === 'chatty pino line')).toMatchObject({ word: 'hello' });
  });

  it('marks the last failure as final', async () => {
    const app = await apps.create({ imports: [FixtureTasksModule], worker: true });
    const handle = await app.get(TaskClient).enqueue(FixtureTasks, 'rejectsInput', { reason: 'x' });
    await handle.waitResult({ timeoutMs: 20_000 }).catch(() => undefined);
    const failed = await logs.waitFor((l) => l.jobId === handle.id && l.event === 'task.failed', 'the failure line');
    expect(failed).toMatchObject({ task: 'rejectsInput', attempt: 1, willRetry: false });
    expect(failed.err).toMatchObject({ message: 'bad input: x' });
  });
});
