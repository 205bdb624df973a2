#!/usr/bin/env node
// Creates the database named in DATABASE_URL (or in the first argument) if it
// does not exist yet. Connects to the server's `postgres` maintenance database
// (or `template1`) with the same user, so that user needs CREATEDB.
//
//   node scripts/ensure-database.mjs
//   node scripts/ensure-database.mjs postgres://postgres@127.0.0.1:5432/tasks_test
import {
  DEFAULT_DATABASE_URL,
  HOW_TO_START,
  PG_DATABASE_MISSING,
  databaseName,
  env,
  reason,
  redact,
  withDatabase,
  withPgClient,
} from './lib/services.mjs';

const PG_DUPLICATE_DATABASE = '42P04';

const url = process.argv[2] || env('DATABASE_URL', DEFAULT_DATABASE_URL);

async function main() {
  const name = databaseName(url);
  let lastError;
  for (const maintenance of ['postgres', 'template1']) {
    try {
      return await withPgClient(withDatabase(url, maintenance), async (client) => {
        const found = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
        if (found.rowCount > 0) return `Database "${name}" exists.`;
        try {
          await client.query(`CREATE DATABASE ${client.escapeIdentifier(name)}`);
          return `Database "${name}" created.`;
        } catch (error) {
          // Another process created it between our check and our CREATE.
          if (error?.code === PG_DUPLICATE_DATABASE) return `Database "${name}" exists.`;
          throw error;
        }
      });
    } catch (error) {
      lastError = error;
      if (error?.code !== PG_DATABASE_MISSING) break; // only a missing maintenance db is worth another try
    }
  }
  throw lastError;
}

try {
  console.log(`  ${await main()}`);
} catch (error) {
  console.error(`\n✗ Could not create the database of ${redact(url)}: ${reason(error)}`);
  if (/ECONNREFUSED|ETIMEDOUT|ENOTFOUND|EAI_AGAIN|no answer/.test(reason(error))) {
    for (const line of HOW_TO_START.postgres) console.error(`  ${line}`);
  } else if (error?.code === '42501') {
    console.error('  The user in DATABASE_URL may not create databases: create it by hand (createdb NAME) or grant CREATEDB.');
  }
  process.exit(1);
}
