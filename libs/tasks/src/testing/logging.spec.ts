import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Injectable, Logger, Module } from '@nestjs/common';
import { Test, type TestingModule } from '@nestjs/testing';
import { LoggerModule, PinoLogger } from 'nestjs-pino';
import { Task } from '../task/task.decorator.js';
import { TaskClient } from '../client/task-client.js';
import { TasksTestingModule } from './tasks-testing.module.js';
import { TasksTesting } from './tasks-testing.js';

@Injectable()
class ReportTasks {
  constructor(private readonly logger: PinoLogger) {
    logger.setContext(ReportTasks.name);
  }

  @Task({ attempts: 2 })
  async build(payload: { reportId: string; fail?: boolean }): Promise<string> {
    this.logger.info({ reportId: payload.reportId }, 'building the report');
    if (payload.fail) throw new Error('no data');
    return payload.reportId;
  }
}

@Injectable()
class PlainTasks {
  private readonly logger = new Logger(PlainTasks.name);

  @Task()
  async ping(payload: { n: number }): Promise<number> {
    this.logger.debug(`ping ${payload.n}`);
    return payload.n + 1;
  }
}

@Module({ providers: [ReportTasks] })
class ReportsModule {}

@Module({ providers: [PlainTasks] })
class PlainModule {}

describe('the kit with nestjs-pino’s LoggerModule', () => {
  const lines: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n')) if (line) lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  let app: TestingModule;

  beforeAll(async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [LoggerModule.forRoot({ pinoHttp: [{ level: 'info' }, destination] }), TasksTestingModule.forRoot(), ReportsModule],
    }).compile();
    app = await moduleRef.init();
  });

  afterAll(async () => {
    await app.close();
  });

  it('runs a handler whose injected PinoLogger logs with the run’s task, jobId and attempt, as production does', async () => {
    const client = app.get(TaskClient);
    const handle = await client.enqueue(ReportTasks, 'build', { reportId: 'r1', fail: true }, { jobId: 'report-r1' });
    await app.get(TasksTesting).drain();
    await expect(handle.waitResult()).rejects.toThrow('no data');
    const own = lines.filter((line) => line.msg === 'building the report');
    expect(own).toEqual([
      expect.objectContaining({ context: 'ReportTasks', reportId: 'r1', task: 'build', jobId: 'report-r1', attempt: 1 }),
      expect.objectContaining({ context: 'ReportTasks', reportId: 'r1', task: 'build', jobId: 'report-r1', attempt: 2 }),
    ]);
    const library = lines.filter((line) => line.task === 'build' && typeof line.event === 'string').map((line) => `${line.event as string} ${line.attempt as number}`);
    expect(library).toEqual(['task.started 1', 'task.failed 1', 'task.started 2', 'task.failed 2']);
  });
});

describe('the kit without LoggerModule', () => {
  it('runs handlers that log through Nest’s Logger, and the library logs nothing', async () => {
    const moduleRef = await Test.createTestingModule({ imports: [TasksTestingModule.forRoot({ mode: 'inline' }), PlainModule] }).compile();
    const app = await moduleRef.init();
    try {
      const handle = await app.get(TaskClient).enqueue(PlainTasks, 'ping', { n: 1 });
      await expect(handle.waitResult()).resolves.toBe(2);
    } finally {
      await app.close();
    }
  });
});
