import { describe, expect, it } from 'vitest';
import { Registry } from 'prom-client';
import type { Queue } from 'bullmq';
import { TasksMetrics } from './tasks-metrics.js';
import { TasksEvents } from '../events/tasks-events.js';
import type { TaskQueues } from '../queues/task-queues.js';
import type { ResolvedTasksOptions } from '../options/tasks-options.interface.js';
import type { TasksEventMap } from '../events/lifecycle-events.js';

// Two modules on one registry, as an app passing its own metricsRegistry to two TasksModules would.
function metricsOn(registry: Registry): { metrics: TasksMetrics; events: TasksEvents } {
  const events = new TasksEvents();
  const options = { metrics: true, metricsRegistry: registry } as unknown as ResolvedTasksOptions;
  const queues = { sampled: () => [] } as unknown as TaskQueues;
  const cronQueue = { name: 'cron', getJobCounts: () => Promise.resolve({}) } as unknown as Queue;
  return { metrics: new TasksMetrics(options, queues, cronQueue, events), events };
}

const attempt = (task: string): TasksEventMap['task.started'] => ({ task, queue: 'default', jobId: '1', attempt: 1, maxAttempts: 3, manualRetry: false });

describe('TasksMetrics: the per-attempt counters and durations', () => {
  it('shows every attempt at each scrape, counted by every module sharing the registry', async () => {
    const registry = new Registry();
    const first = metricsOn(registry);
    const second = metricsOn(registry);
    for (let i = 0; i < 3; i++) first.events.emit('task.started', attempt('echo'));
    second.events.emit('task.started', attempt('echo'));
    first.events.emit('task.finished', { ...attempt('echo'), durationMs: 20, status: 'completed' });
    second.events.emit('task.retried', { ...attempt('flaky'), durationMs: 2_000, errorType: 'Error' });
    second.events.emit('task.finished', { ...attempt('flaky'), durationMs: 5, status: 'failed', reason: 'attempts-exhausted', errorType: 'Error' });

    const text = await first.metrics.metrics();
    expect(text).toContain('tasks_started_total{task="echo"} 4');
    expect(text).toContain('tasks_completed_total{task="echo"} 1');
    expect(text).toContain('tasks_retried_total{task="flaky"} 1');
    expect(text).toContain('tasks_failed_total{task="flaky"} 1');
    expect(text).toContain('tasks_run_duration_seconds_bucket{le="0.025",task="echo",outcome="completed"} 1');
    expect(text).toContain('tasks_run_duration_seconds_bucket{le="1",task="flaky",outcome="retried"} 0');
    expect(text).toContain('tasks_run_duration_seconds_sum{task="flaky",outcome="retried"} 2');

    // Counted once: a second scrape adds nothing, a later attempt adds one.
    second.events.emit('task.started', attempt('echo'));
    const json = await registry.getMetricsAsJSON();
    const started = json.find((metric) => metric.name === 'tasks_started_total');
    expect(started?.values).toEqual([{ labels: { task: 'echo' }, value: 5 }]);
    expect(await second.metrics.metrics()).toContain('tasks_started_total{task="echo"} 5');
  });
});
