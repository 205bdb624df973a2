import { BadRequestException } from '@nestjs/common';
import { CronRunStatus } from 'nestjs-tasks';

// Every path and query parameter of the api is checked here before it reaches
// Redis or Postgres: a value outside these shapes (NUL bytes, invalid UTF-8,
// which Express decodes to U+FFFD, oversized or empty values) is a 400 with the reason.

const UPLOAD_ID = /^[A-Za-z0-9_-]{1,64}$/;
/** Job ids: BullMQ's own (digits) and idempotency keys; the library decides which exist. */
const JOB_ID = /^[A-Za-z0-9_.:-]{1,200}$/;
/** Cron names, as the library allows them (its own are e.g. `tasks.sweepLostRuns`). */
const CRON_NAME = /^[A-Za-z0-9_.-]{1,200}$/;
const STATUSES = Object.values(CronRunStatus) as string[];

export function parseUploadId(raw: string): string {
  if (!UPLOAD_ID.test(raw)) throw new BadRequestException('Upload id must be 1-64 characters of letters, digits, "-" or "_".');
  return raw;
}

export function parseJobId(raw: string): string {
  if (!JOB_ID.test(raw)) throw new BadRequestException('Job id must be 1-200 characters of letters, digits, "_", ".", ":" or "-".');
  return raw;
}

export function parseCronName(raw: string, where: string): string {
  if (!CRON_NAME.test(raw)) throw new BadRequestException(`${where} must be 1-200 characters of letters, digits, "_", "." or "-".`);
  return raw;
}

export function parseCronStatus(raw: string): CronRunStatus {
  if (!STATUSES.includes(raw)) throw new BadRequestException(`Query parameter "status" must be one of ${STATUSES.join(', ')}.`);
  return raw as CronRunStatus;
}

export function parseLimit(raw: string): number {
  const value = /^\d{1,3}$/.test(raw) ? Number(raw) : NaN;
  if (!(value >= 1 && value <= 500)) throw new BadRequestException('Query parameter "limit" must be a whole number from 1 to 500.');
  return value;
}

export function parseWait(raw: string): boolean {
  if (raw !== 'true' && raw !== 'false') throw new BadRequestException('Query parameter "wait" must be "true" or "false".');
  return raw === 'true';
}
