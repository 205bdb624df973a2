import { randomBytes } from 'node:crypto';
import { mintToken, type MintOptions, type Role } from '../../apps/api/src/auth/tokens.js';

/** The API_AUTH_SECRET of the apis this test process starts (random per run). */
export const TEST_AUTH_SECRET = randomBytes(32).toString('base64url');

/** Environment for startApp('api', ...): the secret the tokens below are signed with. */
export const AUTH_ENV = { API_AUTH_SECRET: TEST_AUTH_SECRET } as const;

/** A token for `userId`, signed as the api under test expects, with the api's own code. */
export function tokenFor(userId: string, role: Role = 'user', options: Omit<MintOptions, 'sub' | 'role'> = {}): string {
  return mintToken(TEST_AUTH_SECRET, { sub: userId, role, ...options });
}

/** Request headers that authenticate as `userId`. */
export function authHeaders(userId: string, role: Role = 'user'): { authorization: string } {
  return { authorization: `Bearer ${tokenFor(userId, role)}` };
}

/** Headers of an operator (GET /cron/runs, POST /cron/:name/trigger). */
export function operatorHeaders(userId = 'ops'): { authorization: string } {
  return authHeaders(userId, 'operator');
}
