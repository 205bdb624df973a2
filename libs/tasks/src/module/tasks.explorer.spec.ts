import { describe, expect, it } from 'vitest';
import { Inject, Injectable, Module, Scope, type Type } from '@nestjs/common';
import { REQUEST } from '@nestjs/core';
import { DiscoveryModule } from '@nestjs/core';
import { Test, type TestingModule } from '@nestjs/testing';
import { Task } from '../task/task.decorator.js';
import { Cron } from '../cron/cron.decorator.js';
import { TasksConfigurationError } from '../errors/tasks.errors.js';
import { TaskCatalog } from '../task/task.catalog.js';
import { CronCatalog } from '../cron/cron.catalog.js';
import type { TaskContext } from '../task/task-context.interface.js';
import { TasksExplorer } from './tasks.explorer.js';

@Injectable()
class Greeter {
  greeting = 'hello';
}

@Injectable()
class MailTasks {
  constructor(private readonly greeter: Greeter) {}

  @Task()
  async sendWelcome(payload: { to: string }, ctx: TaskContext): Promise<string> {
    return `${this.greeter.greeting} ${payload.to} (${ctx.taskName})`;
  }

  @Task({ name: 'mail.digest', attempts: 7, backoffMs: 250, timeoutMs: 5_000 })
  async weeklyDigest(): Promise<void> {}

  /** Not a task: must not be registered. */
  async helper(): Promise<void> {}
}

/** A feature module the root imports: discovery must reach it without registration. */
@Module({ providers: [Greeter, MailTasks] })
class MailModule {}

@Injectable()
class BillingTasks {
  @Task()
  async sendWelcome(): Promise<void> {}
}

@Injectable()
class RenamedBillingTasks {
  @Task({ name: 'mail.digest' })
  async invoice(): Promise<void> {}
}

async function boot(...imports: Array<Type<unknown>>): Promise<TestingModule> {
  const moduleRef = await Test.createTestingModule({
    imports: [DiscoveryModule, ...imports],
    providers: [TaskCatalog, CronCatalog, TasksExplorer],
  }).compile();
  return moduleRef.init();
}

describe('task discovery', () => {
  it('finds every @Task() method of the application through DiscoveryService, and nothing else', async () => {
    const app = await boot(MailModule);
    try {
      expect(app.get(TaskCatalog).names()).toEqual(['mail.digest', 'sendWelcome']);
    } finally {
      await app.close();
    }
  });

  it('names a task after its method unless @Task({ name }) overrides it, and keeps its options', async () => {
    const app = await boot(MailModule);
    try {
      const catalog = app.get(TaskCatalog);
      const welcome = catalog.get('sendWelcome');
      expect(welcome).toMatchObject({ name: 'sendWelcome', source: 'MailTasks.sendWelcome' });
      expect(catalog.get('weeklyDigest')).toBeUndefined();
      expect(catalog.get('mail.digest')).toMatchObject({
        source: 'MailTasks.weeklyDigest',
        attempts: 7,
        backoff: { type: 'exponential', delayMs: 250 },
        timeoutMs: 5_000,
      });
    } finally {
      await app.close();
    }
  });

  it('registers handlers bound to the provider instance Nest built, with its dependencies', async () => {
    const app = await boot(MailModule);
    try {
      app.get(Greeter).greeting = 'hi';
      const handler = app.get(TaskCatalog).get('sendWelcome')?.handler;
      const ctx = { taskName: 'sendWelcome' } as TaskContext;
      await expect(handler?.({ to: 'ada' }, ctx)).resolves.toBe('hi ada (sendWelcome)');
    } finally {
      await app.close();
    }
  });

  it.each([
    ['a method name', BillingTasks, 'sendWelcome', 'MailTasks.sendWelcome', 'BillingTasks.sendWelcome'],
    ['an explicit name', RenamedBillingTasks, 'mail.digest', 'MailTasks.weeklyDigest', 'RenamedBillingTasks.invoice'],
  ])('fails the boot when two tasks share %s, naming both Class.method', async (_kind, other, name, first, second) => {
    @Module({ providers: [other] })
    class OtherModule {}

    const booting = boot(MailModule, OtherModule);
    await expect(booting).rejects.toThrow(TasksConfigurationError);
    await expect(booting).rejects.toThrow(`Two tasks are named "${name}"`);
    const message = await booting.then(
      () => '',
      (error: Error) => error.message,
    );
    expect(message).toContain(first);
    expect(message).toContain(second);
  });
});

@Injectable({ scope: Scope.REQUEST })
class RequestScopedTasks {
  @Task()
  async perRequest(): Promise<void> {}
}

@Injectable({ scope: Scope.TRANSIENT })
class TransientCrons {
  @Cron('0 * * * *')
  async hourly(): Promise<void> {}
}

/** Request-scoped by dependency: it injects the request. */
@Injectable()
class NeedsRequest {
  constructor(@Inject(REQUEST) readonly request: unknown) {}

  @Task()
  async fromRequest(): Promise<void> {}
}

/** Request-scoped, but without a task: nothing to complain about. */
@Injectable({ scope: Scope.REQUEST })
class PlainRequestScoped {
  async helper(): Promise<void> {}
}

describe('providers without a single instance', () => {
  it.each([
    ['a request-scoped provider', RequestScopedTasks, '@Task() on RequestScopedTasks.perRequest', 'request-scoped'],
    ['a transient provider', TransientCrons, '@Cron() on TransientCrons.hourly', 'transient'],
    ['a provider that injects the request', NeedsRequest, '@Task() on NeedsRequest.fromRequest', 'request-scoped'],
  ])('fails the boot for a decorated method of %s, naming it and the fix', async (_kind, provider, where, scope) => {
    @Module({ providers: [provider] })
    class ScopedModule {}

    const message = await boot(ScopedModule).then(
      async (app) => {
        await app.close();
        return 'booted';
      },
      (error: Error) => `${error.name}: ${error.message}`,
    );
    expect(message).toContain('TasksConfigurationError');
    expect(message).toContain(where);
    expect(message).toContain(scope);
    expect(message).toContain('singleton');
  });

  it('ignores request-scoped providers that have no task or cron', async () => {
    @Module({ providers: [PlainRequestScoped] })
    class PlainModule {}

    const app = await boot(MailModule, PlainModule);
    try {
      expect(app.get(TaskCatalog).names()).toEqual(['mail.digest', 'sendWelcome']);
    } finally {
      await app.close();
    }
  });
});

describe('@Task() options', () => {
  it.each([
    [{ name: ' ' }, 'option name'],
    [{ attempts: 0 }, 'option attempts is 0'],
    [{ attempts: 1.5 }, 'option attempts is 1.5'],
    [{ timeoutMs: 0 }, 'option timeoutMs is 0'],
    [{ backoffMs: -1 }, 'option backoffMs is -1'],
    [{ backoff: { type: 'fixed' as const, delayMs: 1.5 } }, 'option backoff.delayMs is 1.5'],
    [{ backoffMs: 5, backoff: { type: 'fixed' as const, delayMs: 5 } }, 'option backoffMs is 5, expected either backoffMs or backoff'],
  ])('rejects %o where it is declared', (options, problem) => {
    const declare = () => {
      class Bad {
        @Task(options)
        async run(): Promise<void> {}
      }
      return Bad;
    };
    expect(declare).toThrow(TasksConfigurationError);
    expect(declare).toThrow(`@Task() on Bad.run: ${problem}`);
  });
});
