import { describe, expect, it } from 'vitest';
import { InvalidEnqueueOptionError, InvalidPayloadError, TaskClient, TaskFailedError, type JsonValue } from 'nestjs-tasks';
import { FixtureTasks, FixtureTasksModule } from '../fixtures/fixture-tasks.js';
import { rejectionOf, tasksAppsPerTest, tasksQueue } from '../support/in-process.js';

/** Every key BullMQ keeps next to job ids in a queue's namespace (bullmq QueueKeys, plus per-job suffixes and old names). */
const BULLMQ_KEY_NAMES = [
  'active', 'wait', 'waiting', 'waiting-children', 'paused', 'id', 'delayed', 'prioritized', 'priority',
  'stalled-check', 'completed', 'failed', 'stalled', 'repeat', 'limiter', 'meta', 'events', 'pc', 'marker',
  'de', 'lock', 'logs',
];

/** `{ a: { a: … } }`, `depth` objects deep. */
function nested(depth: number): JsonValue {
  let value: JsonValue = 1;
  for (let i = 0; i < depth; i++) value = { a: value };
  return value;
}

// Input a careless or hostile caller can pass to enqueue, against a real worker and Redis.
describe('hostile input to the task client', () => {
  const apps = tasksAppsPerTest('hostile');

  it('runs a task under every BullMQ key name as jobId, never returns an internal record, and the queue keeps working', async () => {
    const app = await apps.create({ imports: [FixtureTasksModule], worker: true });
    const client = app.get(TaskClient);
    // The queue's own keys exist (meta at least) but are no jobs.
    for (const name of BULLMQ_KEY_NAMES) expect(await client.getJob(name), name).toBeUndefined();

    const handles = await Promise.all(
      BULLMQ_KEY_NAMES.map((name, i) => client.enqueue(FixtureTasks, 'echo', { value: i }, { jobId: name, ...(i % 3 === 0 ? { delayMs: 20 } : {}) })),
    );
    expect(handles.map((handle) => handle.id)).toEqual(BULLMQ_KEY_NAMES);
    const results = await Promise.all(handles.map((handle) => handle.waitResult({ timeoutMs: 20_000 })));
    expect(results.map((result) => result.value)).toEqual(BULLMQ_KEY_NAMES.map((_, i) => i));
    for (const name of BULLMQ_KEY_NAMES) {
      expect(await client.getJob(name), name).toMatchObject({ id: name, name: 'echo', state: 'completed' });
    }

    // The queue still works for plain, delayed and idempotent enqueues.
    const plain = await client.enqueue(FixtureTasks, 'echo', { value: 100 });
    const delayed = await client.enqueue(FixtureTasks, 'echo', { value: 101 }, { delayMs: 50 });
    await expect(plain.waitResult({ timeoutMs: 20_000 })).resolves.toMatchObject({ value: 100 });
    await expect(delayed.waitResult({ timeoutMs: 20_000 })).resolves.toMatchObject({ value: 101 });
    const again = await client.enqueue(FixtureTasks, 'echo', { value: 999 }, { jobId: 'meta' });
    expect(again.id).toBe('meta');
    await expect(again.waitResult({ timeoutMs: 20_000 })).resolves.toMatchObject({ value: BULLMQ_KEY_NAMES.indexOf('meta') });
    expect(await tasksQueue(app).getJobCountByTypes('failed')).toBe(0);
  });

  it('refuses job ids and deduplication keys with control, bidi or blank text, naming the option, before anything is sent', async () => {
    const app = await apps.create({ imports: [FixtureTasksModule] });
    const client = app.get(TaskClient);
    const hostile = ['a\u0000b', 'line\nbreak', '   ', '\u202Etxt.exe', 'x'.repeat(257)];
    for (const value of hostile) {
      for (const [option, options] of [
        ['jobId', { jobId: value }],
        ['deduplicate.key', { deduplicate: { key: value } }],
      ] as const) {
        const error = await rejectionOf(client.enqueue(FixtureTasks, 'echo', { value: 1 }, options));
        expect(error, `${option} ${JSON.stringify(value)}`).toBeInstanceOf(InvalidEnqueueOptionError);
        expect(error).toMatchObject({ option, taskName: 'echo' });
        expect(error.message).toContain(`enqueue("echo"): option ${option} is `);
        // The message never carries the characters it refuses.
        expect(error.message).not.toMatch(/[\p{Cc}\p{Cf}]/u);
      }
      const batch = await rejectionOf(client.enqueueMany([{ name: 'echo', payload: { value: 1 }, options: { jobId: value } }]));
      expect(batch).toBeInstanceOf(InvalidEnqueueOptionError);
    }
    expect(await tasksQueue(app).count()).toBe(0);
    await expect(client.getJob('a\u0000b')).resolves.toBeUndefined();
  });

  it('rejects a payload nested 5,000 levels deep, and one over maxPayloadBytes, before anything is sent', async () => {
    const app = await apps.create({ imports: [FixtureTasksModule], tasks: { maxPayloadBytes: 10_000 } });
    const client = app.get(TaskClient);
    const deep = await rejectionOf(client.enqueue('echo', nested(5_000)));
    expect(deep).toBeInstanceOf(InvalidPayloadError);
    expect(deep.message).toContain('nested deeper than 64 levels');

    const large = await rejectionOf(client.enqueue('echo', { blob: 'x'.repeat(10_000) }));
    expect(large).toBeInstanceOf(InvalidPayloadError);
    expect(large.message).toContain('over the limit of 10000');
    expect(await tasksQueue(app).count()).toBe(0);
  });

  it('rejects a 10 MB payload with the default limit (1 MiB)', async () => {
    const app = await apps.create({ imports: [FixtureTasksModule] });
    const error = await rejectionOf(app.get(TaskClient).enqueue('echo', { blob: 'x'.repeat(10 * 1024 * 1024) }));
    expect(error).toBeInstanceOf(InvalidPayloadError);
    expect(error.message).toContain('over the limit of 1048576');
  });

  it('fails a task whose result is over maxResultBytes at once, with a reason, without using its retries', async () => {
    const app = await apps.create({ imports: [FixtureTasksModule], worker: true, tasks: { maxResultBytes: 1_000 } });
    const client = app.get(TaskClient);
    const handle = await client.enqueue(FixtureTasks, 'largeResult', { chars: 5_000 });
    const error = await rejectionOf(handle.waitResult({ timeoutMs: 20_000 }));
    expect(error).toBeInstanceOf(TaskFailedError);
    expect(error.message).toContain('The result of task "largeResult" is 5011 bytes as JSON, over the limit of 1000');
    expect((error as TaskFailedError).attemptsMade).toBe(1);
    const small = await client.enqueue(FixtureTasks, 'largeResult', { chars: 10 });
    await expect(small.waitResult({ timeoutMs: 20_000 })).resolves.toEqual({ blob: 'x'.repeat(10) });
  });
});
