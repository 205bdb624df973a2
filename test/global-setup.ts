import { execFileSync } from 'node:child_process';
import { resolve } from 'node:path';
import { TEST_DATABASE_URL, ensureDatabase } from './support/postgres.js';

// End-to-end tests run the built apps, so build them from the current sources once per run.
export default async function setup(): Promise<void> {
  const root = resolve(import.meta.dirname, '..');
  execFileSync('npm', ['run', 'build', '--silent'], { cwd: root, stdio: 'inherit' });
  // The apps connect to Postgres at boot (test/support/processes.ts points them at this database)
  // and a worker with crons needs its tables: migrate it, as `make dev` does the dev database.
  await ensureDatabase(TEST_DATABASE_URL);
  execFileSync(process.execPath, ['dist/apps/migrate/main.js'], {
    cwd: root,
    stdio: 'inherit',
    env: { ...withoutSchema(process.env), DATABASE_URL: TEST_DATABASE_URL },
  });
}

function withoutSchema(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const { DATABASE_SCHEMA: _schema, ...rest } = env;
  return rest;
}
