import { describe, expect, it, vi } from 'vitest';
import { Injectable, Module } from '@nestjs/common';
import { Test } from '@nestjs/testing';

// nestjs-pino as an app without it sees it: not resolvable, and any import of it fails.
vi.mock('nestjs-pino', () => {
  throw new Error('nestjs-pino is not installed');
});
vi.mock('../peers/peer-loader.js', async (original) => {
  const actual = await original<typeof import('../peers/peer-loader.js')>();
  const resolve = (request: string, options?: { paths?: string[] }) => {
    if (request === 'nestjs-pino' || request.startsWith('nestjs-pino/')) throw Object.assign(new Error(`Cannot find module '${request}'`), { code: 'MODULE_NOT_FOUND' });
    return actual.requireFromHere.resolve(request, options);
  };
  const requireFromHere = Object.assign((id: string) => actual.requireFromHere(id), actual.requireFromHere, { resolve });
  return {
    ...actual,
    requireFromHere,
    loadNestjsPino: () => Promise.reject(new Error('nestjs-pino is not installed')),
  };
});

const { Task } = await import('../task/task.decorator.js');
const { TaskClient } = await import('../client/task-client.js');
const { TasksTestingModule } = await import('./tasks-testing.module.js');
const { TasksTesting } = await import('./tasks-testing.js');
const { assertPeersInstalled } = await import('../peers/optional-peers.js');

@Injectable()
class PingTasks {
  @Task({ attempts: 2 })
  async ping(payload: { n: number }): Promise<number> {
    if (payload.n < 0) throw new Error('negative');
    return payload.n + 1;
  }
}

@Module({ providers: [PingTasks] })
class PingModule {}

describe('the kit in an app without nestjs-pino', () => {
  it('runs tasks, retries included (production’s worker would refuse to start)', async () => {
    expect(() => assertPeersInstalled('logContext')).toThrow(/nestjs-pino/);
    const moduleRef = await Test.createTestingModule({ imports: [TasksTestingModule.forRoot(), PingModule] }).compile();
    const app = await moduleRef.init();
    try {
      const client = app.get(TaskClient);
      const ok = await client.enqueue(PingTasks, 'ping', { n: 1 });
      const failing = await client.enqueue(PingTasks, 'ping', { n: -1 });
      expect((await app.get(TasksTesting).drain()).map((o) => o.status)).toEqual(['completed', 'retrying', 'failed']);
      await expect(ok.waitResult()).resolves.toBe(2);
      await expect(failing.waitResult()).rejects.toThrow('negative');
    } finally {
      await app.close();
    }
  });
});
