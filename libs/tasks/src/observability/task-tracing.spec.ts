import { afterAll, describe, expect, it } from 'vitest';
import { propagation, trace } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import { startProcessSpan } from './task-tracing.js';

const job = (metadata?: string) => ({ id: '7', queueName: 'tasks.default', opts: metadata ? { telemetry: { metadata } } : {} });
const TRACE_ID = '0af7651916cd43dd8448eb211c80319c';
const carried = JSON.stringify({ traceparent: `00-${TRACE_ID}-b7ad6b7169203331-01` });

// In order: the library's tracer is bound to the API's global provider, which
// trace.disable() replaces, so the globals are set once and removed at the end.
describe('startProcessSpan', () => {
  afterAll(() => {
    trace.disable();
    propagation.disable();
  });

  it('without an SDK and without a trace in the job, gives a no-op span, nothing to propagate, and builds no attributes', () => {
    let built = 0;
    const { span, context } = startProcessSpan(job(), () => (built++, {}));
    expect(span.isRecording()).toBe(false);
    expect(context).toBeUndefined();
    expect(built).toBe(0);
  });

  it('without a tracer provider, still carries on the trace a job brings where a propagator is registered', () => {
    propagation.setGlobalPropagator(new W3CTraceContextPropagator());
    const { span, context } = startProcessSpan(job(carried), () => ({}));
    expect(span.isRecording()).toBe(false);
    expect(context && trace.getSpanContext(context)?.traceId).toBe(TRACE_ID);
  });

  it('records the attempt once an SDK registers a provider, even after the worker booted', async () => {
    const exporter = new InMemorySpanExporter();
    const provider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] });
    expect(trace.setGlobalTracerProvider(provider)).toBe(true);
    const { span, context } = startProcessSpan(job(), () => ({ 'tasks.task.name': 'echo' }));
    expect(span.isRecording()).toBe(true);
    expect(context).toBeDefined();
    span.end();
    await provider.forceFlush();
    const spans = exporter.getFinishedSpans().map((s) => [s.name, s.attributes['tasks.task.name'], s.attributes['messaging.message.id']]);
    expect(spans).toEqual([['process tasks.default', 'echo', '7']]);
  });
});
