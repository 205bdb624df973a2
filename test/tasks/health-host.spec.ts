import { networkInterfaces } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AppProcess, ENTRY, workerReady } from '../support/processes.js';
import { deletePrefix, uniquePrefix } from '../support/redis.js';
import { freePort } from '../support/ports.js';
import { waitFor } from '../support/wait-for.js';

/** The first address of this machine that is not loopback: a caller on the network would reach the worker there. */
const external = Object.values(networkInterfaces())
  .flat()
  .find((address) => address?.family === 'IPv4' && !address.internal)?.address;

type Answer = { code: number; body: unknown } | { refused: string };

/** GETs `path` on `host:port` of this machine; a refused connection is an answer too. */
async function get(host: string, port: number, path: string): Promise<Answer> {
  try {
    const response = await fetch(`http://${host}:${port}${path}`, { signal: AbortSignal.timeout(5_000) });
    const text = await response.text();
    return { code: response.status, body: path === '/metrics' ? text.length > 0 : (JSON.parse(text) as unknown) };
  } catch (error) {
    const cause = (error as { cause?: { code?: string } }).cause;
    if (cause?.code) return { refused: cause.code };
    throw error;
  }
}

/** Polls the readiness on 127.0.0.1 until it is 200. */
const ready = (port: number) =>
  waitFor(
    async () => {
      const answer = await get('127.0.0.1', port, '/health/ready');
      return 'code' in answer && answer.code === 200 ? answer : undefined;
    },
    { timeoutMs: 30_000, what: `readiness on port ${port}` },
  );

// Two fixture workers: one with only TASKS_HEALTH_PORT, one that opens the port with TASKS_HEALTH_HOST=0.0.0.0.
describe('the health port listens on loopback unless healthHost opens it', () => {
  const prefix = uniquePrefix('health-host');
  let loopbackPort: number;
  let widePort: number;
  let workers: AppProcess[] = [];

  beforeAll(async () => {
    [loopbackPort, widePort] = [await freePort(), await freePort()];
    const env = { TASKS_PREFIX: prefix, TASKS_SHUTDOWN_GRACE_MS: '1000' };
    workers = [
      new AppProcess('worker-default-host', ENTRY.fixtureWorker, { ...env, TASKS_HEALTH_PORT: String(loopbackPort), TASKS_HEALTH_HOST: undefined }),
      new AppProcess('worker-wide', ENTRY.fixtureWorker, { ...env, TASKS_HEALTH_PORT: String(widePort), TASKS_HEALTH_HOST: '0.0.0.0' }),
    ];
    await Promise.all(workers.map((worker) => worker.waitForLog(workerReady, 'ready', 60_000)));
    await Promise.all([ready(loopbackPort), ready(widePort)]);
  });

  afterAll(async () => {
    await Promise.all(workers.map((worker) => worker.stop()));
    await deletePrefix(prefix);
  });

  it('by default: 127.0.0.1 answers with the details, and the log says the port is for this machine only', async () => {
    const answer = await get('127.0.0.1', loopbackPort, '/health/ready');
    expect(answer).toEqual({
      code: 200,
      body: { status: 'ok', details: { redis: { status: 'up', prefix }, worker: { status: 'up', queues: expect.any(Array) } } },
    });
    // An upgrade that kept its probes from outside the container is told why they are refused.
    expect(workers[0]?.lines.map((line) => line.msg)).toContain(
      `Health probes on http://127.0.0.1:${loopbackPort}: /health/live, /health/ready, /metrics ` +
        '(this machine only: set TASKS_HEALTH_HOST to 0.0.0.0 for probes from outside it, on a private network)',
    );
    expect(workers[1]?.lines.map((line) => line.msg)).toContain(`Health probes on http://0.0.0.0:${widePort}: /health/live, /health/ready, /metrics`);
  });

  if (!external) {
    it.skip('refuses a caller on the network: skipped, this machine has no non-loopback IPv4 address (os.networkInterfaces())', () => undefined);
    return;
  }

  it(`by default: ${external} (this machine's network address) is refused, on every path`, async () => {
    for (const path of ['/health/live', '/health/ready', '/metrics']) {
      expect(await get(external, loopbackPort, path), path).toEqual({ refused: 'ECONNREFUSED' });
    }
  });

  it('with healthHost 0.0.0.0 both answer; a caller on the network gets up/down per check and /metrics, the details stay on loopback', async () => {
    const local = await get('127.0.0.1', widePort, '/health/ready');
    expect(local).toEqual({
      code: 200,
      body: { status: 'ok', details: { redis: { status: 'up', prefix }, worker: { status: 'up', queues: expect.any(Array) } } },
    });
    const remote = await get(external, widePort, '/health/ready');
    expect(remote).toEqual({ code: 200, body: { status: 'ok', details: { redis: { status: 'up' }, worker: { status: 'up' } } } });
    expect(await get(external, widePort, '/health/live')).toEqual({ code: 200, body: { status: 'ok' } });
    // Prometheus scrapes from the network: the reason to open the port.
    expect(await get(external, widePort, '/metrics')).toEqual({ code: 200, body: true });
  });
});
