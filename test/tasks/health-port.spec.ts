import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Queue } from 'bullmq';
import { TASKS_QUEUE, bullmqConnection } from '#nestjs-tasks-internal';
import { AppProcess, ENTRY, workerReady } from '../support/processes.js';
import { CRON_FIXTURE_ENTRY, schedulerReady } from '../support/cron.js';
import { createTestSchema, type TestSchema } from '../support/database.js';
import { deletePrefix, uniquePrefix } from '../support/redis.js';
import { ExtraRedisServer } from '../support/redis-server.js';
import { freePort } from '../support/ports.js';
import { waitFor } from '../support/wait-for.js';

interface Health {
  status: string;
  details: Record<string, { status: string; message?: string; [detail: string]: unknown }>;
}

/** GET a probe with a deadline; undefined when the process did not answer in time. */
async function probe(port: number, path: string, timeoutMs = 1_500): Promise<{ code: number; body: Health } | undefined> {
  try {
    const response = await fetch(`http://127.0.0.1:${port}${path}`, { signal: AbortSignal.timeout(timeoutMs) });
    return { code: response.status, body: (await response.json()) as Health };
  } catch {
    return undefined;
  }
}

const until = (port: number, path: string, code: number, what: string) =>
  waitFor(
    async () => {
      const answer = await probe(port, path);
      return answer?.code === code ? answer : undefined;
    },
    { timeoutMs: 30_000, what },
  );

const untilNoAnswer = (port: number, path: string, what: string) =>
  waitFor(async () => ((await probe(port, path)) === undefined ? 'timed out' : undefined), { timeoutMs: 30_000, what });

// Worker and scheduler processes with TASKS_HEALTH_PORT, on a Redis of their own that the test stops and starts.
describe('health probes of the worker and the scheduler (TASKS_HEALTH_PORT)', () => {
  const prefix = uniquePrefix('health-port');
  let schema: TestSchema;
  let redis: ExtraRedisServer;
  let worker: AppProcess;
  let scheduler: AppProcess;
  let workerPort: number;
  let schedulerPort: number;
  let queue: Queue;

  beforeAll(async () => {
    schema = await createTestSchema('health_port');
    redis = await ExtraRedisServer.start();
    [workerPort, schedulerPort] = [await freePort(), await freePort()];
    const env = { TASKS_PREFIX: prefix, REDIS_URL: redis.url(), ...schema.env, TASKS_HEALTH_HOST: '127.0.0.1', TASKS_SHUTDOWN_GRACE_MS: '1000' };
    worker = new AppProcess('worker', ENTRY.fixtureWorker, { ...env, TASKS_HEALTH_PORT: String(workerPort) });
    scheduler = new AppProcess('scheduler', CRON_FIXTURE_ENTRY, { ...env, CRON_ROLE: 'scheduler', CRON_FIXTURES: 'manual', TASKS_HEALTH_PORT: String(schedulerPort) });
    await Promise.all([worker.waitForLog(workerReady, 'ready', 60_000), scheduler.waitForLog(schedulerReady, 'ready', 60_000)]);
    queue = new Queue(TASKS_QUEUE, { connection: bullmqConnection(redis.url(), 'command'), prefix });
    queue.on('error', () => undefined);
  });

  afterAll(async () => {
    // Processes first: a test that failed with its Redis down must not leave them running.
    await Promise.all([worker?.stop(), scheduler?.stop()]);
    await queue?.close();
    await redis?.stop();
    await deletePrefix(prefix);
    await schema?.drop();
  });

  it('are ready while their dependencies answer: the worker consumes, the scheduler fires and holds the lease', async () => {
    expect(await probe(workerPort, '/health/live')).toEqual({ code: 200, body: { status: 'ok' } });
    const workerReadiness = await until(workerPort, '/health/ready', 200, 'the worker to be ready');
    expect(workerReadiness.body).toEqual({
      status: 'ok',
      details: { redis: { status: 'up', prefix }, worker: { status: 'up', queues: ['tasks.default', 'tasks.mail', 'tasks.reports'] } },
    });
    const schedulerReadiness = await waitFor(
      async () => {
        const answer = await probe(schedulerPort, '/health/ready');
        return answer?.code === 200 && answer.body.details.scheduler?.leader === true ? answer : undefined;
      },
      { timeoutMs: 30_000, what: 'the scheduler to be ready and lead' },
    );
    expect(schedulerReadiness.body.details).toMatchObject({
      redis: { status: 'up' },
      scheduler: { status: 'up', crons: 3, leader: true },
      database: { status: 'up' },
    });
    // Which replica holds the lease: this one, named by host and pid.
    const { replica, leaseHolder } = schedulerReadiness.body.details.scheduler as unknown as { replica: string; leaseHolder: string };
    expect(leaseHolder).toBe(replica);
    expect(replica).toContain(`:${scheduler.pid}:`);
    expect((await probe(workerPort, '/nope'))?.code).toBe(404);
  });

  it('readiness fails while Redis is down and recovers with it; liveness stays up', async () => {
    await redis.kill();
    const down = await until(workerPort, '/health/ready', 503, 'the worker to be unready without Redis');
    expect(down.body.status).toBe('error');
    expect(down.body.details.redis.status).toBe('down');
    expect((await until(schedulerPort, '/health/ready', 503, 'the scheduler to be unready without Redis')).body.details.redis.status).toBe('down');
    // Its next tick (the lost-run sweep, every 5 s) cannot be enqueued: the scheduler check itself goes down, saying why.
    const notFiring = await waitFor(
      async () => {
        const answer = await probe(schedulerPort, '/health/ready');
        return answer?.body.details.scheduler?.status === 'down' ? answer.body.details.scheduler : undefined;
      },
      { timeoutMs: 30_000, what: 'the scheduler check to go down' },
    );
    expect(notFiring.message).toMatch(/^cannot enqueue ticks since \d{4}-\d\d-\d\dT[\d:.]+Z: /);
    expect((await probe(workerPort, '/health/live'))?.code).toBe(200);
    expect((await probe(schedulerPort, '/health/live'))?.code).toBe(200);
    await redis.start();
    await until(workerPort, '/health/ready', 200, 'the worker to be ready again');
    const again = await until(schedulerPort, '/health/ready', 200, 'the scheduler to be ready again');
    expect(again.body.details.scheduler.status).toBe('up');
  });

  it('liveness fails while the worker is wedged (its event loop blocked), and answers again after', async () => {
    await queue.add('fixture.blockEventLoop', { ms: 6_000 });
    expect(await untilNoAnswer(workerPort, '/health/live', 'liveness to stop answering')).toBe('timed out');
    expect(await until(workerPort, '/health/live', 200, 'liveness to answer again')).toEqual({ code: 200, body: { status: 'ok' } });
  });

  it('readiness fails from the moment shutdown begins, while running jobs drain', async () => {
    // A 5 s job: with a 1 s grace the drain takes a second, long enough to probe it.
    await queue.add('sleepy', { ms: 5_000, id: 'draining' });
    await worker.waitForLog((line) => line.msg === 'sleepy started', 'the job to start');
    const stopping = worker.stop();
    const answer = await until(workerPort, '/health/ready', 503, 'readiness to fail at shutdown');
    expect(answer.body.status).toBe('shutting_down');
    expect(await stopping).toBe(0);
  });
});
