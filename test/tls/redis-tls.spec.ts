import { afterAll, beforeAll, describe, expect, it, onTestFailed, onTestFinished } from 'vitest';
import { TaskClient } from 'nestjs-tasks';
import { FixtureTasks, FixtureTasksModule } from '../fixtures/fixture-tasks.js';
import { bootFailure, closeAll, createTasksApp } from '../support/in-process.js';
import { AppProcess, ENTRY, workerReady } from '../support/processes.js';
import { uniquePrefix } from '../support/redis.js';
import { TestPki, TlsRedisServer, type IssuedCertificate } from '../support/tls.js';

// Real processes boot slowly on a busy two-core machine.
const PROCESS_TIMEOUT = { timeout: 120_000 };

// A redis-server of the test's own that listens only on a TLS port, with a
// certificate from a throwaway CA: every connection that works went over TLS.
// It is killed at the end, so the prefixes used on it need no cleanup.
// A failed handshake can make a TLS socket emit a second error after the one
// ioredis listens for; the library's TLS connector keeps a listener on the
// socket so that it cannot crash the process (the boots that fail here use no
// workaround of their own).
describe('Redis over TLS with a private CA', PROCESS_TIMEOUT, () => {
  let pki: TestPki;
  let serverCert: IssuedCertificate;
  let redis: TlsRedisServer;

  beforeAll(async () => {
    pki = await TestPki.create('redis-tls');
    serverCert = await pki.issue('redis', ['IP:127.0.0.1', 'DNS:localhost']);
    redis = await TlsRedisServer.start(pki, serverCert);
  });

  afterAll(async () => {
    await redis?.stop();
    await pki?.dispose();
  });

  it('runs a task round trip in-process with rediss:// and redisTls.ca', async () => {
    const prefix = uniquePrefix('tls-inproc');
    const app = await createTasksApp({
      tasks: { redisUrl: redis.url, redisTls: { ca: pki.ca }, prefix },
      imports: [FixtureTasksModule],
      worker: true,
    });
    onTestFinished(() => closeAll([app]));

    const handle = await app.get(TaskClient).enqueue(FixtureTasks, 'echo', { value: 42 });
    await expect(handle.waitResult({ timeoutMs: 20_000 })).resolves.toEqual({ value: 42, pid: process.pid });
    // Also through `localhost`, the certificate's DNS name.
    const byName = await createTasksApp({
      tasks: { redisUrl: `rediss://localhost:${redis.port}`, redisTls: { ca: pki.ca }, prefix },
      imports: [FixtureTasksModule],
    });
    onTestFinished(() => closeAll([byName]));
    const second = await byName.get(TaskClient).enqueue(FixtureTasks, 'echo', { value: 43 });
    await expect(second.waitResult({ timeoutMs: 20_000 })).resolves.toEqual({ value: 43, pid: process.pid });
  });

  // The test's own timeout is the "rather than hanging" (the boot check gives up after seconds).
  it('fails the boot with "Cannot reach Redis" and the certificate error without the CA', { timeout: 30_000 }, async () => {
    const error = await bootFailure({ redisUrl: redis.url, prefix: uniquePrefix('tls-noca') }, [FixtureTasksModule]);
    expect(error.message).toContain(`Cannot reach Redis at ${redis.url} (self-signed certificate in certificate chain)`);
    // The options were given in code: the fix names the option that takes the CA.
    expect(error.message).toContain("give the CA that signed the server's certificate in redisTls.ca");
  });

  it('checks the name: fails the boot when the certificate does not name the host, works with redisTls.servername', async () => {
    const other = await pki.issue('redis-other-name', ['DNS:redis.example.test']);
    const misnamed = await TlsRedisServer.start(pki, other);
    onTestFinished(() => misnamed.stop());
    const prefix = uniquePrefix('tls-name');

    const error = await bootFailure({ redisUrl: misnamed.url, redisTls: { ca: pki.ca }, prefix }, [FixtureTasksModule]);
    expect(error.message).toContain(
      `Cannot reach Redis at ${misnamed.url} (Hostname/IP does not match certificate's altnames: IP: 127.0.0.1 is not in the cert's list`,
    );

    // The name to check (and send as SNI) when it is not the host of the URL.
    const app = await createTasksApp({
      tasks: { redisUrl: misnamed.url, redisTls: { ca: pki.ca, servername: 'redis.example.test' }, prefix },
      imports: [FixtureTasksModule],
      worker: true,
    });
    onTestFinished(() => closeAll([app]));
    const handle = await app.get(TaskClient).enqueue(FixtureTasks, 'echo', { value: 5 });
    await expect(handle.waitResult({ timeoutMs: 20_000 })).resolves.toEqual({ value: 5, pid: process.pid });
  });

  it('runs, in a worker process started with REDIS_URL=rediss:// and REDIS_TLS_CA_FILE, a task an in-process producer enqueued', async () => {
    const prefix = uniquePrefix('tls-worker');
    const worker = new AppProcess('fixture-worker', ENTRY.fixtureWorker, {
      REDIS_URL: redis.url,
      REDIS_TLS_CA_FILE: pki.caFile,
      TASKS_PREFIX: prefix,
      TASKS_SHUTDOWN_GRACE_MS: '1000',
    });
    onTestFinished(async () => {
      await worker.stop();
    });
    onTestFailed(() => console.error(`--- worker ---\n${worker.tail()}`));

    await worker.waitForLog(workerReady, 'ready', 60_000);
    const producer = await createTasksApp({ tasks: { redisUrl: redis.url, redisTls: { ca: pki.ca }, prefix }, imports: [FixtureTasksModule] });
    onTestFinished(() => closeAll([producer]));
    const handle = await producer.get(TaskClient).enqueue(FixtureTasks, 'echo', { value: 7 });
    await expect(handle.waitResult({ timeoutMs: 20_000 })).resolves.toEqual({ value: 7, pid: worker.pid });
  });

  it('mTLS: with tls-auth-clients yes, connects with a client certificate (redisTls cert + key) and fails without one', async () => {
    const mtls = await TlsRedisServer.start(pki, serverCert, 'yes');
    onTestFinished(() => mtls.stop());
    const client = await pki.issue('tasks-client', [], 'clientAuth');
    const prefix = uniquePrefix('tls-mtls');

    const app = await createTasksApp({
      tasks: { redisUrl: mtls.url, redisTls: { ca: pki.ca, cert: client.cert, key: client.key }, prefix },
      imports: [FixtureTasksModule],
      worker: true,
    });
    onTestFinished(() => closeAll([app]));
    const handle = await app.get(TaskClient).enqueue(FixtureTasks, 'echo', { value: 1 });
    await expect(handle.waitResult({ timeoutMs: 20_000 })).resolves.toEqual({ value: 1, pid: process.pid });

    const error = await bootFailure({ redisUrl: mtls.url, redisTls: { ca: pki.ca }, prefix }, [FixtureTasksModule]);
    expect(error.message).toContain(`Cannot reach Redis at ${mtls.url}`);
  });
});
