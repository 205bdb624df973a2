import { Injectable, type OnModuleInit } from '@nestjs/common';
import { ApplicationConfig, DiscoveryService, ExternalContextCreator, MetadataScanner } from '@nestjs/core';
import { isObservable, lastValueFrom } from 'rxjs';
import { declaresInterceptors } from '../peers/nest-internals.js';
import { TasksConfigurationError } from '../errors/tasks.errors.js';
import { notStaticProvider } from '../errors/tasks.messages.js';
import { TaskCatalog, type TaskHandlerFn } from '../task/task.catalog.js';
import { getTaskMetadata } from '../task/task-metadata.accessor.js';
import { CronCatalog } from '../cron/cron.catalog.js';
import { getCronMetadata } from '../cron/cron-metadata.accessor.js';
import type { CronContext } from '../cron/cron-context.js';
import { CronMaintenance } from '../cron/cron-maintenance.js';

/** What `DiscoveryService` lists: Nest's wrapper of a provider, with its instance and scope. */
type InstanceWrapper = ReturnType<DiscoveryService['getProviders']>[number];

/** The `ExecutionContext.getType()` user interceptors see around a task or a cron handler. */
export type TasksContextType = 'task' | 'cron';

/**
 * Finds every `@Task()` and `@Cron()` method on the application's providers
 * and registers it, wrapped in the user's interceptors (method, class and
 * global ones, as Nest applies them to microservice handlers).
 */
@Injectable()
export class TasksExplorer implements OnModuleInit {
  constructor(
    private readonly discovery: DiscoveryService,
    private readonly scanner: MetadataScanner,
    private readonly externalContext: ExternalContextCreator,
    private readonly tasks: TaskCatalog,
    private readonly crons: CronCatalog,
    // Nest provides it in every module as a core injectable (nestjs/nest#2410): the global interceptors are read from it.
    private readonly appConfig: ApplicationConfig,
  ) {}

  onModuleInit(): void {
    const seen = new Set<object>();
    let maintenance: CronMaintenance | undefined;
    for (const wrapper of this.discovery.getProviders()) {
      const instance = this.instanceOf(wrapper);
      if (!instance || seen.has(instance)) continue;
      seen.add(instance);
      // The library's own crons (they sweep and prune cron_job_runs) are registered only when the app tracks crons of its own.
      if (instance instanceof CronMaintenance) {
        maintenance = instance;
        continue;
      }
      this.registerMethods(instance);
    }
    if (maintenance && this.crons.all().some((cron) => cron.track)) this.registerMaintenance(maintenance);
  }

  private registerMaintenance(maintenance: CronMaintenance): void {
    for (const { method, metadata } of maintenance.definitions()) {
      const invoke = this.wrap(maintenance, method, 'cron') as (context: CronContext) => Promise<unknown>;
      this.crons.register({ ...metadata, source: `CronMaintenance.${method}`, internal: true, invoke });
    }
  }

  private registerMethods(instance: object): void {
    const prototype = Object.getPrototypeOf(instance) as object;
    for (const methodName of this.scanner.getAllMethodNames(prototype)) {
      const method = (instance as Record<string, unknown>)[methodName];
      const source = `${instance.constructor.name}.${methodName}`;
      const task = getTaskMetadata(method);
      if (task) this.tasks.register({ ...task, source, handler: this.wrap(instance, methodName, 'task') as TaskHandlerFn });
      const cron = getCronMetadata(method);
      if (cron) {
        const invoke = this.wrap(instance, methodName, 'cron') as (context: CronContext) => Promise<unknown>;
        this.crons.register({ ...cron, source, internal: false, invoke });
      }
    }
  }

  // The path Nest's microservice and GraphQL handlers take: Nest resolves the
  // interceptors that apply to the method, and the proxy runs them around it.
  // When none can apply, the method is called directly: Nest's proxy costs
  // three promises and about 1.5 KB of garbage per call, on every job.
  private wrap(instance: object, methodName: string, type: TasksContextType): (...args: unknown[]) => Promise<unknown> {
    const method = (instance as Record<string, (...args: unknown[]) => unknown>)[methodName] as (...args: unknown[]) => unknown;
    if (!this.interceptorsMayApply(instance, method)) {
      // What Nest's proxy does with a result once no interceptor is left: an Observable gives its last value.
      return (...args: unknown[]) => {
        try {
          const result = method.apply(instance, args);
          // A handler's own promise is passed on as it is: no extra promise per job.
          return isObservable(result) ? lastValueFrom(result) : Promise.resolve(result);
        } catch (error) {
          return Promise.reject(error as Error);
        }
      };
    }
    return this.externalContext.create(
      instance,
      method,
      methodName,
      undefined,
      undefined,
      undefined,
      undefined,
      { guards: false, interceptors: true, filters: false },
      type,
    ) as (...args: unknown[]) => Promise<unknown>;
  }

  /**
   * Whether any interceptor is declared on the method or its class, or
   * registered globally (`APP_INTERCEPTOR` or `useGlobalInterceptors`, which
   * Nest has applied to the application's config by now). Unsure (a container
   * built without a config) counts as yes.
   */
  private interceptorsMayApply(instance: object, method: object): boolean {
    if (declaresInterceptors(method) || declaresInterceptors(instance.constructor)) return true;
    // NestContainer's config is optional: one built without it provides undefined.
    const config = this.appConfig as ApplicationConfig | undefined;
    if (!config) return true;
    return config.getGlobalInterceptors().length > 0 || config.getGlobalRequestInterceptors().length > 0;
  }

  /**
   * The provider's one instance; undefined for providers without decorated methods.
   * A request-scoped or transient provider has no instance to run a job on, so
   * a `@Task()`/`@Cron()` on one fails the boot instead of being dropped.
   */
  private instanceOf(wrapper: InstanceWrapper): object | undefined {
    const instance: unknown = wrapper.instance;
    const metatype = wrapper.metatype as { prototype?: object; name?: string } | null | undefined;
    if (wrapper.isDependencyTreeStatic() && !wrapper.isTransient) {
      return instance && typeof instance === 'object' ? instance : undefined;
    }
    const prototype = metatype?.prototype;
    if (!prototype) return undefined;
    for (const methodName of this.scanner.getAllMethodNames(prototype)) {
      const method = (prototype as Record<string, unknown>)[methodName];
      const decorator = getTaskMetadata(method) ? '@Task()' : getCronMetadata(method) ? '@Cron()' : undefined;
      if (decorator) {
        const scope = wrapper.isTransient ? 'transient' : 'request-scoped (or depends on a request-scoped provider)';
        throw new TasksConfigurationError(notStaticProvider(decorator, `${metatype.name ?? 'provider'}.${methodName}`, scope));
      }
    }
    return undefined;
  }
}
