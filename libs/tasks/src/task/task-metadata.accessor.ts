import { TASK_METADATA } from '../options/tasks.constants.js';
import type { TaskMetadata } from './task.decorator.js';

/** Reads what `@Task()` stored on a method. */
export function getTaskMetadata(method: unknown): TaskMetadata | undefined {
  if (typeof method !== 'function') return undefined;
  return Reflect.getMetadata(TASK_METADATA, method) as TaskMetadata | undefined;
}
