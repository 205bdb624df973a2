import type { Redis } from 'ioredis';

/**
 * The keys matching the SCAN glob `pattern`, a page at a time (SCAN does not
 * block Redis as KEYS would). Escape a literal prefix's glob characters
 * before building the pattern.
 */
export async function* scanMatching(redis: Redis, pattern: string): AsyncGenerator<string[]> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1_000);
    cursor = next;
    if (keys.length > 0) yield keys;
  } while (cursor !== '0');
}

/** Unlinks every key matching `pattern` (see {@link scanMatching}); resolves with how many it unlinked. */
export async function unlinkMatching(redis: Redis, pattern: string): Promise<number> {
  let unlinked = 0;
  for await (const keys of scanMatching(redis, pattern)) unlinked += await redis.unlink(...keys);
  return unlinked;
}
