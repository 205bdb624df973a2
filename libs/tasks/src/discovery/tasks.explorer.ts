import { Injectable, type OnModuleInit } from '@nestjs/common';
import { DiscoveryService, MetadataScanner } from '@nestjs/core';
import { ExternalContextCreator } from '@nestjs/core/helpers/external-context-creator.js';
import type { InstanceWrapper } from '@nestjs/core/injector/instance-wrapper.js';
import { TaskRegistry, type TaskHandlerFn } from '../registry/task.registry.js';
import { CronRegistry } from '../cron/cron.registry.js';
import { getCronMetadata } from '../cron/cron-metadata.accessor.js';
import type { CronRunContext } from '../cron/cron-run-context.js';
import { CronMaintenance } from '../tracking/cron-maintenance.js';
import { getTaskMetadata } from './task-metadata.accessor.js';

/** Finds every `@Task()` and `@Cron()` method on the application's providers and registers it. */
@Injectable()
export class TasksExplorer implements OnModuleInit {
  constructor(
    private readonly discovery: DiscoveryService,
    private readonly scanner: MetadataScanner,
    private readonly externalContext: ExternalContextCreator,
    private readonly tasks: TaskRegistry,
    private readonly crons: CronRegistry,
  ) {}

  onModuleInit(): void {
    const seen = new Set<object>();
    let maintenance: CronMaintenance | undefined;
    for (const wrapper of this.discovery.getProviders()) {
      const instance = this.staticInstance(wrapper);
      if (!instance || seen.has(instance)) continue;
      seen.add(instance);
      // The library's own crons are registered only when the app has crons of its own.
      if (instance instanceof CronMaintenance) {
        maintenance = instance;
        continue;
      }
      this.registerMethods(instance);
    }
    if (maintenance && this.crons.all().length > 0) this.registerMethods(maintenance);
  }

  private registerMethods(instance: object): void {
    const prototype = Object.getPrototypeOf(instance) as object;
    for (const methodName of this.scanner.getAllMethodNames(prototype)) {
      const method = (instance as Record<string, unknown>)[methodName];
      const source = `${instance.constructor.name}.${methodName}`;
      const task = getTaskMetadata(method);
      if (task) this.tasks.register({ ...task, source, handler: (method as TaskHandlerFn).bind(instance) });
      const cron = getCronMetadata(method);
      if (cron) this.crons.register({ ...cron, source, invoke: this.withInterceptors(instance, methodName) });
    }
  }

  // Same path as microservice and GraphQL handlers: Nest resolves the method's
  // @UseInterceptors (the lock and tracking ones @Cron adds, and the user's).
  private withInterceptors(instance: object, methodName: string): (run: CronRunContext) => Promise<unknown> {
    const method = (instance as Record<string, (...args: unknown[]) => unknown>)[methodName];
    const proxy = this.externalContext.create(
      instance,
      method,
      methodName,
      undefined,
      undefined,
      undefined,
      undefined,
      { guards: false, interceptors: true, filters: false },
      'cron',
    );
    return (run) => proxy(run) as Promise<unknown>;
  }

  // Request-scoped providers have no instance to call outside a request.
  private staticInstance(wrapper: InstanceWrapper): object | undefined {
    if (!wrapper.isDependencyTreeStatic() || !wrapper.instance) return undefined;
    return typeof wrapper.instance === 'object' ? (wrapper.instance as object) : undefined;
  }
}
