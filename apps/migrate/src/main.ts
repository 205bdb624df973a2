import 'reflect-metadata';
import pg from 'pg';
import { DataSource } from 'typeorm';
import { DEFAULT_DATABASE_URL, databaseOptions } from '@app/jobs';

// Creates the database (and DATABASE_SCHEMA) when missing, then applies pending migrations.
const url = new URL(process.env.DATABASE_URL ?? DEFAULT_DATABASE_URL);
const database = decodeURIComponent(url.pathname.slice(1)) || 'postgres';

async function ensureDatabase(): Promise<void> {
  const admin = new URL(url);
  admin.pathname = '/postgres';
  const client = new pg.Client({ connectionString: admin.toString(), connectionTimeoutMillis: 3_000 });
  try {
    await client.connect();
  } catch (error) {
    throw new Error(
      `Cannot reach Postgres at ${url.host} (${(error as Error).message}). ` +
        'Start it (for example `docker compose up -d postgres`) or point DATABASE_URL at a running server.',
    );
  }
  try {
    const exists = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
    if (exists.rowCount === 0) {
      await client.query(`CREATE DATABASE ${pg.escapeIdentifier(database)}`);
      console.log(`Created database ${database}`);
    }
  } finally {
    await client.end();
  }
}

async function migrate(): Promise<void> {
  const options = databaseOptions();
  const dataSource = new DataSource(options);
  await dataSource.initialize();
  try {
    const schema = process.env.DATABASE_SCHEMA;
    if (schema) await dataSource.query(`CREATE SCHEMA IF NOT EXISTS ${pg.escapeIdentifier(schema)}`);
    const applied = await dataSource.runMigrations({ transaction: 'each' });
    console.log(
      applied.length === 0
        ? `Database ${database} is up to date`
        : `Applied ${applied.length} migration(s): ${applied.map((m) => m.name).join(', ')}`,
    );
  } finally {
    await dataSource.destroy();
  }
}

try {
  await ensureDatabase();
  await migrate();
} catch (error) {
  console.error(`Migration failed: ${(error as Error).message}`);
  process.exitCode = 1;
}
