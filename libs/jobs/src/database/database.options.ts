import type { PostgresDataSourceOptions } from 'typeorm/driver/postgres/PostgresDataSourceOptions.js';
import { parseConnectionUrl } from 'nestjs-tasks/extras';
import { TASKS_ENTITIES, TASKS_MIGRATIONS } from 'nestjs-tasks/typeorm';
import { ExpiringRecord } from '../maintenance/expiring-record.entity.js';
import { CreateExpiringRecords1795800001000 } from './migrations/1795800001000-create-expiring-records.js';

type Env = Readonly<Record<string, string | undefined>>;

export const DEFAULT_DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/tasks';

/** What DATABASE_URL looks like, for the message about one that does not parse. */
const DATABASE_URL_EXPECTED = 'postgres://USER:PASSWORD@HOST:PORT/DATABASE, with special characters of the password percent-encoded';

/**
 * DATABASE_URL (or the default), checked: one that does not parse as a URL (a
 * raw '/', '#' or '?' in its password, the keyword form `host=… password=…`)
 * fails with a TasksConfigurationError naming DATABASE_URL and the fault,
 * never quoting it, before a driver can echo it.
 */
export function databaseUrl(env: Env = process.env): string {
  const url = env.DATABASE_URL || DEFAULT_DATABASE_URL;
  parseConnectionUrl(url, 'DATABASE_URL', DATABASE_URL_EXPECTED);
  return url;
}

/**
 * The one TypeORM configuration of api, worker, scheduler and the migrate
 * command. `DATABASE_SCHEMA` (default: the server's search_path) lets tests
 * and side-by-side deployments keep their tables apart in one database.
 */
export function databaseOptions(env: Env = process.env): PostgresDataSourceOptions & { url: string } {
  const schema = env.DATABASE_SCHEMA;
  if (schema !== undefined && !/^[a-z_][a-z0-9_]{0,62}$/.test(schema)) {
    throw new Error(`DATABASE_SCHEMA="${schema}" is invalid: use lowercase letters, digits and "_".`);
  }
  return {
    type: 'postgres',
    url: databaseUrl(env),
    entities: [...TASKS_ENTITIES, ExpiringRecord],
    migrations: [...TASKS_MIGRATIONS, CreateExpiringRecords1795800001000],
    synchronize: false,
    extra: {
      max: 10,
      // Fail fast instead of hanging when Postgres is gone: a cron run that cannot be recorded does not run.
      connectionTimeoutMillis: 3_000,
      query_timeout: 10_000,
      ...(schema ? { options: `-c search_path=${schema}` } : {}),
    },
  };
}
