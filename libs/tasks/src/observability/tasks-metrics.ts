import { Inject, Injectable } from '@nestjs/common';
import type { Queue } from 'bullmq';
import type * as PromClient from 'prom-client';
import { CRON_QUEUE_TOKEN, TASKS_OPTIONS } from '../options/tasks.constants.js';
import { TaskQueues } from '../queues/task-queues.js';
import type { ResolvedTasksOptions } from '../options/tasks-options.interface.js';
import { loadPromClient } from '../peers/optional-peers.js';
import { LeanHistogram, type HistogramSeries } from './lean-histogram.js';
import { LeanCounter, type CounterSeries } from './lean-counter.js';

/** What a cron run is counted as in `tasks_cron_runs_total`: the row's status, or LOST for a run whose worker went silent. */
export type CronRunMetricStatus = 'COMPLETED' | 'FAILED' | 'SKIPPED' | 'MISSED' | 'LOST';

/** How a task attempt ended, for `tasks_run_duration_seconds`. */
type AttemptOutcome = 'completed' | 'failed' | 'retried';

/** @internal What the worker counts of one task's attempts. */
export interface TaskMeters {
  started(): void;
  /** A finished attempt: completed, failed for good, or failed with a retry to come. */
  finished(outcome: AttemptOutcome, seconds: number): void;
}

const NO_TASK_METERS: TaskMeters = { started: () => undefined, finished: () => undefined };

/** The series of one task, resolved once: an attempt costs a few additions. */
class SeriesTaskMeters implements TaskMeters {
  private readonly startedSeries: CounterSeries<'task'>;
  private readonly ended: Record<AttemptOutcome, { count: CounterSeries<'task'>; duration: HistogramSeries<'task' | 'outcome'> }>;

  constructor(instruments: Instruments, task: string) {
    this.startedSeries = instruments.started.labels(task);
    const ended = (outcome: AttemptOutcome) => ({ count: instruments[outcome].labels(task), duration: instruments.duration.labels(task, outcome) });
    this.ended = { completed: ended('completed'), failed: ended('failed'), retried: ended('retried') };
  }

  started(): void {
    this.startedSeries.inc();
  }

  finished(outcome: AttemptOutcome, seconds: number): void {
    const ended = this.ended[outcome];
    ended.count.inc();
    ended.duration.observe(seconds);
  }
}

/** Queue depth is read from Redis at most this often, however often Prometheus scrapes. */
const DEPTH_SAMPLE_MS = 1_000;

const DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];
const LATENESS_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
/** The states of `tasks_queue_jobs`; waiting includes prioritized jobs. */
const DEPTH_STATES = ['waiting', 'active', 'delayed', 'failed'] as const;

interface Instruments {
  enqueued: LeanCounter<'task' | 'queue'>;
  started: LeanCounter<'task'>;
  completed: LeanCounter<'task'>;
  failed: LeanCounter<'task'>;
  retried: LeanCounter<'task'>;
  duration: LeanHistogram<'task' | 'outcome'>;
  cronRuns: LeanCounter<'cron' | 'status'>;
  lateness: LeanHistogram<'cron'>;
  lastSuccess: PromClient.Gauge<'cron'>;
  lockExtensionFailures: LeanCounter<'cron'>;
  refusedWrites: LeanCounter<never>;
  tickEnqueueFailures: LeanCounter<'cron'>;
  leaseChanges: LeanCounter<'change'>;
  leader: PromClient.Gauge;
  handBacks: LeanCounter<'queue'>;
}

/**
 * The library's Prometheus metrics (prom-client). Every label value is a
 * task or cron name from the code, a status or a queue name, never a job id
 * or a payload value, so the number of series stays bounded. Off, and every
 * method a no-op, when prom-client is not installed or `metrics: false`.
 *
 * `runWorker` / `runScheduler` serve them on the health port
 * (`GET /metrics`); an api serves `metrics()` from a route of its own, or
 * passes its own registry as `metricsRegistry`.
 */
@Injectable()
export class TasksMetrics {
  private readonly registry?: PromClient.Registry;
  private readonly instruments?: Instruments;
  // Labelled children, looked up once per name: `labels()` hashes its arguments on every call.
  private readonly children = new Map<string, object>();
  private readonly taskMeters = new Map<string, TaskMeters>();
  private depthSampledAt = 0;
  private depthSample?: Promise<void>;

