import { afterEach, describe, expect, it } from 'vitest';
import { Injectable, Module } from '@nestjs/common';
import { Test, type TestingModule } from '@nestjs/testing';
import { LoggerModule } from 'nestjs-pino';
import { Cron, Task, TasksConfigurationError, TasksModule } from 'nestjs-tasks';
import { TaskWorkerHost } from '#nestjs-tasks-internal';
import { rejectionOf } from '../support/in-process.js';
import { REDIS_URL, deletePrefix, uniquePrefix } from '../support/redis.js';

@Injectable()
class PlainTasks {
  @Task()
  async plain(): Promise<void> {}
}

@Injectable()
class PlainCrons {
  @Cron('0 * * * *')
  async hourly(): Promise<void> {}
}

// What a worker needs beyond TasksModule, checked when it starts consuming, with
// the library's own message instead of a generic Nest dependency error.
describe('worker boot checks', () => {
  let app: TestingModule | undefined;
  const prefixes: string[] = [];
  afterEach(async () => {
    await app?.close();
    app = undefined;
    for (const prefix of prefixes.splice(0)) await deletePrefix(prefix);
  });

  function prefixFor(label: string): string {
    const prefix = uniquePrefix(label);
    prefixes.push(prefix);
    return prefix;
  }

  async function startWorker(imports: unknown[]): Promise<Error> {
    @Module({ imports: imports as never[] })
    class AppModule {}
    app = await Test.createTestingModule({ imports: [AppModule] }).compile();
    await app.init();
    return rejectionOf(app.get(TaskWorkerHost).startConsuming());
  }

  it('without nestjs-pino’s LoggerModule, says to import LoggerModule.forRoot()', async () => {
    @Module({ providers: [PlainTasks] })
    class JobsModule {}
    const error = await startWorker([TasksModule.forRoot({ redisUrl: REDIS_URL, prefix: prefixFor('nologger') }), JobsModule]);
    expect(error).toBeInstanceOf(TasksConfigurationError);
    expect(error.message).toContain("import LoggerModule.forRoot() from 'nestjs-pino'");
    expect(app?.get(TaskWorkerHost).running).toBe(false);
  });

  it('with crons but no TypeORM DataSource, says how to add one with the library’s entity and migrations', async () => {
    @Module({ providers: [PlainCrons] })
    class JobsModule {}
    const error = await startWorker([
      LoggerModule.forRoot({ pinoHttp: { level: 'silent' } }),
      TasksModule.forRoot({ redisUrl: REDIS_URL, prefix: prefixFor('nodb') }),
      JobsModule,
    ]);
    expect(error).toBeInstanceOf(TasksConfigurationError);
    expect(error.message).toContain('TypeOrmModule.forRoot');
    expect(error.message).toContain("'nestjs-tasks/typeorm'");
    expect(app?.get(TaskWorkerHost).running).toBe(false);
  });
});
