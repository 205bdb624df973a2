import type { DataSource, EntityManager } from 'typeorm';
import type { IsolationLevel } from 'typeorm/driver/types/IsolationLevel.js';

/** Options of `runInTransaction()`. */
export interface TransactionOptions {
  /** Default: the database's (READ COMMITTED on Postgres). */
  isolationLevel?: IsolationLevel;
}

/**
 * Runs `work` in one transaction on a connection of its own from the pool:
 * committed when `work` resolves, rolled back when it throws (the error is
 * rethrown). Use the `manager` it is given for every query that must be part
 * of the transaction (`manager.getRepository(Entity)`, `manager.query()`).
 *
 * Each call is an independent session (the seed's `session_factory()`), so
 * several can run at once; settle them all before the task returns:
 *
 * ```ts
 * const [a, b] = await Promise.allSettled([
 *   runInTransaction(this.dataSource, (manager) => importOrders(manager)),
 *   runInTransaction(this.dataSource, (manager) => importInvoices(manager)),
 * ]);
 * ```
 *
 * Every concurrent session holds one pooled connection until it ends: keep
 * (sessions per task) x (worker concurrency) within the pool size.
 */
export function runInTransaction<T>(
  dataSource: DataSource,
  work: (manager: EntityManager) => Promise<T>,
  options: TransactionOptions = {},
): Promise<T> {
  return options.isolationLevel === undefined
    ? dataSource.transaction(work)
    : dataSource.transaction(options.isolationLevel, work);
}
