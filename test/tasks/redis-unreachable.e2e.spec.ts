import { describe, expect, it } from 'vitest';
import { AppProcess, ENTRY } from '../support/processes.js';
import { uniquePrefix } from '../support/redis.js';

describe('apps/worker without Redis', () => {
  // The test's own timeout is the "within seconds": a worker that hangs on boot fails it.
  it('exits non-zero within seconds, saying Redis is unreachable and which variable points at it', { timeout: 30_000 }, async () => {
    // Nothing listens on port 1, so every connection is refused.
    const worker = new AppProcess('worker', ENTRY.worker, { REDIS_URL: 'redis://127.0.0.1:1', TASKS_PREFIX: uniquePrefix('noredis') });
    try {
      const code = await worker.exited;
      expect(code, worker.tail()).not.toBe(0);
      expect(code, 'killed by a signal rather than exiting').not.toBeNull();
      const output = worker.output.join('\n');
      expect(output).toContain('Cannot reach Redis at redis://127.0.0.1:1');
      // The example app reads its options with tasksOptionsFromEnv(): the message names the variable it was started with.
      expect(output).toContain('or point REDIS_URL at one that does');
    } finally {
      await worker.stop(1_000);
    }
  });
});
