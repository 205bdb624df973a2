import 'reflect-metadata';
import pg from 'pg';
import { DataSource } from 'typeorm';
import { DEFAULT_DATABASE_URL, databaseOptions, ensureDatabase } from '@app/jobs';

// Creates the database (and DATABASE_SCHEMA) when missing, then applies pending migrations.
const url = process.env.DATABASE_URL ?? DEFAULT_DATABASE_URL;
const database = decodeURIComponent(new URL(url).pathname.slice(1)) || 'postgres';

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
  await ensureDatabase(url);
  await migrate();
} catch (error) {
  console.error(`Migration failed: ${(error as Error).message}`);
  process.exitCode = 1;
}
