import { Injectable } from '@nestjs/common';
import type { BackoffOptions } from '../options/tasks-options.interface.js';
import type { TaskContext } from './task-context.interface.js';
import { TasksConfigurationError } from '../errors/tasks.errors.js';
import { duplicateTaskName } from '../errors/tasks.messages.js';

export type TaskHandlerFn = (payload: unknown, context: TaskContext) => unknown;

export interface RegisteredTask {
  readonly name: string;
  /** The task queue its jobs go to. */
  readonly queue: string;
  /** `Class.method`, for messages and logs. */
  readonly source: string;
  /** The method bound to its instance, wrapped in the user's interceptors when it has any. */
  readonly handler: TaskHandlerFn;
  readonly attempts?: number;
  readonly backoff?: BackoffOptions;
  readonly timeoutMs?: number;
}

/** Every task found in this application, by wire name. Internal. */
@Injectable()
export class TaskCatalog {
  private readonly tasks = new Map<string, RegisteredTask>();

  register(task: RegisteredTask): void {
    const existing = this.tasks.get(task.name);
    if (existing) {
      throw new TasksConfigurationError(duplicateTaskName(task.name, existing.source, task.source));
    }
    this.tasks.set(task.name, task);
  }

  get(name: string): RegisteredTask | undefined {
    return this.tasks.get(name);
  }

  names(): string[] {
    return [...this.tasks.keys()].sort();
  }

  /** Task names by queue, each list sorted. */
  byQueue(): Map<string, string[]> {
    const queues = new Map<string, string[]>();
    for (const name of this.names()) {
      const queue = (this.tasks.get(name) as RegisteredTask).queue;
      const names = queues.get(queue);
      if (names) names.push(name);
      else queues.set(queue, [name]);
    }
    return queues;
  }
}
