import { afterEach, describe, expect, it } from 'vitest';
import { Injectable, Module } from '@nestjs/common';
import { Test, type TestingModule } from '@nestjs/testing';
import { LoggerModule } from 'nestjs-pino';
import { TaskClient, TasksModule, type TasksModuleOptions, type TasksOptionsFactory } from 'nestjs-tasks';
import { TASKS_OPTIONS, TaskWorkerHost, type ResolvedTasksOptions } from '#nestjs-tasks-internal';
import { FixtureTasks, FixtureTasksModule } from '../fixtures/fixture-tasks.js';
import { REDIS_URL, deletePrefix, uniquePrefix } from '../support/redis.js';

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

  it('takes its options from useFactory with injected dependencies', async () => {
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
    await app.get(TaskWorkerHost).startConsuming();

    const options = app.get<ResolvedTasksOptions>(TASKS_OPTIONS);
    expect(options.prefix).toBe(prefix);
    expect(options.concurrency).toBe(3);
    const handle = await app.get(TaskClient).enqueue(FixtureTasks, 'echo', { value: 7 });
    await expect(handle.waitResult({ timeoutMs: 20_000 })).resolves.toMatchObject({ value: 7 });
  });

  /** Boots an app, starts its worker, and checks a task round-trips under `expected` prefix. */
  async function bootAndRun(root: object, expected: string): Promise<TestingModule> {
    const app = await Test.createTestingModule({ imports: [root as never] }).compile();
    apps.push(app);
    await app.init();
    await app.get(TaskWorkerHost).startConsuming();
    expect(app.get<ResolvedTasksOptions>(TASKS_OPTIONS).prefix).toBe(expected);
    const handle = await app.get(TaskClient).enqueue(FixtureTasks, 'echo', { value: 1 });
    await expect(handle.waitResult({ timeoutMs: 20_000 })).resolves.toMatchObject({ value: 1 });
    return app;
  }

  it('takes its options from useClass, a TasksOptionsFactory it instantiates', async () => {
    @Injectable()
    class TasksConfig implements TasksOptionsFactory {
      createTasksOptions(): TasksModuleOptions {
        return { redisUrl: REDIS_URL, prefix, concurrency: 2 };
      }
    }

    @Module({
      imports: [LoggerModule.forRoot({ pinoHttp: { level: 'silent' } }), TasksModule.forRootAsync({ useClass: TasksConfig }), FixtureTasksModule],
    })
    class AppModule {}

    const app = await bootAndRun(AppModule, prefix);
    expect(app.get<ResolvedTasksOptions>(TASKS_OPTIONS).concurrency).toBe(2);
  });

  it('takes its options from useExisting, a provider of an imported module', async () => {
    @Injectable()
    class SharedConfig implements TasksOptionsFactory {
      readonly calls: number[] = [];
      async createTasksOptions(): Promise<TasksModuleOptions> {
        this.calls.push(Date.now());
        return { redisUrl: REDIS_URL, prefix };
      }
    }
    @Module({ providers: [SharedConfig], exports: [SharedConfig] })
    class ConfigModule {}

    @Module({
      imports: [
        LoggerModule.forRoot({ pinoHttp: { level: 'silent' } }),
        ConfigModule,
        TasksModule.forRootAsync({ imports: [ConfigModule], useExisting: SharedConfig }),
        FixtureTasksModule,
      ],
    })
    class AppModule {}

    const app = await bootAndRun(AppModule, prefix);
    // The very instance the app has, not a copy.
    expect(app.get(SharedConfig).calls).toHaveLength(1);
  });

  it('is global by default, so feature modules inject TaskClient without importing it; isGlobal: false makes it local', async () => {
    @Injectable()
    class Producer {
      constructor(readonly tasks: TaskClient) {}
    }
    @Module({ providers: [Producer] })
    class FeatureModule {}

    @Module({ imports: [TasksModule.forRoot({ redisUrl: REDIS_URL, prefix }), FeatureModule] })
    class GlobalApp {}
    const app = await Test.createTestingModule({ imports: [GlobalApp] }).compile();
    apps.push(app);
    expect(app.get(Producer).tasks).toBeInstanceOf(TaskClient);

    expect(TasksModule.forRoot({}).global).toBe(true);
    expect(TasksModule.forRoot({ isGlobal: false }).global).toBe(false);
    expect(TasksModule.forRootAsync({ useFactory: () => ({}), isGlobal: false }).global).toBe(false);
  });
});