  /** @internal Built by Nest's injector. */
  constructor(
    @Inject(TASKS_OPTIONS) options: ResolvedTasksOptions,
    private readonly taskQueues: TaskQueues,
    @Inject(CRON_QUEUE_TOKEN) private readonly cronQueue: Queue,
  ) {
    const prom = loadPromClient(options.metrics);
    if (!prom) return;
    const registry = (options.metricsRegistry as PromClient.Registry | undefined) ?? new prom.Registry();
    this.registry = registry;
    this.instruments = createInstruments(prom, registry, () => this.sampleQueueDepth());
  }

  /** Whether metrics are collected (prom-client is installed and `metrics` is not false). */
  get enabled(): boolean {
    return this.instruments !== undefined;
  }

  /** The Content-Type of `metrics()`'s text (Prometheus text format 0.0.4). */
  get contentType(): string {
    return this.registry?.contentType ?? 'text/plain; version=0.0.4; charset=utf-8';
  }

  /** The registry's metrics in the Prometheus text format; empty when metrics are off. */
  async metrics(): Promise<string> {
    return this.registry ? this.registry.metrics() : '';
  }

  /** @internal */
  taskEnqueued(task: string, queue: string, count = 1): void {
    if (this.instruments) this.child(`e\0${task}\0${queue}`, () => this.instruments!.enqueued.labels(task, queue)).inc(count);
  }

  /** @internal The meters of one task's attempts, built once per task: the worker counts every attempt. */
  task(task: string): TaskMeters {
    const instruments = this.instruments;
    if (!instruments) return NO_TASK_METERS;
    let meters = this.taskMeters.get(task);
    if (!meters) {
      meters = new SeriesTaskMeters(instruments, task);
      this.taskMeters.set(task, meters);
    }
    return meters;
  }

  /** @internal Rows recorded for cron `cron` with `status` (COMPLETED also sets its last-success time). */
  cronRuns(cron: string, status: CronRunMetricStatus, count = 1): void {
    const instruments = this.instruments;
    if (!instruments || count <= 0) return;
    this.child(`c\0${cron}\0${status}`, () => instruments.cronRuns.labels(cron, status)).inc(count);
    if (status === 'COMPLETED') this.child(`l\0${cron}`, () => instruments.lastSuccess.labels(cron)).set(Date.now() / 1_000);
  }

  /** @internal From the tick to the handler's start. */
  cronTickLateness(cron: string, seconds: number): void {
    const instruments = this.instruments;
    if (instruments) this.child(`t\0${cron}`, () => instruments.lateness.labels(cron)).observe(Math.max(seconds, 0));
  }

  /** @internal */
  lockExtensionFailed(cron: string): void {
    const instruments = this.instruments;
    if (instruments) this.child(`x\0${cron}`, () => instruments.lockExtensionFailures.labels(cron)).inc();
  }

  /** @internal A fenced write the database refused (the row was marked lost or reclaimed). */
  refusedWrite(): void {
    this.instruments?.refusedWrites.labels().inc();
  }

  /** @internal A tick the scheduler could not enqueue in time (recorded MISSED). */
  tickEnqueueFailed(cron: string): void {
    const instruments = this.instruments;
    if (instruments) this.child(`f\0${cron}`, () => instruments.tickEnqueueFailures.labels(cron)).inc();
  }

  /** @internal This scheduler took or lost the lease. */
  leaseChanged(held: boolean): void {
    const instruments = this.instruments;
    if (!instruments) return;
    instruments.leaseChanges.labels(held ? 'acquired' : 'lost').inc();
    instruments.leader.set(held ? 1 : 0);
  }

  /** @internal A running job handed back to its queue at shutdown. */
  handedBack(queue: string): void {
    const instruments = this.instruments;
    if (instruments) this.child(`h\0${queue}`, () => instruments.handBacks.labels(queue)).inc();
  }

  private child<T extends object>(key: string, create: () => T): T {
    let child = this.children.get(key) as T | undefined;
    if (!child) {
      child = create();
      this.children.set(key, child);
    }
    return child;
  }

