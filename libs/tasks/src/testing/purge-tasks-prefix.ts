import type { INestApplicationContext } from '@nestjs/common';
import { TASKS_OPTIONS } from '../options/tasks.constants.js';
import type { ResolvedTasksOptions } from '../options/tasks-options.interface.js';
import { DEFAULT_TASKS_OPTIONS } from '../options/resolve-tasks-options.js';
import { RedisClients } from '../redis/redis-clients.js';
import { unlinkMatching } from '../redis/unlink-matching.js';
import { DeployedTasks } from '../queues/deployed-tasks.js';
import { TrackingDatabaseLocator } from '../tracking/tracking-database.js';
import { TasksConfigurationError, TasksError } from '../errors/tasks.errors.js';
import { purgeDefaultPrefix, purgeFailed, purgeWithoutTasksModule } from './testing.messages.js';

/** What {@link purgeTasksPrefix} deleted. */
export interface PurgedTasksPrefix {
  /** The app's `prefix`: the Redis keys under `<prefix>:` and the rows of that namespace. */
  readonly prefix: string;
  /** Redis keys unlinked. */
  readonly keys: number;
  /** Rows of cron_job_runs deleted (0 for an app without run tracking). */
  readonly runs: number;
  /** Rows of cron_schedules deleted (0 for an app without run tracking). */
  readonly schedules: number;
}

/** SCAN's MATCH takes a glob: the prefix stands for itself. */
const globEscaped = (text: string) => text.replace(/[*?[\]\\]/g, '\\$&');

/**
 * Deletes what a real-stack test file left under its own prefix, through the
 * app's own connections: every Redis key under `<prefix>:` (queues, jobs,
 * locks, schedules of untracked crons, the app's own keys) and the prefix's
 * rows of cron_job_runs and cron_schedules, when the app tracks runs.
 *
 * Call it once the worker and scheduler processes of that prefix have
 * exited (a live one writes again), and before `app.close()`, which closes
 * the connections. The app itself then writes nothing more there: it is
 * taken off the running apps (as closing it would) before the keys go.
 * It refuses the default prefix `tasks`, a deployment's: give each test file
 * a prefix of its own.
 *
 * ```ts
 * afterAll(async () => {
 *   worker.kill('SIGTERM');
 *   await once(worker, 'exit');
 *   await purgeTasksPrefix(app);
 *   await app.close();
 * });
 * ```
 */
export async function purgeTasksPrefix(app: Pick<INestApplicationContext, 'get'>): Promise<PurgedTasksPrefix> {
  let options: ResolvedTasksOptions;
  let clients: RedisClients;
  let locator: TrackingDatabaseLocator;
  let deployed: DeployedTasks;
  try {
    options = app.get<ResolvedTasksOptions>(TASKS_OPTIONS);
    clients = app.get(RedisClients);
    locator = app.get(TrackingDatabaseLocator);
    deployed = app.get(DeployedTasks);
  } catch {
    // TasksTestingModule provides no Redis, and an app without TasksModule nothing at all.
    throw new TasksError(purgeWithoutTasksModule());
  }
  const { prefix } = options;
  if (prefix === DEFAULT_TASKS_OPTIONS.prefix) throw new TasksError(purgeDefaultPrefix(prefix));

  let keys = 0;
  try {
    // The app's own entry among the running apps is refreshed every 20 s: taken off now, as close() would, no refresh writes it back.
    await deployed.withdraw();
    keys = await unlinkMatching(clients.command, `${globEscaped(prefix)}:*`);
  } catch (error) {
    throw new TasksError(purgeFailed(prefix, 'Redis', clients.describe(error)));
  }

  let database;
  try {
    database = await locator.get();
  } catch (error) {
    // No TypeORM, no DataSource with the library's entities, or no tables: no row can be there.
    if (error instanceof TasksConfigurationError) return { prefix, keys, runs: 0, schedules: 0 };
    throw new TasksError(purgeFailed(prefix, 'Postgres', clients.describe(error)));
  }
  try {
    const runs = await database.runs.delete({ namespace: prefix });
    const schedules = await database.schedules.delete({ namespace: prefix });
    return { prefix, keys, runs: runs.affected ?? 0, schedules: schedules.affected ?? 0 };
  } catch (error) {
    throw new TasksError(purgeFailed(prefix, 'Postgres', clients.describe(error)));
  }
}
