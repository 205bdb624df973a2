import pg from 'pg';

/** The database the suite uses: DATABASE_URL if set (make test sets it), else `tasks_test` on the local server. */
export const TEST_DATABASE_URL = process.env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/tasks_test';

const PG_DUPLICATE_DATABASE = '42P04';
const PG_UNIQUE_VIOLATION = '23505';

/**
 * Creates the database of `url` when it does not exist (through the server's
 * `postgres` database), so the suite also runs on a fresh server without `make test`.
 * Safe when several test processes race to create it.
 */
export async function ensureDatabase(url: string = TEST_DATABASE_URL): Promise<void> {
  const parsed = new URL(url);
  const name = decodeURIComponent(parsed.pathname.slice(1));
  if (name === '' || name === 'postgres') return;
  parsed.pathname = '/postgres';
  const client = new pg.Client({ connectionString: parsed.toString(), connectionTimeoutMillis: 3_000 });
  await client.connect();
  try {
    const found = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (found.rowCount === 0) {
      try {
        await client.query(`CREATE DATABASE ${client.escapeIdentifier(name)}`);
      } catch (error) {
        const code = (error as { code?: string }).code;
        if (code !== PG_DUPLICATE_DATABASE && code !== PG_UNIQUE_VIOLATION) throw error;
      }
    }
  } finally {
    await client.end();
  }
}
