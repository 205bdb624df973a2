import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Test } from '@nestjs/testing';
import { Module, type INestApplicationContext } from '@nestjs/common';
import { LoggerModule } from 'nestjs-pino';
import { TaskClient, TasksModule } from 'nestjs-tasks';
import { FixtureTasks } from '../fixtures/fixture-tasks.js';
import { deletePrefix, uniquePrefix } from '../support/redis.js';
import { startApp, workerReady, type AppProcess } from '../support/processes.js';

const prefix = uniquePrefix('roundtrip');

@Module({
  imports: [LoggerModule.forRoot({ pinoHttp: { level: 'silent' } }), TasksModule.forRoot({ prefix })],
  providers: [FixtureTasks],
})
class ProducerModule {}

describe('enqueue + waitResult against a worker process', () => {
  let worker: AppProcess;
  let app: INestApplicationContext;

  beforeAll(async () => {
    worker = await startApp('fixtureWorker', { TASKS_PREFIX: prefix }, workerReady);
    const moduleRef = await Test.createTestingModule({ imports: [ProducerModule] }).compile();
    app = await moduleRef.init();
  });

  afterAll(async () => {
    await app?.close();
    await worker?.stop();
    await deletePrefix(prefix);
  });

  it('completes 1,000 sequential round trips with zero spurious failures', async () => {
    const client = app.get(TaskClient);
    let failures = 0;
    for (let i = 0; i < 1000; i++) {
      const handle = await client.enqueue(FixtureTasks, 'echo', { value: i });
      try {
        const result = await handle.waitResult({ timeoutMs: 10_000 });
        if (result.value !== i || result.pid !== worker.pid) failures++;
      } catch {
        failures++;
      }
    }
    expect(failures).toBe(0);
  });
});
