import { describe, expect, it } from 'vitest';
import { ServiceUnreachableError, tasksOptionsFromEnv } from 'nestjs-tasks';
import { freePort } from '../support/ports.js';
import { uniquePrefix } from '../support/redis.js';
import { bootFailure } from '../support/in-process.js';

// A user's app sets the library's options in code; only an app that read them
// with tasksOptionsFromEnv() has REDIS_URL. A closed port on 127.0.0.1 refuses at once.
describe('the boot check names the setting the app used', () => {
  it('names the redisUrl option given to forRoot, and no variable or repository advice', async () => {
    const url = `redis://127.0.0.1:${await freePort()}`;
    const error = await bootFailure({ redisUrl: url, prefix: uniquePrefix('optnames-code') });
    expect(error).toBeInstanceOf(ServiceUnreachableError);
    expect(error.message).toContain(`Cannot reach Redis at ${url} (connect ECONNREFUSED`);
    expect(error.message).toContain('point redisUrl at');
    expect(error.message).not.toContain('REDIS_URL');
    expect(error.message).not.toMatch(/docker/i);
  });

  it('names REDIS_URL when the options came from tasksOptionsFromEnv()', async () => {
    const url = `redis://127.0.0.1:${await freePort()}`;
    const error = await bootFailure({ ...tasksOptionsFromEnv({ REDIS_URL: url, TASKS_PREFIX: uniquePrefix('optnames-env') }), metrics: false });
    expect(error).toBeInstanceOf(ServiceUnreachableError);
    expect(error.message).toContain(`Cannot reach Redis at ${url} (connect ECONNREFUSED`);
    expect(error.message).toContain('point REDIS_URL at');
  });
});
