import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { DataSource } from 'typeorm';
import type { Subscription } from 'rxjs';
import { TaskClient } from 'nestjs-tasks';
import { EventPublisher, EventSubscriber, InvalidEventError, TASKS_REDIS, type PublishedEvent } from 'nestjs-tasks/extras';
import { TASKS_QUEUE } from '#nestjs-tasks-internal';
import { runInTransaction } from 'nestjs-tasks/typeorm';
import { ExpiringRecord, databaseOptions } from '@app/jobs';
import { FixtureTasks, FixtureTasksModule } from '../fixtures/fixture-tasks.js';
import { runTwoSessions } from '../fixtures/dependency-tasks.js';
import { rejectionOf, tasksAppsPerTest } from '../support/in-process.js';
import { REDIS_URL, deletePrefix } from '../support/redis.js';
import { subscribedProcesses, waitForSubscribedProcesses } from '../support/sse.js';
import { waitFor } from '../support/wait-for.js';
import { createTestSchema, type TestSchema } from '../support/database.js';

/** Collects what a subscription to one user's events delivers. */
function collect(subscriber: EventSubscriber, userId: string) {
  const events: PublishedEvent[] = [];
  let completed = false;
  const subscription: Subscription = subscriber.subscribe(userId).subscribe({
    next: (event) => events.push(event),
    complete: () => {
      completed = true;
    },
  });
  return {
    events,
    subscription,
    get completed() {
      return completed;
    },
    names: () => events.map((e) => e.name),
    waitFor: (name: string) => waitFor(() => events.some((e) => e.name === name), { timeoutMs: 10_000, what: `${userId} gets ${name}` }),
  };
}