  // One round trip per queue, at most once a second: several scrapers, or a
  // registry merged into another, do not multiply the load on Redis.
  private sampleQueueDepth(): Promise<void> {
    const now = Date.now();
    if (this.depthSample && now - this.depthSampledAt < DEPTH_SAMPLE_MS) return this.depthSample;
    this.depthSampledAt = now;
    this.depthSample = (async () => {
      const gauge = this.registry?.getSingleMetric('tasks_queue_jobs') as PromClient.Gauge<'queue' | 'state'> | undefined;
      if (!gauge) return;
      await Promise.all(
        [...this.taskQueues.sampled(), this.cronQueue].map(async (queue) => {
          try {
            const counts = await queue.getJobCounts('wait', 'prioritized', 'active', 'delayed', 'failed');
            const byState = { waiting: (counts.wait ?? 0) + (counts.prioritized ?? 0), active: counts.active, delayed: counts.delayed, failed: counts.failed };
            for (const state of DEPTH_STATES) gauge.labels(queue.name, state).set(byState[state] ?? 0);
          } catch {
            // Redis is away: the series go stale rather than fail the whole scrape (readiness reports Redis).
            for (const state of DEPTH_STATES) gauge.remove(queue.name, state);
          }
        }),
      );
    })();
    return this.depthSample;
  }
}

function createInstruments(prom: NonNullable<ReturnType<typeof loadPromClient>>, registry: PromClient.Registry, sampleDepth: () => Promise<void>): Instruments {
  const registers = [registry];
  // Two TasksModules sharing one registry (an app's own) share the series instead of failing to register twice.
  const existing = <T>(name: string) => registry.getSingleMetric(name) as T | undefined;
  const counter = <L extends string>(name: string, help: string, labelNames: readonly L[]) => {
    const found = existing<LeanCounter<L>>(name);
    if (found) return found;
    const created = new LeanCounter<L>(name, help, labelNames);
    registry.registerMetric(created as unknown as PromClient.Metric);
    return created;
  };
  const histogram = <L extends string>(name: string, help: string, labelNames: readonly L[], buckets: number[]) => {
    const found = existing<LeanHistogram<L>>(name);
    if (found) return found;
    const created = new LeanHistogram<L>(name, help, labelNames, buckets);
    registry.registerMetric(created as unknown as PromClient.Metric);
    return created;
  };
  const gauge = <L extends string>(name: string, help: string, labelNames: readonly L[], collect?: () => Promise<void>) =>
    existing<PromClient.Gauge<L>>(name) ??
    new prom.Gauge<L>({ name, help, labelNames, registers, ...(collect ? { collect: () => collect() } : {}) });
  gauge('tasks_queue_jobs', 'Jobs in each queue by state (waiting includes prioritized), read from Redis at scrape time.', ['queue', 'state'], sampleDepth);
  return {
    enqueued: counter('tasks_enqueued_total', 'Task jobs enqueued by this process.', ['task', 'queue']),
    started: counter('tasks_started_total', 'Task attempts started.', ['task']),
    completed: counter('tasks_completed_total', 'Task attempts that completed.', ['task']),
    failed: counter('tasks_failed_total', 'Task attempts that failed for good (no attempt left, or not retriable).', ['task']),
    retried: counter('tasks_retried_total', 'Task attempts that failed and will be retried.', ['task']),
    duration: histogram('tasks_run_duration_seconds', 'Duration of task attempts, by outcome.', ['task', 'outcome'], DURATION_BUCKETS),
    cronRuns: counter(
      'tasks_cron_runs_total',
      'Cron runs recorded, by status: COMPLETED, FAILED, SKIPPED, MISSED, or LOST (its worker died or froze).',
      ['cron', 'status'],
    ),
    lateness: histogram('tasks_cron_tick_lateness_seconds', 'From a cron tick to its handler starting.', ['cron'], LATENESS_BUCKETS),
    lastSuccess: gauge('tasks_cron_last_success_timestamp_seconds', 'When this process last recorded a COMPLETED run of the cron (Unix time).', ['cron']),
    lockExtensionFailures: counter(
      'tasks_cron_lock_extension_failures_total',
      'Failed extensions of a cron run lock (each is retried while the lock is valid).',
      ['cron'],
    ),
    refusedWrites: counter('tasks_cron_refused_writes_total', 'Writes of a cron run refused by its fencing token (the row was marked lost or reclaimed).', []),
    tickEnqueueFailures: counter('tasks_cron_tick_enqueue_failures_total', 'Ticks the scheduler could not enqueue in time (recorded MISSED).', ['cron']),
    leaseChanges: counter('tasks_scheduler_lease_changes_total', 'Times this scheduler took (acquired) or lost the scheduler lease.', ['change']),
    leader: gauge('tasks_scheduler_leader', '1 while this scheduler holds the scheduler lease.', []),
    handBacks: counter('tasks_worker_hand_backs_total', 'Running jobs handed back to their queue at shutdown, past the grace period.', ['queue']),
  };
}
