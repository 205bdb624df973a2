import type { Redis } from 'ioredis';

/**
 * Unlinks every key matching the SCAN glob `pattern`, a page at a time (SCAN
 * does not block Redis as KEYS would); resolves with how many it unlinked.
 * Escape a literal prefix's glob characters before building the pattern.
 */
export async function unlinkMatching(
  redis: Redis,
  pattern: string,
): Promise<number> {
  let unlinked = 0;
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(
      cursor,
      'MATCH',
      pattern,
      'COUNT',
      1_000,
    );
    cursor = next;
    if (keys.length > 0) unlinked += await redis.unlink(...keys);
  } while (cursor !== '0');
  return unlinked;
}
