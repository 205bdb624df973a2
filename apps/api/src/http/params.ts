import { BadRequestException } from '@nestjs/common';
import { CronRunStatus } from 'nestjs-tasks';
import { quote } from './query.js';

// Every path and query parameter of the api (and the pause body) is checked here before it reaches
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
  return booleanParam('wait')(raw);
}

/** A yes/no query parameter: exactly "true" or "false". */
export function booleanParam(name: string): (raw: string) => boolean {
  return (raw) => {
    if (raw !== 'true' && raw !== 'false') throw new BadRequestException(`Query parameter "${name}" must be "true" or "false".`);
    return raw === 'true';
  };
}

/** The most upcoming ticks a request may preview per cron. */
export const MAX_PREVIEW_TICKS = 50;

export function parseTicks(raw: string): number {
  const value = /^\d{1,2}$/.test(raw) ? Number(raw) : NaN;
  if (!(value >= 1 && value <= MAX_PREVIEW_TICKS)) {
    throw new BadRequestException(`Query parameter "ticks" must be a whole number from 1 to ${MAX_PREVIEW_TICKS}.`);
  }
  return value;
}

/** Longest pause reason, in characters (code points). */
export const MAX_PAUSE_REASON = 500;
// Tab and line breaks are fine in a reason; other control characters (NUL
// above all, which Postgres text refuses) are not.
const CONTROL = /(?![\t\n\r])\p{Cc}/u;
/** The bidirectional-text controls: they make a viewer show text in another order than it is stored ("Trojan Source"). */
const BIDI_CONTROL = /[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/u;
/** With the u flag a surrogate pair is one code point: this finds only unpaired halves (which Postgres would get as U+FFFD). */
const LONE_SURROGATE = /[\ud800-\udfff]/u;
const SURROGATE_PAIR = /[\ud800-\udbff][\udc00-\udfff]/g;

/** Length in code points, as a person counts characters: an emoji is one, not two UTF-16 units. */
function codePoints(text: string): number {
  return text.length - (text.match(SURROGATE_PAIR)?.length ?? 0);
}

/**
 * The body of POST /cron/:name/pause, already parsed from JSON (undefined
 * when the request had none): `{ "reason"?: string }`, nothing else. A reason
 * is printable text: 1-500 characters, line breaks and tabs allowed, no other
 * control character and no bidi control. It is kept and answered as given
 * (as JSON data: a UI must show it as text, never as HTML).
 */
export function parsePauseBody(body: unknown): { reason?: string } {
  if (body === undefined) return {};
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new BadRequestException('The body must be a JSON object: { "reason"?: string }.');
  }
  for (const key of Object.keys(body)) {
    if (key !== 'reason') throw new BadRequestException(`Unknown field ${quote(key)} in the body: it takes "reason".`);
  }
  const { reason } = body as { reason?: unknown };
  if (reason === undefined) return {};
  if (typeof reason !== 'string') throw new BadRequestException('Field "reason" must be a string.');
  const length = codePoints(reason);
  if (length < 1 || length > MAX_PAUSE_REASON) {
    throw new BadRequestException(`Field "reason" must be 1-${MAX_PAUSE_REASON} characters (leave it out for none).`);
  }
  if (CONTROL.test(reason)) throw new BadRequestException('Field "reason" must not contain control characters other than tab and line breaks.');
  if (BIDI_CONTROL.test(reason)) {
    throw new BadRequestException(
      'Field "reason" must not contain bidirectional-text controls (U+061C, U+200E, U+200F, U+202A-U+202E, U+2066-U+2069): ' +
        'they make text display in another order than it is stored.',
    );
  }
  if (LONE_SURROGATE.test(reason)) throw new BadRequestException('Field "reason" must be valid Unicode (it has an unpaired surrogate).');
  return { reason };
}
