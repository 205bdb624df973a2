/** A run's abort reason: its lock expired unextended (Redis unreachable or the key gone). */
export class CronLockLostError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CronLockLostError';
  }
}

/** A run's abort reason: its row was marked lost or reclaimed, so this attempt no longer owns it. */
export class CronRunLostError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CronRunLostError';
  }
}

/** What aborted a run, for its row: the reason's name and message. */
export function describeAbort(reason: unknown): string {
  if (reason instanceof Error) return `Aborted by ${reason.name}: ${reason.message}`;
  return `Aborted: ${String(reason)}`;
}
