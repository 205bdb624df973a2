import { describe, expect, it } from 'vitest';
import { parsePublicJobId, publicJobId, storedJobId } from '../task/job-ids.js';
import { workerQueuesFromEnv } from '../entrypoints/run-worker.js';
import { bullQueueName, queueNameProblem, taskQueueOf } from './task-queue-names.js';

describe('task queue names and the job ids of their jobs', () => {
  it('accepts lowercase names and refuses others, and the library’s own', () => {
    expect(queueNameProblem('reports')).toBeUndefined();
    expect(queueNameProblem('gpu-renders2')).toBeUndefined();
    for (const bad of ['', 'Reports', 'a:b', 'a.b', '1st', 'x'.repeat(49), 42]) expect(queueNameProblem(bad), String(bad)).toMatch(/is not a queue name/);
    expect(queueNameProblem('cron')).toContain("the library's own queue");
    expect(bullQueueName('reports')).toBe('tasks.reports');
    expect(taskQueueOf('tasks.reports')).toBe('reports');
  });

  it('names jobs of the default queue as before, and the others <queue>:<id>, both ways', () => {
    expect(publicJobId('12')).toBe('12');
    expect(publicJobId('12', 'tasks.default')).toBe('12');
    expect(publicJobId('key-order-5', 'tasks.reports')).toBe('reports:order-5');
    expect(publicJobId('7', 'tasks.reports')).toBe('reports:7');
    expect(parsePublicJobId('reports:order-5')).toEqual({ queue: 'reports', storedId: storedJobId('order-5') });
    expect(parsePublicJobId('12')).toEqual({ queue: 'default', storedId: '12' });
    expect(parsePublicJobId('order-5')).toEqual({ queue: 'default', storedId: 'key-order-5' });
  });

  it('reads WORKER_QUEUES: names, each with an optional concurrency', () => {
    expect(workerQueuesFromEnv({})).toBeUndefined();
    expect(workerQueuesFromEnv({ WORKER_QUEUES: ' ' })).toBeUndefined();
    expect(workerQueuesFromEnv({ WORKER_QUEUES: 'reports:2, mail:20,default' })).toEqual({ reports: 2, mail: 20, default: undefined });
    for (const bad of ['reports:0', 'reports:x', 'a b', 'reports,,mail']) expect(() => workerQueuesFromEnv({ WORKER_QUEUES: bad }), bad).toThrow('WORKER_QUEUES');
  });
});
