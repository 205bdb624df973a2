import { afterAll, describe, expect, it } from 'vitest';
import type { TestingModule } from '@nestjs/testing';
import { TaskClient, TasksHealthIndicator, TasksMetrics } from 'nestjs-tasks';
import { TASKS_QUEUE } from '#nestjs-tasks-internal';
import { FixtureTasksModule } from '../fixtures/fixture-tasks.js';
import { closeAll, createTasksApp, logs } from '../support/in-process.js';
import { deletePrefix, REDIS_URL, uniquePrefix } from '../support/redis.js';
import { TcpProxy } from '../support/tcp-proxy.js';
import { parseMetrics, valueOf } from '../support/metrics.js';
import { waitFor } from '../support/wait-for.js';
import { Counter, Registry } from 'prom-client';

// In-process workers on real Redis: what the health indicator and the
// metrics say about the worker itself.
describe('the worker seen from outside', () => {
  const prefixes: string[] = [];
  const apps: TestingModule[] = [];
  const proxies: TcpProxy[] = [];

  afterAll(async () => {
    await closeAll(apps);
    await Promise.all(proxies.map((proxy) => proxy.close()));
    await Promise.all(prefixes.map((prefix) => deletePrefix(prefix)));
  });

  const worker = async (tasks: Record<string, unknown>) => {
    const prefix = uniquePrefix('worker-state');
    prefixes.push(prefix);
    const app = await createTasksApp({ tasks: { prefix, ...tasks }, imports: [FixtureTasksModule], worker: true });
    apps.push(app);
    return app;
  };

  it('is not ready once its consumers stop polling Redis, and ready again when they poll', async () => {
    const target = new URL(REDIS_URL);
    const proxy = await TcpProxy.start({ host: target.hostname, port: Number(target.port || 6379) });
    proxies.push(proxy);
    const app = await worker({ redisUrl: `redis://127.0.0.1:${proxy.port}`, healthMaxPollAgeMs: 11_000 });
    const health = app.get(TasksHealthIndicator);
    expect(await health.worker()).toEqual({ worker: { status: 'up', queues: [TASKS_QUEUE, 'tasks.mail', 'tasks.reports'] } });
    await proxy.cut();
    const stale = await waitFor(
      async () => {
        const result = await health.worker();
        return result.worker.status === 'down' ? result : undefined;
      },
      { timeoutMs: 30_000, what: 'the worker check to go down' },
    );
    expect(stale.worker.message).toMatch(/^not polling: the last poll of Redis was tasks\.\w+ \d+ ms ago.* \(allowed 11000 ms\)$/);
    await proxy.restore();
    await waitFor(async () => (await health.worker()).worker.status === 'up', { timeoutMs: 30_000, what: 'the worker check to recover' });
  });

  it("registers into the app's own registry when given one, next to the app's metrics, and two modules share it", async () => {
    const registry = new Registry();
    const own = new Counter({ name: 'app_orders_total', help: 'Orders.', registers: [registry] });
    own.inc(2);
    const first = await worker({ metricsRegistry: registry });
    // A second TasksModule (another prefix) in the same registry: no "already registered" error, one series set.
    const second = await worker({ metricsRegistry: registry });
    await (await first.get(TaskClient).enqueue('echo', { value: 1 })).waitResult({ timeoutMs: 20_000 });
    await (await second.get(TaskClient).enqueue('echo', { value: 2 })).waitResult({ timeoutMs: 20_000 });
    const samples = parseMetrics(await registry.metrics());
    expect(valueOf(samples, 'app_orders_total')).toBe(2);
    expect(valueOf(samples, 'tasks_enqueued_total', { task: 'echo', queue: TASKS_QUEUE })).toBe(2);
    expect(valueOf(samples, 'tasks_completed_total', { task: 'echo' })).toBe(2);
    // TasksMetrics renders that same registry.
    expect(await first.get(TasksMetrics).metrics()).toContain('app_orders_total 2');
  });

  it('counts a job handed back at shutdown', async () => {
    const app = await worker({ shutdownGraceMs: 200 });
    await app.get(TaskClient).enqueue('sleepy', { ms: 10_000, id: 'handed-back' });
    await waitFor(() => logs.lines.some((line) => line.msg === 'sleepy started' && line.sleepyId === 'handed-back'), { what: 'sleepy to start' });
    const metrics = app.get(TasksMetrics);
    expect(valueOf(parseMetrics(await metrics.metrics()), 'tasks_worker_hand_backs_total', { queue: TASKS_QUEUE })).toBe(0);
    await app.close();
    apps.splice(apps.indexOf(app), 1);
    // The registry outlives the app: what it counted while shutting down.
    const after = parseMetrics(await metrics.metrics());
    expect(valueOf(after, 'tasks_worker_hand_backs_total', { queue: TASKS_QUEUE })).toBe(1);
    expect(valueOf(after, 'tasks_started_total', { task: 'sleepy' })).toBe(1);
    expect(valueOf(after, 'tasks_failed_total', { task: 'sleepy' })).toBe(0);
  });
});
