import { BadRequestException } from '@nestjs/common';

const USER_ID = /^[A-Za-z0-9_-]{1,64}$/;

/**
 * Validates a user id from the request. The example has no authentication;
 * a real app takes the user from the session and checks that it may read
 * (or act for) this user before streaming their events.
 */
export function parseUserId(raw: string, where: string): string {
  if (!USER_ID.test(raw)) {
    throw new BadRequestException(`${where} must be 1-64 characters of letters, digits, "-" or "_".`);
  }
  return raw;
}
