import { BadRequestException } from '@nestjs/common';
import { USER_ID_PATTERN } from '../auth/tokens.js';

/**
 * Validates a user id from the request (a path or query parameter). Which user
 * the caller may act for is decided by its access token (see auth/), not here.
 */
export function parseUserId(raw: string, where: string): string {
  if (!USER_ID_PATTERN.test(raw)) {
    throw new BadRequestException(`${where} must be 1-64 characters of letters, digits, "-" or "_".`);
  }
  return raw;
}
