import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  Injectable,
  Module,
  UseInterceptors,
  type CallHandler,
  type ExecutionContext,
  type NestInterceptor,
} from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import type { TestingModule } from '@nestjs/testing';
import { Redis } from 'ioredis';
import { APP_INTERCEPTOR } from '@nestjs/core';
import { map, of, type Observable } from 'rxjs';
import { Cron, CronRegistry, Task, TaskClient, type CronContext, type CronRunOutcome, type TaskContext } from 'nestjs-tasks';
import { databaseOptions } from '@app/jobs';
import { createTestSchema, type TestSchema } from '../support/database.js';
import { closeAll, createTasksApp } from '../support/in-process.js';
import { REDIS_URL, deletePrefix, uniquePrefix } from '../support/redis.js';

/** What each interceptor saw, in order, across the file. */
const seen: string[] = [];
let lockHolderSeen: string | null | undefined;
let redis: Redis;
let prefix: string;

@Injectable()
class ClassInterceptor implements NestInterceptor {
  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    seen.push(`class:${context.getType()}:${context.getHandler().name}`);
    return next.handle();
  }
}

/** Doubles a task's result, so the test can tell it ran around the handler and not beside it. */
@Injectable()
class DoublingInterceptor implements NestInterceptor {
  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const [payload, ctx] = context.getArgs<[{ value: number }, TaskContext]>();
    seen.push(`method:${context.getType()}:${ctx.taskName}:${payload.value}`);
    return next.handle().pipe(map((result) => ({ value: (result as { value: number }).value * 2 })));
  }
}

/** Looks at the cron's lock from inside the interceptor: it must already be held by the run. */
@Injectable()
class LockWitness implements NestInterceptor {
  async intercept(context: ExecutionContext, next: CallHandler): Promise<Observable<unknown>> {
    const [ctx] = context.getArgs<[CronContext]>();
    lockHolderSeen = await redis.get(`${prefix}:cron-lock:${ctx.jobName}`);
    seen.push(`cron:${context.getType()}:${ctx.jobName}:run ${ctx.runId}`);
    return next.handle();
  }
}

@Injectable()
@UseInterceptors(ClassInterceptor)
class InterceptedJobs {
  @Task()
  @UseInterceptors(DoublingInterceptor)
  async doubled(payload: { value: number }): Promise<{ value: number }> {
    seen.push('handler:doubled');
    return { value: payload.value };
  }

  @Cron('0 0 1 1 *', { name: 'intercepted.yearly', lockTtlMs: 30_000 })
  @UseInterceptors(LockWitness)
  async yearly(ctx: CronContext): Promise<{ runId: number }> {
    seen.push('handler:yearly');
    return { runId: ctx.runId };
  }
}

