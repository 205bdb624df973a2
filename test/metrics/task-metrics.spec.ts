import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestingModule } from '@nestjs/testing';
import { TaskClient, TasksMetrics } from 'nestjs-tasks';
import { TASKS_QUEUE } from '#nestjs-tasks-internal';
import { rejectionOf, startWorkerAndProducer, tasksQueue, type WorkerAndProducer } from '../support/in-process.js';
import { waitFor } from '../support/wait-for.js';
import { uniquePrefix } from '../support/redis.js';
import { freePort } from '../support/ports.js';
import { delta, parseMetrics, scrape, seriesOf, valueOf, type Samples } from '../support/metrics.js';

// A real worker process serving /metrics on its health port, and a producer
// in this process: known workloads move the counters by exactly their size.
describe('task metrics (prom-client), scraped from a worker process and a producer', () => {
  const prefix = uniquePrefix('metrics');
  let port: number;
  let producer: TestingModule;
  let client: TaskClient;
  const workerMetrics = () => scrape(`http://127.0.0.1:${port}/metrics`);
  const producerMetrics = async (): Promise<Samples> => parseMetrics(await producer.get(TasksMetrics).metrics());

  let apps: WorkerAndProducer | undefined;

  beforeAll(async () => {
    port = await freePort();
    apps = await startWorkerAndProducer(prefix, { workerEnv: { TASKS_HEALTH_PORT: String(port), TASKS_HEALTH_HOST: '127.0.0.1' } });
    ({ producer, client } = apps);
  });

  afterAll(() => apps?.stop());

  it('count enqueued, started, completed, retried and failed attempts and their durations, by task', async () => {
    const [workerBefore, producerBefore] = [await workerMetrics(), await producerMetrics()];
    const echoes = await Promise.all(Array.from({ length: 7 }, (_, value) => client.enqueue('echo', { value })));
    const flaky = await client.enqueue('flaky', { failTimes: 2 });
    const rejected = await client.enqueue('rejectsInput', { reason: 'metrics' });
    await Promise.all(echoes.map((handle) => handle.waitResult({ timeoutMs: 30_000 })));
    expect(await flaky.waitResult({ timeoutMs: 30_000 })).toEqual({ attempt: 3 });
    expect((await rejectionOf(rejected.waitResult({ timeoutMs: 30_000 }))).message).toContain('bad input: metrics');

    const [workerAfter, producerAfter] = [await workerMetrics(), await producerMetrics()];
    const moved = (name: string, labels: Record<string, string>) => delta(workerBefore, workerAfter, name, labels);
    expect(delta(producerBefore, producerAfter, 'tasks_enqueued_total', { task: 'echo', queue: TASKS_QUEUE })).toBe(7);
    expect(delta(producerBefore, producerAfter, 'tasks_enqueued_total', { task: 'flaky', queue: TASKS_QUEUE })).toBe(1);
    expect(moved('tasks_started_total', { task: 'echo' })).toBe(7);
    expect(moved('tasks_completed_total', { task: 'echo' })).toBe(7);
    expect(moved('tasks_started_total', { task: 'flaky' })).toBe(3);
    expect(moved('tasks_retried_total', { task: 'flaky' })).toBe(2);
    expect(moved('tasks_completed_total', { task: 'flaky' })).toBe(1);
    expect(moved('tasks_failed_total', { task: 'flaky' })).toBe(0);
    // Not retriable: one attempt, failed for good, although it has 5.
    expect(moved('tasks_started_total', { task: 'rejectsInput' })).toBe(1);
    expect(moved('tasks_failed_total', { task: 'rejectsInput' })).toBe(1);
    expect(moved('tasks_retried_total', { task: 'rejectsInput' })).toBe(0);
    expect(moved('tasks_run_duration_seconds_count', { task: 'echo', outcome: 'completed' })).toBe(7);
    expect(moved('tasks_run_duration_seconds_count', { task: 'flaky', outcome: 'retried' })).toBe(2);
    expect(moved('tasks_run_duration_seconds_count', { task: 'flaky', outcome: 'completed' })).toBe(1);
    // Every observation falls in the +Inf bucket; a no-op echo takes well under 10 s.
    expect(moved('tasks_run_duration_seconds_bucket', { task: 'echo', outcome: 'completed', le: '+Inf' })).toBe(7);
    expect(moved('tasks_run_duration_seconds_bucket', { task: 'echo', outcome: 'completed', le: '10' })).toBe(7);
    expect(moved('tasks_run_duration_seconds_sum', { task: 'echo', outcome: 'completed' })).toBeGreaterThan(0);
  });

  it('keep their series bounded whatever the job ids: 200 jobs with distinct ids add no series', async () => {
    // Warm up: the series of echo exist in both processes.
    await (await client.enqueue('echo', { value: -1 }, { jobId: 'warm-up' })).waitResult({ timeoutMs: 30_000 });
    const [workerBefore, producerBefore] = [await workerMetrics(), await producerMetrics()];
    const handles = await client.enqueueMany(Array.from({ length: 200 }, (_, value) => ({ name: 'echo', payload: { value }, options: { jobId: `order-${value}-${prefix}` } })));
    await Promise.all(handles.map((handle) => handle.waitResult({ timeoutMs: 60_000 })));
    const [workerAfter, producerAfter] = [await workerMetrics(), await producerMetrics()];
    expect(seriesOf(workerAfter, 'tasks_')).toEqual(seriesOf(workerBefore, 'tasks_'));
    expect(seriesOf(producerAfter, 'tasks_')).toEqual(seriesOf(producerBefore, 'tasks_'));
    expect(delta(workerBefore, workerAfter, 'tasks_completed_total', { task: 'echo' })).toBe(200);
    expect(delta(producerBefore, producerAfter, 'tasks_enqueued_total', { task: 'echo', queue: TASKS_QUEUE })).toBe(200);
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    expect(text).not.toContain('order-');
    expect(text).not.toContain(prefix);
  });

  it('sample the queue depth by state from Redis', async () => {
    await Promise.all(Array.from({ length: 3 }, (_, value) => client.enqueue('echo', { value }, { delayMs: 3_600_000 })));
    // Depth is read at most once a second: a scrape within a second of the last may show the previous reading.
    const after = await waitFor(
      async () => {
        const samples = await workerMetrics();
        return valueOf(samples, 'tasks_queue_jobs', { queue: TASKS_QUEUE, state: 'delayed' }) === 3 ? samples : undefined;
      },
      { timeoutMs: 10_000, what: 'three delayed jobs in tasks_queue_jobs' },
    );
    expect(valueOf(after, 'tasks_queue_jobs', { queue: TASKS_QUEUE, state: 'waiting' })).toBe(0);
    expect(valueOf(after, 'tasks_queue_jobs', { queue: TASKS_QUEUE, state: 'active' })).toBe(0);
    expect(after.has('tasks_queue_jobs{queue="tasks.cron",state="delayed"}')).toBe(true);
    // Every queue the worker's tasks are on.
    expect(after.has('tasks_queue_jobs{queue="tasks.reports",state="waiting"}')).toBe(true);
    await tasksQueue(producer).drain(true);
  });

  it('follow the Prometheus conventions: _total counters, _seconds units, HELP and TYPE for each', async () => {
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    const types = new Map([...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((match) => [match[1] as string, match[2] as string]));
    const helps = new Set([...text.matchAll(/^# HELP (\S+) /gm)].map((match) => match[1] as string));
    expect(types.size).toBeGreaterThanOrEqual(15);
    for (const [name, type] of types) {
      expect(name.startsWith('tasks_'), name).toBe(true);
      expect(helps.has(name), `HELP of ${name}`).toBe(true);
      if (type === 'counter') expect(name.endsWith('_total'), name).toBe(true);
      if (type === 'histogram') expect(name.endsWith('_seconds'), name).toBe(true);
    }
    expect(types.get('tasks_cron_tick_lateness_seconds')).toBe('histogram');
    expect(types.get('tasks_cron_last_success_timestamp_seconds')).toBe('gauge');
  });
});
