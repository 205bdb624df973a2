// Shared by the scripts under scripts/: where Redis and Postgres are, and how to
// tell a person which one is down and how to start it. Plain Node (ESM), no build.
import pg from 'pg';
import { Redis } from 'ioredis';

export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';
export const DEFAULT_DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/tasks';

/** An env var, treating an empty value as unset. */
export function env(name, fallback) {
  const value = process.env[name];
  return value === undefined || value === '' ? fallback : value;
}

/**
 * Where a service is, for messages: scheme, user, host, port and path, never
 * the password or the query (where passwords go), and nothing of a value that
 * does not parse (its password cannot be told apart). A tiny stand-in for
 * nestjs-tasks' redactUrl, which is not built yet when these scripts run.
 */
export function location(url) {
  try {
    const parsed = new URL(url);
    const user = parsed.username ? `${parsed.username}@` : '';
    // A raw '/', '?' or '#' in a password moves '@host' after the host the parser found.
    if (!`${parsed.pathname}${parsed.search}${parsed.hash}`.includes('@')) return `${parsed.protocol}//${user}${parsed.host}${parsed.pathname}`;
  } catch {
    // Not a URL: shown as nothing below.
  }
  return 'an invalid URL (not shown: it may hold a password; percent-encode its special characters)';
}

/** Rejects after `ms` with `message`, so nothing here can hang past its budget. */
export function deadline(promise, ms, message) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** PINGs Redis once, without ioredis's endless reconnects. Resolves or throws. */
export async function pingRedis(url, timeoutMs = 3_000) {
  const client = new Redis(url, {
    lazyConnect: true,
    connectTimeout: timeoutMs,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: () => null,
  });
  // ioredis rejects connect() with a bare "Connection is closed."; the cause comes as an event.
  let cause;
  client.on('error', (error) => {
    cause ??= error;
  });
  try {
    await deadline(
      (async () => {
        await client.connect();
        await client.ping();
      })(),
      timeoutMs + 500,
      `no answer within ${timeoutMs} ms`,
    );
  } catch (error) {
    throw cause && /Connection is closed/.test(error.message) ? cause : error;
  } finally {
    client.disconnect();
  }
}

/** Runs `fn(client)` on a fresh connection to `url`, closed afterwards. */
export async function withPgClient(url, fn, timeoutMs = 3_000) {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: timeoutMs });
  client.on('error', () => undefined); // a dropped connection rejects the pending query instead
  try {
    await deadline(client.connect(), timeoutMs + 500, `no answer within ${timeoutMs} ms`);
    return await fn(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Postgres error codes that prove the server is up and answering. */
export const PG_DATABASE_MISSING = '3D000';
export const PG_AUTH_FAILED = new Set(['28P01', '28000']);

export const HOW_TO_START = {
  redis: [
    'Start it with Docker (from the repository root):  docker compose up -d redis',
    'or locally:  redis-server --daemonize yes   (Debian/Ubuntu: sudo systemctl start redis-server; macOS: brew services start redis)',
    'or set REDIS_URL to a Redis that is running.',
  ],
  postgres: [
    'Start it with Docker (from the repository root):  docker compose up -d postgres',
    'or locally:  sudo systemctl start postgresql   (Debian without systemd: pg_ctlcluster $(ls /etc/postgresql) main start; macOS: brew services start postgresql@16)',
    'or set DATABASE_URL to a PostgreSQL that is running.',
  ],
};

/** A short reason from a connection error (AggregateError from dual-stack connects has no message). */
export function reason(error) {
  if (error?.errors?.length) return error.errors.map((e) => e.message || e.code).join('; ');
  return error?.message || error?.code || String(error);
}
