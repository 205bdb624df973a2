import { Inject, Injectable } from '@nestjs/common';
import type { Queue } from 'bullmq';
import type * as PromClient from 'prom-client';
import { CRON_QUEUE_TOKEN, TASKS_OPTIONS } from '../options/tasks.constants.js';
import { TaskQueues } from '../queues/task-queues.js';
import type { ResolvedTasksOptions } from '../options/tasks-options.interface.js';
import { loadPromClient } from '../peers/optional-peers.js';
import { TasksEvents } from '../events/tasks-events.js';
import { LeanHistogram } from './lean-histogram.js';

/** Queue depth is read from Redis at most this often, however often Prometheus scrapes. */
const DEPTH_SAMPLE_MS = 1_000;

const DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];
const LATENESS_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
/** The states of `tasks_queue_jobs`; waiting includes prioritized jobs. */
const DEPTH_STATES = ['waiting', 'active', 'delayed', 'failed'] as const;

interface Instruments {
  enqueued: PromClient.Counter<'task' | 'queue'>;
  started: PerTaskCount;
  completed: PerTaskCount;
  failed: PerTaskCount;
  retried: PerTaskCount;
  duration: Pick<LeanHistogram, 'observe'>;
  cronRuns: PromClient.Counter<'cron' | 'status'>;
  lateness: Pick<LeanHistogram, 'observe'>;
  lastSuccess: PromClient.Gauge<'cron'>;
  lockExtensionFailures: PromClient.Counter<'cron'>;
  refusedWrites: PromClient.Counter;
  tickEnqueueFailures: PromClient.Counter<'cron'>;
  leaseChanges: PromClient.Counter<'change'>;
  leader: PromClient.Gauge;
  handBacks: PromClient.Counter<'queue'>;
}

/**
 * The library's Prometheus metrics (prom-client), counted from the lifecycle
 * events ({@link TasksEvents}) of this process. Every label value is a task
 * or cron name from the code, a status or a queue name, never a job id or a
 * payload value, so the number of series stays bounded. Off, and listening to
 * nothing, when prom-client is not installed or `metrics: false`.
 *
 * `runWorker` / `runScheduler` serve them on the health port
 * (`GET /metrics`); an api serves `metrics()` from a route of its own, or
 * passes its own registry as `metricsRegistry`.
 */
@Injectable()
export class TasksMetrics {
  private readonly registry?: PromClient.Registry;
  private readonly instruments?: Instruments;
  private depthSampledAt = 0;
  private depthSample?: Promise<void>;
  /** The queues whose depth `tasks_queue_jobs` reports: the task queues sampled, and the cron queue. */
  private readonly depthOf: () => Queue[] = () => [];

  /** @internal Built by Nest's injector. */
  constructor(options: ResolvedTasksOptions, taskQueues: TaskQueues, cronQueue: Queue, events: TasksEvents);
  /** @internal Metrics off: see {@link TasksMetrics.off}. */
  constructor();
  constructor(@Inject(TASKS_OPTIONS) options?: ResolvedTasksOptions, taskQueues?: TaskQueues, @Inject(CRON_QUEUE_TOKEN) cronQueue?: Queue, events?: TasksEvents) {
    // The overloads pass all four or none; with none, metrics are off.
    const prom = options && loadPromClient(options.metrics);
    if (!prom || !taskQueues || !cronQueue || !events) return;
    this.depthOf = () => [...taskQueues.sampled(), cronQueue];
    const registry = (options.metricsRegistry as PromClient.Registry | undefined) ?? new prom.Registry();
    this.registry = registry;
    this.instruments = createInstruments(prom, registry, () => this.sampleQueueDepth());
    subscribe(events, this.instruments);
  }

