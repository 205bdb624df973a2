import {
  INVALID_SPAN_CONTEXT,
  ProxyTracerProvider,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  context,
  propagation,
  trace,
  type Attributes,
  type Context,
  type Link,
  type Span,
  type TextMapGetter,
} from '@opentelemetry/api';
import { Injectable } from '@nestjs/common';
import type { Job, JobsOptions } from 'bullmq';
import { publicJobId } from '../task/job-ids.js';
import { TasksEvents } from '../events/tasks-events.js';

/**
 * OpenTelemetry spans of the library, through `@opentelemetry/api` alone: a
 * no-op until the application registers an SDK. The W3C trace context of the
 * code that enqueues travels in the job (BullMQ's own propagation slot,
 * `opts.telemetry.metadata`), so each attempt's `process` span is a child of
 * its `send` (or, for `enqueueMany`, its `create`) span. Names, kinds and
 * attributes follow the OpenTelemetry messaging semantic conventions.
 */
const tracer = trace.getTracer('nestjs-tasks');

/** What the API's global provider delegates to while no SDK registered one (a shared no-op provider). */
const NO_PROVIDER = new ProxyTracerProvider().getDelegate();

/** One non-recording span for every untraced attempt: it holds no state, so one serves all. */
const UNTRACED = { span: trace.wrapSpanContext(INVALID_SPAN_CONTEXT), context: undefined };

/** Whether an SDK registered a tracer provider (it may do so after the worker boots, so this is asked per job). */
function tracingOn(): boolean {
  const provider = trace.getTracerProvider();
  return !(provider instanceof ProxyTracerProvider) || provider.getDelegate() !== NO_PROVIDER;
}

export const MESSAGING_SYSTEM = 'bullmq';

/** Attributes of the library's own, beside the semantic conventions'. */
export const TASKS_ATTRIBUTES = {
  task: 'tasks.task.name',
  attempt: 'tasks.attempt',
  maxAttempts: 'tasks.max_attempts',
  outcome: 'tasks.outcome',
  cron: 'tasks.cron.name',
  tick: 'tasks.cron.tick',
  trigger: 'tasks.cron.trigger',
  fencingToken: 'tasks.cron.fencing_token',
  runId: 'tasks.cron.run_id',
} as const;

type Carrier = Record<string, string>;

const carrierGetter: TextMapGetter<Carrier> = {
  keys: (carrier) => Object.keys(carrier),
  get: (carrier, key) => carrier[key],
};

function messagingAttributes(operation: 'send' | 'create' | 'process', queue: string): Attributes {
  return {
    'messaging.system': MESSAGING_SYSTEM,
    'messaging.operation.type': operation,
    'messaging.operation.name': operation,
    'messaging.destination.name': queue,
  };
}

/** A producer span (`send <queue>`, or `create <queue>` for one job of a batch), and the job options that carry its context. */
export function startProducerSpan(
  operation: 'send' | 'create',
  queue: string,
  task: string,
  jobOptions: JobsOptions,
): { span: Span; jobOptions: JobsOptions } {
  const parent = context.active();
  const span = tracer.startSpan(`${operation} ${queue}`, { kind: SpanKind.PRODUCER }, parent);
  if (span.isRecording()) span.setAttributes({ ...messagingAttributes(operation, queue), [TASKS_ATTRIBUTES.task]: task });
  // Without an SDK the span is a no-op with an invalid context: nothing to carry, nothing to pay.
  if (!trace.isSpanContextValid(span.spanContext())) return { span, jobOptions };
  const carrier: Carrier = {};
  propagation.inject(trace.setSpan(parent, span), carrier);
  if (Object.keys(carrier).length === 0) return { span, jobOptions };
  return { span, jobOptions: { ...jobOptions, telemetry: { metadata: JSON.stringify(carrier) } } };
}

/** The batch span of `enqueueMany`: `send <queue>`, linked to each job's `create` span. */
export function startBatchSpan(queue: string, count: number, links: Link[]): Span {
  return tracer.startSpan(`send ${queue}`, {
    kind: SpanKind.PRODUCER,
    attributes: { ...messagingAttributes('send', queue), 'messaging.batch.message_count': count },
    links,
  });
}

/** The context the job was enqueued in (the root context when it carries none, or an unreadable one). */
export function jobContext(job: Pick<Job, 'opts'>): Context {
  const metadata = job.opts.telemetry?.metadata;
  if (!metadata) return ROOT_CONTEXT;
  try {
    return propagation.extract(ROOT_CONTEXT, JSON.parse(metadata) as Carrier, carrierGetter);
  } catch {
    return ROOT_CONTEXT;
  }
}

/**
 * One attempt's `process <queue>` span, child of the enqueueing context, and
 * the context to run the handler in: none when the span carries no valid
 * context (no SDK, no trace in the job), as there is nothing to propagate.
 */
export function startProcessSpan(job: Pick<Job, 'id' | 'queueName' | 'opts'>, attributes: () => Attributes): { span: Span; context: Context | undefined } {
  // The common case, once per job: no SDK, no trace in the job; the API's own span would be a no-op too.
  if (!job.opts.telemetry?.metadata && !tracingOn()) return UNTRACED;
  const parent = jobContext(job);
  const span = tracer.startSpan(`process ${job.queueName}`, { kind: SpanKind.CONSUMER }, parent);
  // Once per job: without an SDK the span records nothing, and its attributes are not even built.
  if (span.isRecording()) {
    span.setAttributes({ ...messagingAttributes('process', job.queueName), 'messaging.message.id': publicJobId(String(job.id), job.queueName), ...attributes() });
  }
  // Without an SDK and without a trace in the job, the span is the API's shared invalid one: checked by
  // identity first, as that is the common case and the validity check runs regular expressions.
  const spanContext = span.spanContext();
  const nothingToCarry = spanContext === INVALID_SPAN_CONTEXT || !trace.isSpanContextValid(spanContext);
  return { span, context: nothingToCarry ? undefined : trace.setSpan(parent, span) };
}

/** Names the job a producer span sent, once BullMQ gave it its id. */
export function setMessageId(span: Span, jobId: string, bullQueue: string): void {
  span.setAttribute('messaging.message.id', publicJobId(jobId, bullQueue));
}

/**
 * What the lifecycle events add to the span of the step that emits them: a
 * cron run's span gets its row and fencing token once it is claimed (the
 * events are emitted inside the run's span context).
 */
@Injectable()
export class RunSpanAnnotations {
  constructor(events: TasksEvents) {
    events.on('cron.run.claimed', ({ runId, fencingToken }) => {
      if (runId !== undefined) trace.getActiveSpan()?.setAttributes({ [TASKS_ATTRIBUTES.runId]: runId, [TASKS_ATTRIBUTES.fencingToken]: fencingToken });
    });
  }
}

/** Runs `fn` in `spanContext` (when there is one), so spans the handler starts are children of its span. */
export function withSpan<T>(spanContext: Context | undefined, fn: () => T): T {
  return spanContext ? context.with(spanContext, fn) : fn();
}

/** Ends a span as failed: ERROR status with the message, `error.type` the error's class, the exception recorded. */
export function endWithError(span: Span, error: unknown, attributes: Attributes = {}): void {
  const err = error instanceof Error ? error : new Error(String(error));
  span.recordException(err);
  span.setAttributes({ 'error.type': err.constructor.name === 'Error' ? err.name : err.constructor.name, ...attributes });
  span.setStatus({ code: SpanStatusCode.ERROR, message: err.message });
  span.end();
}