describe('EventPublisher and EventSubscriber over Redis pub/sub (in-process apps)', () => {
  const apps = tasksAppsPerTest('events');

  it('delivers each user only their own events, in publish order, to every local subscriber, over one Redis subscription per process', async () => {
    const api = await apps.create();
    const worker = await apps.create();
    const subscriber = api.get(EventSubscriber);
    const publisher = worker.get(EventPublisher);

    const alice1 = collect(subscriber, 'alice');
    const alice2 = collect(subscriber, 'alice');
    const bob = collect(subscriber, 'bob');
    // Two local subscribers of alice, one Redis subscription: the process fans out.
    await waitForSubscribedProcesses(apps.prefix, 'alice', 1);
    await waitForSubscribedProcesses(apps.prefix, 'bob', 1);
    expect(subscriber.activeChannels).toBe(2);

    const receivers: number[] = [];
    for (let i = 1; i <= 5; i++) {
      receivers.push((await publisher.publish('alice', { name: `alice.${i}`, payload: { i } })).receivers);
      receivers.push((await publisher.publish('bob', { name: `bob.${i}`, payload: { i } })).receivers);
    }
    // Published after every bob event: had one leaked to alice, it would come before this.
    await publisher.publish('alice', { name: 'alice.last', payload: null });
    await alice1.waitFor('alice.last');
    await alice2.waitFor('alice.last');
    await bob.waitFor('bob.5');

    const aliceNames = ['alice.1', 'alice.2', 'alice.3', 'alice.4', 'alice.5', 'alice.last'];
    expect(alice1.names()).toEqual(aliceNames);
    expect(alice2.events).toEqual(alice1.events);
    // Both users' events arrive on the one connection, so bob.5 came after every earlier alice event.
    expect(bob.names()).toEqual(['bob.1', 'bob.2', 'bob.3', 'bob.4', 'bob.5']);
    expect(bob.events.map((e) => e.payload)).toEqual([1, 2, 3, 4, 5].map((i) => ({ i })));
    // One process was listening to each user.
    expect(receivers).toEqual(Array(10).fill(1));
    await expect(publisher.publish('carol', { name: 'nobody.listens', payload: null })).resolves.toMatchObject({ receivers: 0 });
  });

  it('keeps the Redis subscription while any local subscriber remains, and drops it after the last one leaves', async () => {
    const api = await apps.create();
    const publisher = (await apps.create()).get(EventPublisher);
    const subscriber = api.get(EventSubscriber);
    const first = collect(subscriber, 'dave');
    const second = collect(subscriber, 'dave');
    await waitForSubscribedProcesses(apps.prefix, 'dave', 1);

    first.subscription.unsubscribe();
    await publisher.publish('dave', { name: 'after.first.left', payload: null });
    await second.waitFor('after.first.left');
    expect(first.events).toEqual([]);
    expect(await subscribedProcesses(apps.prefix, 'dave')).toBe(1);

    second.subscription.unsubscribe();
    await waitForSubscribedProcesses(apps.prefix, 'dave', 0);
    expect(subscriber.activeChannels).toBe(0);
    await expect(publisher.publish('dave', { name: 'nobody.left', payload: null })).resolves.toMatchObject({ receivers: 0 });

    // Subscribing again works on the same connection.
    const third = collect(subscriber, 'dave');
    await waitForSubscribedProcesses(apps.prefix, 'dave', 1);
    await publisher.publish('dave', { name: 'back', payload: null });
    await third.waitFor('back');
    expect(third.names()).toEqual(['back']);
  });

  it('keeps deployments apart: a subscriber under another prefix does not receive the events', async () => {
    const api = await apps.create();
    const other = await apps.create({ tasks: { prefix: `${apps.prefix}-other` } });
    const publisher = (await apps.create()).get(EventPublisher);
    try {
      collect(api.get(EventSubscriber), 'erin');
      collect(other.get(EventSubscriber), 'erin');
      await waitForSubscribedProcesses(apps.prefix, 'erin', 1);
      await waitForSubscribedProcesses(`${apps.prefix}-other`, 'erin', 1);
      // Two processes listen to erin, but only one under this prefix.
      await expect(publisher.publish('erin', { name: 'hello', payload: null })).resolves.toMatchObject({ receivers: 1 });
    } finally {
      await other.close();
      // The harness deletes keys under its own prefix only.
      await deletePrefix(`${apps.prefix}-other`);
    }
  });

  it('rejects an invalid event at publish with InvalidEventError and sends nothing', async () => {
    const api = await apps.create();
    const publisher = (await apps.create()).get(EventPublisher);
    const frank = collect(api.get(EventSubscriber), 'frank');
    await waitForSubscribedProcesses(apps.prefix, 'frank', 1);

    const error = await rejectionOf(publisher.publish('frank', { name: 'upload.progress', payload: { size: 10n } as never }));
    expect(error).toBeInstanceOf(InvalidEventError);
    expect(error.message).toBe(
      'Event "upload.progress" cannot be published: event.payload.size is a BigInt; pass it as a string. Event payloads travel as JSON.',
    );
    await expect(publisher.publish('frank', { name: '', payload: 1 })).rejects.toThrow(/event\.name is empty/);
    await expect(publisher.publish('', { name: 'x', payload: 1 })).rejects.toThrow(/userId is empty/);

    await publisher.publish('frank', { name: 'valid', payload: 1 });
    await frank.waitFor('valid');
    expect(frank.names()).toEqual(['valid']);
    expect(() => api.get(EventSubscriber).subscribe('')).toThrow(InvalidEventError);
  });

  it('completes every stream when the application shuts down', async () => {
    const api = await apps.create();
    const grace = collect(api.get(EventSubscriber), 'grace');
    await waitForSubscribedProcesses(apps.prefix, 'grace', 1);
    await api.close();
    expect(grace.completed).toBe(true);
    await waitForSubscribedProcesses(apps.prefix, 'grace', 0);
  });
});

