import type { Params } from 'nestjs-pino';
import type { Options } from 'pino-http';
import type { DestinationStream } from 'pino';
import { escapeLogText, isSecretName, redactUrl } from 'nestjs-tasks/extras';
import { loggerParams } from '@app/jobs';

const REDACTED = '[redacted]';
const SECRET_HEADERS = ['authorization', 'cookie', 'proxy-authorization'];

interface SerializedRequest {
  url?: string;
  query?: Record<string, unknown>;
  params?: Record<string, unknown>;
  headers?: Record<string, unknown>;
  [key: string]: unknown;
}

/**
 * The example apps' logger settings, with credentials kept out of the request
 * logs: the Authorization and Cookie headers and every query parameter that
 * holds a secret (`access_token`, the SSE stream's token; any `password`,
 * `secret`, `token`…) are logged as "[redacted]". What the client sent (URL,
 * query, path parameters, headers) is logged with its control and bidi
 * characters escaped (escapeLogText).
 */
export function apiLoggerParams(): Params {
  const params = loggerParams();
  const [options, stream] = params.pinoHttp as [Options, DestinationStream];
  return {
    ...params,
    pinoHttp: [{ ...options, serializers: { ...options.serializers, req: redactRequest } }, stream],
  };
}

/** pino-http's serialized request, copied (its `headers` is the live request's) with the credentials replaced and the client's text escaped. */
export function redactRequest(req: SerializedRequest): SerializedRequest {
  const copy: SerializedRequest = { ...req };
  if (typeof req.url === 'string') copy.url = escapeLogText(redactUrl(req.url, { mask: REDACTED }));
  if (req.query && typeof req.query === 'object') {
    copy.query = escapeFields(Object.fromEntries(Object.entries(req.query).map(([name, value]) => [name, isSecretName(name) ? REDACTED : value])));
  }
  if (req.params && typeof req.params === 'object') copy.params = escapeFields(req.params);
  if (req.headers && typeof req.headers === 'object') {
    const headers = { ...req.headers };
    for (const name of SECRET_HEADERS) if (name in headers) headers[name] = REDACTED;
    copy.headers = escapeFields(headers);
  }
  return copy;
}

/** A copy of `record` (query, path parameters, headers: strings or arrays of them) with every name and string escaped. */
function escapeFields(record: Record<string, unknown>): Record<string, unknown> {
  const escape = (value: unknown): unknown =>
    typeof value === 'string' ? escapeLogText(value) : Array.isArray(value) ? value.map((item) => escape(item)) : value;
  return Object.fromEntries(Object.entries(record).map(([name, value]) => [escapeLogText(name), escape(value)]));
}
