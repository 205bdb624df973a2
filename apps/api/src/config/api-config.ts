import { AUTH_SECRET_VARIABLE, authSecretProblem } from '../auth/tokens.js';

/** The api's own settings (the library's come from tasksOptionsFromEnv()). */
export interface ApiConfig {
  /** API_AUTH_SECRET, as bytes: signs and checks access tokens. */
  readonly authSecret: Buffer;
  /** SSE_HEARTBEAT_MS: a `: keep-alive` comment on every open stream this often. */
  readonly sseHeartbeatMs: number;
  /** SSE_RETRY_MS: the `retry:` hint each stream starts with (how long an EventSource waits before reconnecting). */
  readonly sseRetryMs: number;
  /** SSE_MAX_STREAMS_PER_USER: open event streams one user may have on one api process. */
  readonly sseMaxStreamsPerUser: number;
  /** SSE_MAX_STREAMS_PER_PROCESS: open event streams one api process serves. */
  readonly sseMaxStreamsPerProcess: number;
  /** SSE_RESERVED_FIRST_STREAMS: of those, the last ones, kept for users without a stream open on the process. */
  readonly sseReservedFirstStreams: number;
  /** Requests one user may make per window, by kind (RATE_LIMIT_ENQUEUE, RATE_LIMIT_CRON_TRIGGER). */
  readonly rateLimits: Readonly<Record<RateLimitKind, number>>;
  /** RATE_LIMIT_WINDOW_MS: the window of those limits. */
  readonly rateLimitWindowMs: number;
  /** METRICS_TOKEN, when set: a static bearer that GET /metrics accepts besides an operator token (for Prometheus). */
  readonly metricsToken?: Buffer;
}

/** What a per-user rate limit counts: enqueued tasks (uploads, welcome emails) or cron triggers. */
export type RateLimitKind = 'enqueue' | 'cronTrigger';

export const API_CONFIG = Symbol('API_CONFIG');

/** A setting the api cannot start with; its message is one line naming the variable. */
export class ApiConfigError extends Error {}

interface IntegerVariable {
  name: string;
  fallback: number;
  min: number;
  max: number;
  unit: string;
}

const HEARTBEAT: IntegerVariable = { name: 'SSE_HEARTBEAT_MS', fallback: 15_000, min: 10, max: 3_600_000, unit: 'milliseconds' };
const RETRY: IntegerVariable = { name: 'SSE_RETRY_MS', fallback: 3_000, min: 0, max: 3_600_000, unit: 'milliseconds' };
const PER_USER: IntegerVariable = { name: 'SSE_MAX_STREAMS_PER_USER', fallback: 5, min: 1, max: 100_000, unit: 'streams' };
const PER_PROCESS: IntegerVariable = { name: 'SSE_MAX_STREAMS_PER_PROCESS', fallback: 1_000, min: 1, max: 1_000_000, unit: 'streams' };
const ENQUEUE_LIMIT: IntegerVariable = { name: 'RATE_LIMIT_ENQUEUE', fallback: 60, min: 1, max: 1_000_000, unit: 'requests' };
const TRIGGER_LIMIT: IntegerVariable = { name: 'RATE_LIMIT_CRON_TRIGGER', fallback: 10, min: 1, max: 1_000_000, unit: 'requests' };
const WINDOW: IntegerVariable = { name: 'RATE_LIMIT_WINDOW_MS', fallback: 60_000, min: 1_000, max: 86_400_000, unit: 'milliseconds' };

/** Reads and checks the api's variables; throws ApiConfigError on the first bad one. */
export function apiConfigFromEnv(env: NodeJS.ProcessEnv = process.env): ApiConfig {
  const problem = authSecretProblem(env[AUTH_SECRET_VARIABLE]);
  if (problem) throw new ApiConfigError(problem);
  const sseMaxStreamsPerProcess = integer(env, PER_PROCESS);
  return {
    authSecret: Buffer.from(env[AUTH_SECRET_VARIABLE] as string, 'utf8'),
    sseHeartbeatMs: integer(env, HEARTBEAT),
    sseRetryMs: integer(env, RETRY),
    sseMaxStreamsPerUser: integer(env, PER_USER),
    sseMaxStreamsPerProcess,
    // Half the process's streams by default: filling a replica then takes that many accounts, not a few.
    sseReservedFirstStreams: integer(env, {
      name: 'SSE_RESERVED_FIRST_STREAMS',
      fallback: Math.floor(sseMaxStreamsPerProcess / 2),
      min: 0,
      max: sseMaxStreamsPerProcess - 1,
      unit: 'streams',
    }),
    rateLimits: { enqueue: integer(env, ENQUEUE_LIMIT), cronTrigger: integer(env, TRIGGER_LIMIT) },
    rateLimitWindowMs: integer(env, WINDOW),
    ...metricsToken(env),
  };
}

const MIN_METRICS_TOKEN_BYTES = 32;

function metricsToken(env: NodeJS.ProcessEnv): { metricsToken?: Buffer } {
  const raw = env.METRICS_TOKEN;
  if (raw === undefined || raw === '') return {};
  if (Buffer.byteLength(raw, 'utf8') < MIN_METRICS_TOKEN_BYTES || /\s/.test(raw)) {
    throw new ApiConfigError(
      `METRICS_TOKEN must be at least ${MIN_METRICS_TOKEN_BYTES} bytes of random data without spaces (make one with \`openssl rand -hex 32\`), or unset.`,
    );
  }
  return { metricsToken: Buffer.from(raw, 'utf8') };
}

function integer(env: NodeJS.ProcessEnv, { name, fallback, min, max, unit }: IntegerVariable): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = /^\d{1,10}$/.test(raw) ? Number(raw) : NaN;
  if (!(value >= min && value <= max)) {
    throw new ApiConfigError(`${name} must be a whole number of ${unit} from ${min} to ${max} (default ${fallback}); got ${JSON.stringify(raw.slice(0, 40))}.`);
  }
  return value;
}
