import pg from 'pg';
import { ServiceUnreachableError } from 'nestjs-tasks';
import { redactSecrets, redactUrl } from 'nestjs-tasks/extras';

const PG_INVALID_PASSWORD = '28P01';
const PG_INVALID_AUTHORIZATION = '28000';
const PG_DATABASE_MISSING = '3D000';

/**
 * Connects once, within `timeoutMs`, and fails with one message naming
 * Postgres, the redacted DATABASE_URL, the fault and the fix: unreachable,
 * login refused, database missing. The apps call it before TypeORM connects,
 * so a boot fails in seconds with that message instead of retrying with raw stacks.
 */
export async function assertPostgresReady(url: string, timeoutMs = 3_000): Promise<void> {
  const shown = redactUrl(url);
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: timeoutMs });
  // A server that drops the connection after accepting it reports it here as well as in connect().
  client.on('error', () => undefined);
  try {
    await client.connect();
  } catch (error) {
    const { code } = error as { code?: string };
    // A driver's message may quote what it was given.
    const message = redactSecrets((error as Error).message ?? '', url);
    if (code === PG_INVALID_PASSWORD || code === PG_INVALID_AUTHORIZATION) {
      throw new ServiceUnreachableError(`Postgres at ${shown} refused the login (${message}). Check the user and password in DATABASE_URL.`);
    }
    if (code === PG_DATABASE_MISSING) {
      throw new ServiceUnreachableError(
        `Postgres at ${shown} has no such database (${message}). Create it and its tables with \`npm run db:migrate\`, or point DATABASE_URL at the right database.`,
      );
    }
    throw new ServiceUnreachableError(
      `Cannot reach Postgres at ${shown} (${message || code || 'no answer'}). Start it (for example \`docker compose up -d postgres\`) or point DATABASE_URL at a running server.`,
    );
  } finally {
    await client.end().catch(() => undefined);
  }
}
