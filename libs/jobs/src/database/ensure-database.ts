import pg from 'pg';

const PG_DUPLICATE_DATABASE = '42P04';
const PG_UNIQUE_VIOLATION = '23505';

/**
 * Creates the database of `url` when it does not exist, through the server's
 * `postgres` database. Safe when several processes race to create it. Fails
 * with a message saying how to start Postgres when the server cannot be reached.
 * `url` is one databaseOptions() checked: this module stays free of the
 * library, for the test suite's global setup.
 */
export async function ensureDatabase(url: string): Promise<void> {
  const parsed = new URL(url);
  const name = decodeURIComponent(parsed.pathname.slice(1));
  if (name === '' || name === 'postgres') return;
  const admin = new URL(url);
  admin.pathname = '/postgres';
  const client = new pg.Client({ connectionString: admin.toString(), connectionTimeoutMillis: 3_000 });
  try {
    await client.connect();
  } catch (error) {
    throw new Error(
      `Cannot reach Postgres at ${parsed.host} (${(error as Error).message}). ` +
        'Start it (for example `docker compose up -d postgres`) or point DATABASE_URL at a running server.',
      { cause: error },
    );
  }
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
