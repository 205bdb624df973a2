import { ConfigurableModuleBuilder, Module } from '@nestjs/common';
import { TASKS_OPTIONS } from '../options/tasks.constants.js';
import type { TasksModuleOptions } from '../options/tasks-options.interface.js';
import { resolveTasksOptions } from '../options/resolve-tasks-options.js';

/** Extras of `forRoot` / `forRootAsync` that shape the module rather than configure the library. */
export interface TasksModuleExtras {
  /** Register TasksModule's providers (TaskClient, CronRegistry, ...) globally. Default true. */
  isGlobal?: boolean;
}

export const {
  ConfigurableModuleClass: ConfigurableTasksOptionsModule,
  MODULE_OPTIONS_TOKEN: TASKS_MODULE_OPTIONS,
  OPTIONS_TYPE,
  ASYNC_OPTIONS_TYPE,
} = new ConfigurableModuleBuilder<TasksModuleOptions>({ moduleName: 'Tasks' })
  .setClassMethodName('forRoot')
  .setFactoryMethodName('createTasksOptions')
  .setExtras<TasksModuleExtras>({ isGlobal: true }, (definition) => definition)
  .build();

/** What `forRoot()` takes: the library's options plus `isGlobal`. */
export type TasksModuleForRootOptions = typeof OPTIONS_TYPE;

/**
 * What `forRootAsync()` takes: `useFactory` (with `inject` and `imports`),
 * `useClass` or `useExisting` (a class with `createTasksOptions()`), plus `isGlobal`.
 */
export type TasksModuleAsyncOptions = typeof ASYNC_OPTIONS_TYPE;

/** A provider `useClass` / `useExisting` can point at. */
export interface TasksOptionsFactory {
  createTasksOptions(): TasksModuleOptions | Promise<TasksModuleOptions>;
}

/**
 * Holds the user's options and their resolved form, so both TasksModule's
 * providers and the library's BullMQ configuration (which lives in a module
 * of its own) can inject them.
 */
@Module({
  providers: [{ provide: TASKS_OPTIONS, useFactory: resolveTasksOptions, inject: [TASKS_MODULE_OPTIONS] }],
  exports: [TASKS_OPTIONS],
})
export class TasksOptionsModule extends ConfigurableTasksOptionsModule {}
