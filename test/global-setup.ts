import { execFileSync } from 'node:child_process';
import { resolve } from 'node:path';
import { TEST_DATABASE_URL, ensureDatabase } from './support/postgres.js';

// End-to-end tests run the built apps, so build them from the current sources once per run.
export default async function setup(): Promise<void> {
  const root = resolve(import.meta.dirname, '..');
  execFileSync('npm', ['run', 'build', '--silent'], { cwd: root, stdio: 'inherit' });
  // The apps connect to Postgres at boot (test/support/processes.ts points them at this database).
  await ensureDatabase(TEST_DATABASE_URL);
}
