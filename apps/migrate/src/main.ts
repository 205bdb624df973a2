import 'reflect-metadata';
import pg from 'pg';
import { DataSource } from 'typeorm';
import { TasksError } from 'nestjs-tasks';
import { redactSecrets } from 'nestjs-tasks/extras';
import { databaseOptions, ensureDatabase } from '@app/jobs';

// Creates the database (and DATABASE_SCHEMA) when missing, then applies pending migrations.
async function migrate(): Promise<void> {
  // Checks DATABASE_URL first: one that does not parse is named, never quoted.
  const options = databaseOptions();
  await ensureDatabase(options.url);
  const database = decodeURIComponent(new URL(options.url).pathname.slice(1)) || 'postgres';
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
  await migrate();
} catch (error) {
  // Only the message; a driver's, scrubbed, as it may quote the connection settings (the library's name DATABASE_URL without quoting it).
  const message = error instanceof TasksError ? error.message : redactSecrets((error as Error).message, process.env.DATABASE_URL);
  console.error(`Migration failed: ${message}`);
  process.exitCode = 1;
}
