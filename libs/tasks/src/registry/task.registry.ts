import { Injectable } from '@nestjs/common';
import type { BackoffOptions } from '../options/tasks-options.interface.js';
import type { TaskContext } from '../context/task-context.interface.js';
import { TasksConfigurationError } from '../errors/tasks.errors.js';
import { duplicateTaskName } from '../tasks.messages.js';

export type TaskHandlerFn = (payload: unknown, context: TaskContext) => unknown;

export interface RegisteredTask {
  readonly name: string;
  /** `Class.method`, for messages and logs. */
  readonly source: string;
  readonly handler: TaskHandlerFn;
  readonly attempts?: number;
  readonly backoff?: BackoffOptions;
  readonly timeoutMs?: number;
}

/** Every task found in this application, by wire name. */
@Injectable()
export class TaskRegistry {
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
}
