export { ensureDatabase } from '@app/jobs/database/ensure-database.js';

/** The database the suite uses: DATABASE_URL if set (make test sets it), else `tasks_test` on the local server. */
export const TEST_DATABASE_URL = process.env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/tasks_test';
