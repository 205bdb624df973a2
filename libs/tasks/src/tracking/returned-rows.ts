/**
 * The rows of an `UPDATE`/`DELETE ... RETURNING` through TypeORM's pg driver,
 * which returns `[rows, count]` for them (and plain rows for SELECT/INSERT).
 */
export function returnedRows<T = unknown>(result: unknown[]): T[] {
  if (result.length === 2 && Array.isArray(result[0]) && typeof result[1] === 'number') return result[0] as T[];
  return result as T[];
}
