import { Injectable, Logger } from '@nestjs/common';
import { TasksConfigurationError } from '../errors/tasks.errors.js';
import { lifecycleListenerFailed, unknownLifecycleEvent } from '../errors/tasks.messages.js';
import { describeError } from '../redaction/redact.js';
import { TASKS_EVENT_NAMES, type TasksEventMap, type TasksEventName } from './lifecycle-events.js';

/** A listener of one lifecycle event. What it returns is ignored (a rejected promise is logged). */
export type TasksEventListener<K extends TasksEventName> = (event: TasksEventMap[K]) => unknown;

const KNOWN = new Set<string>(TASKS_EVENT_NAMES);

/**
 * The lifecycle of tasks and crons as typed events, in the process where
 * they happen: a task attempt started, finished or is retried; a cron tick
 * enqueued or missed; a cron run claimed, skipped, finished or lost; a lock
 * extension failed; the scheduler lease changed hands; a job handed back at
 * shutdown. The library's metrics, traces and run log listen to it; so can
 * the application:
 *
 * ```ts
 * constructor(events: TasksEvents) {
 *   events.on('task.finished', (e) => e.status === 'failed' && alert(e.task, e.jobId, e.reason));
 * }
 * ```
 *
 * Listeners are called synchronously, in the order they subscribed, inside
 * the step that emits: keep them short, and hand slow work to something
 * else. One that throws (or returns a promise that rejects) is logged and
 * changes nothing for the run or for the other listeners. An event nobody
 * listens to costs a lookup.
 */
@Injectable()
export class TasksEvents {
  private readonly logger = new Logger('TasksEvents');
  // Replaced, never changed in place: an emit in progress keeps the list it started with.
  private readonly listeners = new Map<TasksEventName, readonly TasksEventListener<never>[]>();

  /** Calls `listener` with every `name` event from now on; returns what unsubscribes it. */
  on<K extends TasksEventName>(name: K, listener: TasksEventListener<K>): () => void {
    if (!KNOWN.has(name)) throw new TasksConfigurationError(unknownLifecycleEvent(String(name), TASKS_EVENT_NAMES));
    if (typeof listener !== 'function') throw new TypeError(`TasksEvents.on("${name}"): the listener must be a function`);
    const entry = listener as TasksEventListener<never>;
    this.listeners.set(name, [...(this.listeners.get(name) ?? []), entry]);
    let subscribed = true;
    return () => {
      if (!subscribed) return;
      subscribed = false;
      const left = (this.listeners.get(name) ?? []).filter((other) => other !== entry);
      if (left.length > 0) this.listeners.set(name, left);
      else this.listeners.delete(name);
    };
  }

  /** Whether anything listens to `name`. */
  listens(name: TasksEventName): boolean {
    return this.listeners.has(name);
  }

  /** @internal Tells the listeners of `name`, each shielded from the others' errors. */
  emit<K extends TasksEventName>(name: K, event: TasksEventMap[K]): void {
    const listeners = this.listeners.get(name) as readonly TasksEventListener<K>[] | undefined;
    if (!listeners) return;
    for (const listener of listeners) {
      try {
        const returned = listener(event);
        if (typeof (returned as PromiseLike<unknown> | undefined)?.then === 'function') {
          (returned as PromiseLike<unknown>).then(undefined, (error: unknown) => this.failed(name, error));
        }
      } catch (error) {
        this.failed(name, error);
      }
    }
  }

  private failed(name: TasksEventName, error: unknown): void {
    try {
      this.logger.error(lifecycleListenerFailed(name, describeError(error)));
    } catch {
      // A logger that throws must not break the run either.
    }
  }
}