describe('@InjectRedis(): the shared, namespaced ioredis client', () => {
  const apps = tasksAppsPerTest('redis');

  it('stores user keys under `${prefix}:app:`, apart from the queue keys, and is closed on shutdown', async () => {
    const app = await apps.create({ imports: [FixtureTasksModule], worker: true });
    const redis = app.get<Redis>(TASKS_REDIS);
    // Created at boot, connected on first use.
    expect(redis.status).toBe('wait');

    // A key name that is also a BullMQ key of the queue (its job id counter).
    const idKey = `${TASKS_QUEUE}:id`;
    await redis.set(idKey, 'not a number');
    await redis.hset('reports:1', { state: 'done' });
    const handle = await app.get(TaskClient).enqueue(FixtureTasks, 'echo', { value: 1 });
    await expect(handle.waitResult({ timeoutMs: 10_000 })).resolves.toMatchObject({ value: 1 });
    expect(await redis.get(idKey)).toBe('not a number');

    const raw = new Redis(REDIS_URL);
    try {
      expect(await raw.get(`${apps.prefix}:app:${idKey}`)).toBe('not a number');
      expect(await raw.get(`${apps.prefix}:${idKey}`)).toBe(handle.id);
      expect(await raw.hgetall(`${apps.prefix}:app:reports:1`)).toEqual({ state: 'done' });
      expect(await raw.exists(idKey, 'reports:1')).toBe(0);
    } finally {
      raw.disconnect();
    }

    // One client per app, whoever injects it.
    expect(app.get(TASKS_REDIS)).toBe(redis);
    await app.close();
    expect(redis.status).toBe('end');
  });
});

describe('runInTransaction and concurrent sessions (in-process, own schema)', () => {
  let schema: TestSchema;

  beforeAll(async () => {
    schema = await createTestSchema('tx');
  });

  afterAll(async () => {
    await schema?.drop();
  });

  const count = (label: string) => schema.dataSource.getRepository(ExpiringRecord).countBy({ payload: label });
  const insert = (label: string) => ({ payload: label, expiresAt: new Date(Date.now() + 60_000) });

  it('commits when the work resolves and rolls back, rethrowing, when it throws', async () => {
    const id = await runInTransaction(schema.dataSource, async (manager) => {
      const result = await manager.insert(ExpiringRecord, insert('tx-commit'));
      return result.identifiers[0].id as string;
    });
    expect(id).toMatch(/^\d+$/);
    expect(await count('tx-commit')).toBe(1);

    const failure = new Error('work failed');
    await expect(
      runInTransaction(schema.dataSource, async (manager) => {
        await manager.insert(ExpiringRecord, insert('tx-rollback'));
        expect(await manager.countBy(ExpiringRecord, { payload: 'tx-rollback' })).toBe(1);
        throw failure;
      }),
    ).rejects.toBe(failure);
    expect(await count('tx-rollback')).toBe(0);
  });

  it('applies the isolation level it is given', async () => {
    const level = await runInTransaction(
      schema.dataSource,
      async (manager) => ((await manager.query('SHOW transaction_isolation')) as Array<{ transaction_isolation: string }>)[0],
      { isolationLevel: 'SERIALIZABLE' },
    );
    expect(level.transaction_isolation).toBe('serializable');
  });

  it('the two-sessions check fails when the sessions cannot be open at once (a pool of one connection)', async () => {
    // The control for the concurrent-sessions test: with one connection the
    // second session waits for the first, which waits for the second at the barrier.
    const options = databaseOptions({ ...process.env, ...schema.env });
    const onePool = new DataSource({ ...options, extra: { ...options.extra, max: 1 } } as typeof options);
    await onePool.initialize();
    try {
      const [committed, rolledBack] = await runTwoSessions(onePool, { commit: 'one-pool-commit', rollBack: 'one-pool-rollback' }, 500);
      expect(committed.status).toBe('rejected');
      expect(String((committed as PromiseRejectedResult).reason)).toMatch(/both sessions open: only 1 of 2 sessions got there/);
      expect(rolledBack.status).toBe('rejected');
      expect(await count('one-pool-commit')).toBe(0);
    } finally {
      await onePool.destroy();
    }
  });
});
