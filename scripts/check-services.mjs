#!/usr/bin/env node
// Checks that Redis (REDIS_URL) and PostgreSQL (DATABASE_URL) answer, within a
// few seconds, and says which one is down and how to start it. Exit code 1 if
// either is unreachable. Used by `make dev` and `make test` before anything slow.
//
//   node scripts/check-services.mjs            # both
//   node scripts/check-services.mjs redis      # only Redis
import {
  DEFAULT_DATABASE_URL,
  DEFAULT_REDIS_URL,
  HOW_TO_START,
  PG_AUTH_FAILED,
  PG_DATABASE_MISSING,
  env,
  location,
  pingRedis,
  reason,
  withPgClient,
} from './lib/services.mjs';

const TIMEOUT_MS = Number(env('SERVICE_CHECK_TIMEOUT_MS', '3000'));

async function checkRedis() {
  const url = env('REDIS_URL', DEFAULT_REDIS_URL);
  try {
    await pingRedis(url, TIMEOUT_MS);
    return { ok: true, line: `Redis      ok  ${location(url)}` };
  } catch (error) {
    return {
      ok: false,
      line: `Redis is not reachable at ${location(url)} (${reason(error)}).`,
      help: HOW_TO_START.redis,
    };
  }
}

async function checkPostgres() {
  const url = env('DATABASE_URL', DEFAULT_DATABASE_URL);
  try {
    await withPgClient(url, (client) => client.query('SELECT 1'), TIMEOUT_MS);
    return { ok: true, line: `PostgreSQL ok  ${location(url)}` };
  } catch (error) {
    // The server answered: it is up, only the database is missing (created next).
    if (error?.code === PG_DATABASE_MISSING) {
      return { ok: true, line: `PostgreSQL ok  ${location(url)} (database not created yet)` };
    }
    if (PG_AUTH_FAILED.has(error?.code)) {
      return {
        ok: false,
        line: `PostgreSQL at ${location(url)} is running but refused the login (${reason(error)}).`,
        help: ['Fix the user or password in DATABASE_URL (postgres://USER:PASSWORD@HOST:PORT/DATABASE).'],
      };
    }
    return {
      ok: false,
      line: `PostgreSQL is not reachable at ${location(url)} (${reason(error)}).`,
      help: HOW_TO_START.postgres,
    };
  }
}

const wanted = process.argv.slice(2);
const checks = { redis: checkRedis, postgres: checkPostgres };
for (const name of wanted) {
  if (!(name in checks)) {
    console.error(`Unknown service "${name}"; expected any of: ${Object.keys(checks).join(', ')}`);
    process.exit(2);
  }
}
const names = wanted.length > 0 ? wanted : Object.keys(checks);
const results = await Promise.all(names.map((name) => checks[name]()));

const down = results.filter((r) => !r.ok);
for (const r of results.filter((r) => r.ok)) console.log(`  ${r.line}`);
for (const r of down) {
  console.error(`\n✗ ${r.line}`);
  for (const line of r.help) console.error(`  ${line}`);
}
if (down.length > 1 && down.every((r) => r.help === HOW_TO_START.redis || r.help === HOW_TO_START.postgres)) {
  console.error('\nBoth are down; with Docker, one command starts both:  docker compose up -d redis postgres');
}
process.exit(down.length > 0 ? 1 : 0);
