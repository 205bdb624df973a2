import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { DataSource } from 'typeorm';
import { databaseOptions } from '@app/jobs';
import { TEST_DATABASE_URL, ensureDatabase } from './postgres.js';

export { TEST_DATABASE_URL, ensureDatabase } from './postgres.js';

/** A Postgres schema of its own for one test file, migrated, with a DataSource on it for assertions. */
export interface TestSchema {
  readonly name: string;
  /** DATABASE_URL and DATABASE_SCHEMA for the apps under test (pass to startApp). */
  readonly env: { DATABASE_URL: string; DATABASE_SCHEMA: string };
  /** Connected to the schema (search_path), with the apps' entities. */
  readonly dataSource: DataSource;
  /** Closes the DataSource and drops the schema with everything in it. */
  drop(): Promise<void>;
}

/**
 * Creates `test_<label>_<random>` in the test database (created first if
 * missing) and runs every migration into it, as `npm run db:migrate` does
 * for an app's database.
 */
export async function createTestSchema(label: string): Promise<TestSchema> {
  await ensureDatabase(TEST_DATABASE_URL);
  const name = `test_${label.toLowerCase().replace(/[^a-z0-9_]/g, '_')}_${randomBytes(4).toString('hex')}`;
  await withClient((client) => client.query(`CREATE SCHEMA ${client.escapeIdentifier(name)}`));
  const env = { DATABASE_URL: TEST_DATABASE_URL, DATABASE_SCHEMA: name };
  const dataSource = new DataSource(databaseOptions({ ...process.env, ...env }));
  try {
    await dataSource.initialize();
    await dataSource.runMigrations({ transaction: 'each' });
  } catch (error) {
    if (dataSource.isInitialized) await dataSource.destroy();
    await dropSchema(name);
    throw error;
  }
  return {
    name,
    env,
    dataSource,
    drop: async () => {
      if (dataSource.isInitialized) await dataSource.destroy();
      await dropSchema(name);
    },
  };
}

/** Drops a schema and everything in it; nothing happens if it does not exist. */
export async function dropSchema(name: string): Promise<void> {
  await withClient((client) => client.query(`DROP SCHEMA IF EXISTS ${client.escapeIdentifier(name)} CASCADE`));
}

async function withClient<T>(use: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: TEST_DATABASE_URL, connectionTimeoutMillis: 3_000 });
  await client.connect();
  try {
    return await use(client);
  } finally {
    await client.end();
  }
}
