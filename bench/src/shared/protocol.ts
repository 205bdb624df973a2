/** What the bench children are, by `BENCH_ROLE`. */
export type LibRole = 'lib-worker' | 'lib-cron-worker' | 'lib-scheduler';
export type PlainRole = 'plain-worker' | 'plain-cron' | 'plain-idle';
export type StackRole = 'stack-idle';
export type NestBullmqRole = 'nest-bullmq-worker';

/** Task and cron names shared by the library and the plain BullMQ children. */
/**
 * The task queues of the several-queues side of the processing scenario: the
 * default queue and these, each with a no-op task of its own (`NAMES.noop` is on
 * the default one).
 */
export const EXTRA_QUEUES = ['bench-q2', 'bench-q3', 'bench-q4', 'bench-q5'] as const;
export const queuedNoopName = (queue: string) => `bench.noop.${queue}`;

export const NAMES = {
  noop: 'bench.noop',
  stamp: 'bench.stamp',
  echo: 'bench.echo',
  cron: 'bench.everySecond',
} as const;

/** Enqueue → handler start of one job of the steady-rate latency scenario. */
export type LatencySample = [sentAt: number, startedAt: number];

/** One run of the every-second cron job, as seen inside the worker process. */
export interface CronSample {
  /** The nominal tick, epoch ms. */
  tick: number;
  /** When the handler started and returned (epoch ms, sub-ms resolution). */
  handlerStart: number;
  handlerEnd: number;
  /** Library only: when the outermost interceptor (around lock and tracking) was entered and completed. */
  chainStart?: number;
  chainEnd?: number;
  /**
   * Plain baseline only: the same lock and run record done by hand with the
   * raw drivers (Redlock acquire + INSERT RUNNING, then UPDATE COMPLETED +
   * release), ms, timed after the handler start was taken.
   */
  rawBefore?: number;
  rawAfter?: number;
}

export interface ChildSamples {
  latency: LatencySample[];
  cron: CronSample[];
  /** No-op jobs whose handler has run, so far. */
  noops: number;
}

export type ToChild = { type: 'report' } | { type: 'stop' };
export type FromChild =
  | { type: 'ready'; pid: number }
  | { type: 'report'; samples: ChildSamples }
  | { type: 'stopped' };
