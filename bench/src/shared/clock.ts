/**
 * Wall-clock epoch milliseconds with sub-millisecond resolution. Every process
 * on the machine reads the same clock, so a timestamp taken in the
 * orchestrator and one taken in a worker process can be subtracted.
 */
export function preciseNow(): number {
  return performance.timeOrigin + performance.now();
}
