import { afterEach, describe, expect, it } from 'vitest';
import { Injectable, Module } from '@nestjs/common';
import { Test, type TestingModule } from '@nestjs/testing';
import { LoggerModule } from 'nestjs-pino';
import { TaskClient, TasksModule, type ResolvedTasksOptions } from 'nestjs-tasks';
import { TASKS_OPTIONS, TaskWorkerHost } from 'nestjs-tasks/testing';
import { FixtureTasks, FixtureTasksModule } from '../fixtures/fixture-tasks.js';
import { deletePrefix, uniquePrefix } from '../support/redis.js';

/** Stands in for a ConfigService: settings computed by the app, injected into the factory. */
@Injectable()
class Settings {
  constructor(readonly prefix: string) {}
}

describe('TasksModule.forRootAsync', () => {
  const apps: TestingModule[] = [];
  const prefix = uniquePrefix('async');

  afterEach(async () => {
    for (const app of apps.splice(0).reverse()) await app.close();
    await deletePrefix(prefix);
  });

  it('takes its options from a factory with injected dependencies, over the environment', async () => {
    @Module({ providers: [{ provide: Settings, useValue: new Settings(prefix) }], exports: [Settings] })
    class SettingsModule {}

    @Module({
      imports: [
        LoggerModule.forRoot({ pinoHttp: { level: 'silent' } }),
        TasksModule.forRootAsync({
          imports: [SettingsModule],
          inject: [Settings],
          useFactory: async (settings: Settings) => ({ prefix: settings.prefix, concurrency: 3 }),
        }),
        FixtureTasksModule,
      ],
    })
    class AppModule {}

    const app = await Test.createTestingModule({ imports: [AppModule] }).compile();
    apps.push(app);
    await app.init();
    await app.get(TaskWorkerHost).start();

    const options = app.get<ResolvedTasksOptions>(TASKS_OPTIONS);
    expect(options.prefix).toBe(prefix);
    expect(options.concurrency).toBe(3);
    const handle = await app.get(TaskClient).enqueue(FixtureTasks, 'echo', { value: 7 });
    await expect(handle.waitResult({ timeoutMs: 20_000 })).resolves.toMatchObject({ value: 7 });
  });
});
