import { describe, expect, it } from 'vitest';
import { Test } from '@nestjs/testing';
import { TASKS_OPTIONS } from '../options/tasks.constants.js';
import { DEFAULT_TASKS_OPTIONS } from '../options/resolve-tasks-options.js';
import { TasksError } from '../errors/tasks.errors.js';
import { TasksTestingModule } from './tasks-testing.module.js';
import { purgeTasksPrefix } from './purge-tasks-prefix.js';

// What purgeTasksPrefix refuses, before it touches anything. What it deletes,
// and that it deletes only that, test/testing/*.real-stack.spec.ts check on
// Redis and Postgres.

/** An app whose TasksModule runs with `prefix`; every other provider fails the test if the purge reaches it. */
function appWithPrefix(prefix: string) {
  const untouchable = new Proxy({}, {
    get: (_target, property) => {
      throw new Error(`purgeTasksPrefix used ${String(property)} of a provider`);
    },
  });
  return { get: (token: unknown) => (token === TASKS_OPTIONS ? { ...DEFAULT_TASKS_OPTIONS, prefix } : untouchable) } as Parameters<typeof purgeTasksPrefix>[0];
}

describe('purgeTasksPrefix', () => {
  it("refuses the default prefix, a deployment's, deleting nothing", async () => {
    const error = await purgeTasksPrefix(appWithPrefix('tasks')).then(
      () => undefined,
      (reason: unknown) => reason as Error,
    );
    expect(error).toBeInstanceOf(TasksError);
    expect(error?.message).toBe(
      'purgeTasksPrefix(app): the app runs with the default prefix "tasks", a deployment\'s, and nothing is deleted. ' +
        'Give each test file a prefix of its own (TasksModule.forRoot({ prefix }) or TASKS_PREFIX, the same for the processes it starts), then purge that.',
    );
  });

  it('refuses an app of the testing kit, which keeps nothing in Redis or Postgres', async () => {
    const app = await (await Test.createTestingModule({ imports: [TasksTestingModule.forRoot({ options: { prefix: 'test_kit' } })] }).compile()).init();
    try {
      await expect(purgeTasksPrefix(app)).rejects.toThrow(
        'purgeTasksPrefix(app): this app has no TasksModule connections (no Redis client of the library): pass the app a real-stack test booted ' +
          'with TasksModule. An app of TasksTestingModule keeps nothing in Redis or Postgres: closing it is enough.',
      );
    } finally {
      await app.close();
    }
  });
});
