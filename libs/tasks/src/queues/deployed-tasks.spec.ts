import { describe, expect, it } from 'vitest';
import { lacksHandlers } from '../errors/tasks.messages.js';
import { lackedTasks, readWorkerEntries, type DeployedApp } from './deployed-tasks.js';

const entry = (seenAt: number, queues: Record<string, string[]>, runs = true) => JSON.stringify({ seenAt, queues, runs });

describe('the running workers of a prefix', () => {
  const now = 1_000_000;

  it('reads the other workers’ fresh entries, and names the stale and malformed ones for deletion', () => {
    const { workers, stale } = readWorkerEntries(
      {
        self: entry(now, { default: ['a'] }),
        fresh: entry(now - 59_000, { default: ['a', 'b'], reports: [] }),
        api: entry(now, { default: ['c'] }, false),
        crashed: entry(now - 61_000, { default: ['a'] }),
        garbage: '{not json',
        // Formats of earlier builds: tasks rather than queues, or no `runs`.
        older: JSON.stringify({ seenAt: now, tasks: { a: 'default' } }),
        noRuns: JSON.stringify({ seenAt: now, queues: { default: ['a'] } }),
        wrongShape: JSON.stringify({ seenAt: now, queues: { default: 'a' } }),
        nothing: 'null',
      },
      'self',
      now,
    );
    expect(workers).toEqual([
      { app: 'fresh', queues: { default: ['a', 'b'], reports: [] }, runs: true },
      { app: 'api', queues: { default: ['c'] }, runs: false },
    ]);
    expect(stale.sort()).toEqual(['crashed', 'garbage', 'noRuns', 'nothing', 'older', 'wrongShape']);
  });

  it('lists each task others run from this worker’s queues and this worker lacks there once, with how many workers run it', () => {
    const others: DeployedApp[] = [
      { app: 'old-1', queues: { default: ['removed', 'moved', 'shared'], reports: ['report'] }, runs: true },
      { app: 'old-2', queues: { default: ['removed', 'moved', 'shared'], reports: ['report'] }, runs: true },
      { app: 'old-api-pool', queues: { mail: ['mail'] }, runs: true },
      // An api runs no task: a worker lacking its tasks is nothing to warn about at boot.
      { app: 'new-api', queues: { default: ['added'] }, runs: false },
    ];
    // This worker has `moved` on reports, not default, and does not consume mail.
    const lacking = lackedTasks(others, { default: ['shared'], reports: ['moved', 'report'] });
    expect(lacking).toEqual([
      { name: 'moved', queue: 'default', workers: 2 },
      { name: 'removed', queue: 'default', workers: 2 },
    ]);
    const message = lacksHandlers(lacking);
    expect(message).toContain('"moved", "removed" on queue "default" (run by 2 running worker(s))');
    expect(message.split('"removed"')).toHaveLength(2);
    expect(lackedTasks(others, { mail: ['mail'] })).toEqual([]);
  });
});