// User @UseInterceptors on @Task and @Cron methods (and on their class) wrap the
// handler alone: inside the cron's lock, after its row, never on a skipped tick.
describe('user interceptors on tasks and crons', () => {
  let schema: TestSchema;
  let app: TestingModule | undefined;

  beforeAll(async () => {
    prefix = uniquePrefix('intercept');
    redis = new Redis(REDIS_URL);
    schema = await createTestSchema('intercept');
    @Module({
      imports: [TypeOrmModule.forRoot(databaseOptions({ ...process.env, ...schema.env }))],
      providers: [InterceptedJobs, ClassInterceptor, DoublingInterceptor, LockWitness],
    })
    class JobsModule {}
    app = await createTasksApp({ tasks: { prefix }, imports: [JobsModule], worker: true });
  });

  afterAll(async () => {
    await closeAll([app]);
    redis?.disconnect();
    await schema?.drop();
    await deletePrefix(prefix);
  });

  it('runs method and class interceptors around a task handler, which can transform its result', async () => {
    seen.length = 0;
    const handle = await app!.get(TaskClient).enqueue(InterceptedJobs, 'doubled', { value: 21 });
    await expect(handle.waitResult({ timeoutMs: 20_000 })).resolves.toEqual({ value: 42 });
    expect(seen).toEqual(['class:task:doubled', 'method:task:doubled:21', 'handler:doubled']);
  });

  it('runs cron interceptors inside the lock, after the RUNNING row, and not at all on a skipped tick', async () => {
    seen.length = 0;
    const crons = app!.get(CronRegistry);
    const ran = (await (await crons.trigger('intercepted.yearly')).waitResult({ timeoutMs: 20_000 })) as CronRunOutcome;
    expect(ran.status).toBe('COMPLETED');
    const runId = ran.status === 'COMPLETED' ? ran.runId : undefined;
    expect(runId).toEqual(expect.any(Number));
    expect(seen).toEqual(['class:cron:yearly', `cron:cron:intercepted.yearly:run ${runId}`, 'handler:yearly']);
    expect(lockHolderSeen).toEqual(expect.any(String));

    seen.length = 0;
    const lockKey = `${prefix}:cron-lock:intercepted.yearly`;
    await redis.set(lockKey, 'held-by-the-test', 'PX', 30_000);
    try {
      const skipped = await (await crons.trigger('intercepted.yearly')).waitResult({ timeoutMs: 20_000 });
      expect(skipped).toEqual({ status: 'SKIPPED', reason: 'Skipped: an earlier run still holds the lock' });
    } finally {
      await redis.del(lockKey);
    }
    expect(seen).toEqual([]);
  });
});

@Injectable()
class GlobalInterceptor implements NestInterceptor {
  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const [, ctx] = context.getArgs<[unknown, TaskContext]>();
    seen.push(`global:${context.getType()}:${ctx.taskName}`);
    return next.handle();
  }
}

@Injectable()
class PlainJobs {
  @Task({ name: 'plain.echo' })
  async echo(payload: { value: number }): Promise<{ value: number }> {
    seen.push('handler:plain.echo');
    return payload;
  }

  /** Without any interceptor, a handler is called directly; an Observable still gives its last value, as through Nest's proxy. */
  @Task({ name: 'plain.observable' })
  observable(payload: { value: number }): Observable<{ value: number }> {
    return of({ value: 0 }, { value: payload.value + 1 });
  }
}

// A handler with no interceptor of its own is called directly, unless a global
// interceptor applies: then it goes through Nest's proxy like the others.
describe('tasks without interceptors of their own', () => {
  const apps: TestingModule[] = [];
  const prefixes: string[] = [];

  afterAll(async () => {
    await closeAll(apps);
    for (const each of prefixes) await deletePrefix(each);
  });

  async function appWith(providers: unknown[]): Promise<TaskClient> {
    const own = uniquePrefix('intercept-plain');
    prefixes.push(own);
    @Module({ providers: providers as never[] })
    class PlainModule {}
    const app = await createTasksApp({ tasks: { prefix: own }, imports: [PlainModule], worker: true });
    apps.push(app);
    return app.get(TaskClient);
  }

  it('runs an APP_INTERCEPTOR around a task that declares none', async () => {
    seen.length = 0;
    const client = await appWith([PlainJobs, { provide: APP_INTERCEPTOR, useClass: GlobalInterceptor }]);
    await expect((await client.enqueue(PlainJobs, 'echo', { value: 7 })).waitResult({ timeoutMs: 20_000 })).resolves.toEqual({ value: 7 });
    expect(seen).toEqual(['global:task:plain.echo', 'handler:plain.echo']);
  });

  it('calls a task with no interceptor at all, and resolves an Observable result to its last value', async () => {
    seen.length = 0;
    const client = await appWith([PlainJobs]);
    await expect((await client.enqueue('plain.echo', { value: 3 })).waitResult({ timeoutMs: 20_000 })).resolves.toEqual({ value: 3 });
    expect(seen).toEqual(['handler:plain.echo']);
    await expect((await client.enqueue('plain.observable', { value: 41 })).waitResult({ timeoutMs: 20_000 })).resolves.toEqual({ value: 42 });
  });
});
