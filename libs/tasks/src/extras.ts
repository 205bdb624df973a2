// nestjs-tasks/extras: app-level helpers an application may do without.
// Real-time events to a user over Redis pub/sub, the app's own Redis client,
// log lines and secret redaction for the app's own code, and the boot-failure
// report of an app with its own main().

// Events to a user, over Redis pub/sub.
export { EventPublisher } from './pubsub/event-publisher.js';
export { EventSubscriber } from './pubsub/event-subscriber.js';
export { userEventsChannel, type TaskEvent, type PublishedEvent } from './pubsub/task-event.js';
export { InvalidEventError } from './pubsub/event.errors.js';

// The app's own Redis client, on the library's connection settings.
export { InjectRedis, TASKS_REDIS, appRedisKeyPrefix } from './redis/app-redis.js';

// Log lines and secrets in the app's own code.
export { bufferedLogDestination, type BufferedLogDestinationOptions } from './observability/buffered-log-destination.js';
export { escapeLogText } from './redaction/escape-log-text.js';
export { redactUrl, redactSecrets, isSecretName, type RedactOptions } from './redaction/redact.js';
export { parseConnectionUrl } from './redaction/connection-url.js';

// The first line of a failed boot, for an app that writes its own main().
export { reportBootFailure } from './entrypoints/boot.js';
