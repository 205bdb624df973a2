import { TasksError } from '../errors/tasks.errors.js';

/**
 * `EventPublisher.publish()` (or `EventSubscriber.subscribe()`) was given
 * something that is not a valid event or user id; `path` points at the
 * offending value (e.g. `event.payload.items[2]`).
 */
export class InvalidEventError extends TasksError {
  constructor(
    message: string,
    readonly path: string,
  ) {
    super(message);
  }
}