  /**
   * @internal Metrics off, reading no queue and counting nothing, whatever the
   * options: for a module without Redis (the testing kit), whose queue depths
   * and counts would describe no deployment.
   */
  static off(): TasksMetrics {
    return new TasksMetrics();
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
        this.depthOf().map(async (queue) => {
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

/** What each lifecycle event counts. A cron run is counted as its row says it: by the process that wrote the row. */
function subscribe(events: TasksEvents, m: Instruments): void {
  events.on('task.enqueued', ({ task, queue }) => m.enqueued.inc({ task, queue }));
  events.on('task.started', ({ task }) => m.started.inc(task));
  events.on('task.finished', (event) => {
    (event.status === 'completed' ? m.completed : m.failed).inc(event.task);
    m.duration.observe(event.durationMs / 1_000, event.task, event.status);
  });
  events.on('task.retried', ({ task, durationMs }) => {
    m.retried.inc(task);
    m.duration.observe(durationMs / 1_000, task, 'retried');
  });
  events.on('cron.tick.missed', ({ cron, cause, recorded }) => {
    if (recorded) m.cronRuns.inc({ cron, status: 'MISSED' });
    if (cause === 'enqueue-failed') m.tickEnqueueFailures.inc({ cron });
  });
  events.on('cron.run.skipped', ({ cron, recorded }) => {
    if (recorded) m.cronRuns.inc({ cron, status: 'SKIPPED' });
  });
  events.on('cron.run.claimed', ({ cron, scheduledAt, trigger, attempt, resumed }) => {
    // Lateness is the scheduler's and the queue's: a retry or a resumed run starts late by design.
    if (trigger === 'schedule' && attempt === 1 && !resumed) m.lateness.observe(Math.max(Date.now() - scheduledAt.getTime(), 0) / 1_000, cron);
  });
  events.on('cron.run.finished', ({ cron, status, recorded }) => {
    if (!recorded) return;
    m.cronRuns.inc({ cron, status });
    if (status === 'COMPLETED') m.lastSuccess.set({ cron }, Date.now() / 1_000);
  });
  events.on('cron.run.lost', ({ cron }) => m.cronRuns.inc({ cron, status: 'LOST' }));
  events.on('cron.run.fenced', () => m.refusedWrites.inc());
  events.on('cron.lock.extensionFailed', ({ cron }) => m.lockExtensionFailures.inc({ cron }));
  events.on('scheduler.lease.changed', ({ held }) => {
    m.leaseChanges.inc({ change: held ? 'acquired' : 'lost' });
    m.leader.set(held ? 1 : 0);
  });
  events.on('job.handedBack', ({ queue }) => m.handBacks.inc({ queue }));
}

function createInstruments(prom: NonNullable<ReturnType<typeof loadPromClient>>, registry: PromClient.Registry, sampleDepth: () => Promise<void>): Instruments {
  const registers = [registry];
  // Two TasksModules sharing one registry (an app's own) share the series instead of failing to register twice.
  const existing = <T>(name: string) => registry.getSingleMetric(name) as T | undefined;
  const counter = <L extends string>(name: string, help: string, labelNames: readonly L[]) =>
    existing<PromClient.Counter<L>>(name) ?? new prom.Counter<L>({ name, help, labelNames, registers });
  const perTask = (name: string, help: string) => PerTaskCount.in(prom, registry, name, help);
  const gauge = <L extends string>(name: string, help: string, labelNames: readonly L[], collect?: () => Promise<void>) =>
    existing<PromClient.Gauge<L>>(name) ??
    new prom.Gauge<L>({ name, help, labelNames, registers, ...(collect ? { collect: () => collect() } : {}) });
  gauge('tasks_queue_jobs', 'Jobs in each queue by state (waiting includes prioritized), read from Redis at scrape time.', ['queue', 'state'], sampleDepth);
  return {
    enqueued: counter('tasks_enqueued_total', 'Task jobs enqueued by this process.', ['task', 'queue']),
    started: perTask('tasks_started_total', 'Task attempts started.'),
    completed: perTask('tasks_completed_total', 'Task attempts that completed.'),
    failed: perTask('tasks_failed_total', 'Task attempts that failed for good (no attempt left, or not retriable).'),
    retried: perTask('tasks_retried_total', 'Task attempts that failed and will be retried.'),
    duration: LeanHistogram.in(registry, 'tasks_run_duration_seconds', 'Duration of task attempts, by outcome.', ['task', 'outcome'], DURATION_BUCKETS),
    cronRuns: counter(
      'tasks_cron_runs_total',
      'Cron runs recorded, by status: COMPLETED, FAILED, SKIPPED, MISSED, or LOST (its worker died or froze).',
      ['cron', 'status'],
    ),
    lateness: LeanHistogram.in(registry, 'tasks_cron_tick_lateness_seconds', 'From a cron tick to its handler starting.', ['cron'], LATENESS_BUCKETS),
    lastSuccess: gauge('tasks_cron_last_success_timestamp_seconds', 'When this process last recorded a COMPLETED run of the cron (Unix time).', ['cron']),
    lockExtensionFailures: counter(
      'tasks_cron_lock_extension_failures_total',
      'Failed extensions of a cron run lock (each is retried while the lock is valid).',
      ['cron'],
    ),
    refusedWrites: counter<never>('tasks_cron_refused_writes_total', 'Writes of a cron run refused by its fencing token (the row was marked lost or reclaimed).', []),
    tickEnqueueFailures: counter('tasks_cron_tick_enqueue_failures_total', 'Ticks the scheduler could not enqueue in time (recorded MISSED).', ['cron']),
    leaseChanges: counter('tasks_scheduler_lease_changes_total', 'Times this scheduler took (acquired) or lost the scheduler lease.', ['change']),
    leader: gauge('tasks_scheduler_leader', '1 while this scheduler holds the scheduler lease.', []),
    handBacks: counter('tasks_worker_hand_backs_total', 'Running jobs handed back to their queue at shutdown, past the grace period.', ['queue']),
  };
}

/**
 * A prom-client counter by task whose increments, counted on every task
 * attempt, are kept as plain numbers and added to the counter when a registry
 * reads it (its `collect`): a labelled `inc` validates and hashes its labels
 * on every call. Increments are never lost, only added at the next scrape.
 */
class PerTaskCount {
  private static readonly pendingOf = new WeakMap<PromClient.Counter<'task'>, Map<string, number>>();

  private constructor(
    private readonly pending: Map<string, number> | undefined,
    private readonly counter?: PromClient.Counter<'task'>,
  ) {}

  /** Registers the counter in `registry`, or counts into the one of that name registered there before (two modules sharing a registry). */
  static in(prom: NonNullable<ReturnType<typeof loadPromClient>>, registry: PromClient.Registry, name: string, help: string): PerTaskCount {
    const existing = registry.getSingleMetric(name) as PromClient.Counter<'task'> | undefined;
    if (existing) return new PerTaskCount(PerTaskCount.pendingOf.get(existing), existing);
    const pending = new Map<string, number>();
    const counter = new prom.Counter<'task'>({
      name,
      help,
      labelNames: ['task'],
      registers: [registry],
      collect() {
        for (const [task, count] of pending) this.inc({ task }, count);
        pending.clear();
      },
    });
    PerTaskCount.pendingOf.set(counter, pending);
    return new PerTaskCount(pending);
  }

  inc(task: string): void {
    if (this.pending) this.pending.set(task, (this.pending.get(task) ?? 0) + 1);
    else this.counter?.inc({ task });
  }
}
