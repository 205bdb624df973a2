import { describe, expect, it } from 'vitest';
import { redisOptions } from './redis-profiles.js';
import { parseRedisUrl } from '../redaction/connection-url.js';

describe('parseRedisUrl (ioredis parses)', () => {
  it('reads host, port, db, user and a percent-encoded password', () => {
    expect(parseRedisUrl('redis://app:p%40ss%2Fword@cache.internal:6380/3')).toEqual({
      host: 'cache.internal',
      port: 6380,
      db: 3,
      username: 'app',
      password: 'p@ss/word',
    });
  });

  it('takes an IPv6 host in brackets, and query options such as family', () => {
    expect(parseRedisUrl('redis://[::1]:6390/1?family=6')).toMatchObject({ host: '::1', port: 6390, db: 1, family: 6 });
  });

  it('defaults to port 6379 and db 0, and turns TLS on for rediss://', () => {
    expect(parseRedisUrl('redis://127.0.0.1')).toEqual({ host: '127.0.0.1', port: 6379, db: 0 });
    expect(parseRedisUrl('rediss://:secret@redis.example')).toMatchObject({ host: 'redis.example', password: 'secret', tls: {} });
  });

  it.each(['http://127.0.0.1:6379', 'postgres://127.0.0.1', 'not a url'])('rejects %s', (url) => {
    expect(() => parseRedisUrl(url)).toThrow();
  });
});

describe('redisOptions profiles', () => {
  it('gives blocking connections no command timeout and unlimited retries, fail-fast ones one try and a short timeout', () => {
    const url = 'redis://127.0.0.1:6379';
    expect(redisOptions(url, 'blocking')).toMatchObject({ maxRetriesPerRequest: null });
    expect(redisOptions(url, 'blocking').commandTimeout).toBeUndefined();
    expect(redisOptions(url, 'fail-fast')).toMatchObject({ maxRetriesPerRequest: 1, commandTimeout: 3_000 });
    expect(redisOptions(url, 'command')).toMatchObject({ commandTimeout: 10_000 });
  });
});
