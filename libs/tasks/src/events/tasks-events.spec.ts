import { afterEach, describe, expect, it, vi } from 'vitest';
import { Logger } from '@nestjs/common';
import { TasksEvents } from './tasks-events.js';
import { TASKS_EVENT_NAMES, errorType, type TaskStartedEvent } from './lifecycle-events.js';
import { TasksConfigurationError, TaskTimeoutError } from '../errors/tasks.errors.js';

const started: TaskStartedEvent = { task: 'mail.send', queue: 'tasks.default', jobId: '42', attempt: 1, maxAttempts: 3, manualRetry: false };

describe('TasksEvents', () => {
  afterEach(() => vi.restoreAllMocks());

  it('calls the listeners of an event, in the order they subscribed, with its payload, until they unsubscribe', () => {
    const events = new TasksEvents();
    const heard: string[] = [];
    const first = events.on('task.started', (event) => heard.push(`first ${event.jobId}`));
    events.on('task.started', (event) => heard.push(`second ${event.attempt}`));
    events.on('task.retried', () => heard.push('retried'));
    events.emit('task.started', started);
    first();
    first();
    events.emit('task.started', { ...started, attempt: 2 });
    expect(heard).toEqual(['first 42', 'second 1', 'second 2']);
  });

  it('says whether an event has listeners, so a step can skip what nobody reads', () => {
    const events = new TasksEvents();
    expect(events.listens('job.handedBack')).toBe(false);
    const off = events.on('job.handedBack', () => undefined);
    expect(events.listens('job.handedBack')).toBe(true);
    off();
    expect(events.listens('job.handedBack')).toBe(false);
  });

  it('logs a listener that throws, or whose promise rejects, and still calls the others; emit never throws', async () => {
    const logged = vi.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined);
    const events = new TasksEvents();
    const heard: number[] = [];
    events.on('task.started', () => {
      throw new TypeError('boom at redis://:hunter2@cache:6379');
    });
    events.on('task.started', () => Promise.reject(new Error('late boom')));
    events.on('task.started', (event) => heard.push(event.attempt));
    expect(() => events.emit('task.started', started)).not.toThrow();
    expect(heard).toEqual([1]);
    await vi.waitFor(() => expect(logged).toHaveBeenCalledTimes(2));
    const lines = logged.mock.calls.map(([line]) => String(line));
    expect(lines[0]).toContain('"task.started"');
    expect(lines[0]).toContain('TypeError: boom');
    expect(lines.join('\n')).not.toContain('hunter2');
    expect(lines[1]).toContain('late boom');
  });

  it('a listener that subscribes or unsubscribes during an emit changes the next emit, not this one', () => {
    const events = new TasksEvents();
    const heard: string[] = [];
    const off = events.on('task.started', () => {
      heard.push('a');
      off();
      events.on('task.started', () => heard.push('b'));
    });
    events.emit('task.started', started);
    events.emit('task.started', started);
    expect(heard).toEqual(['a', 'b']);
  });

  it('refuses a name that is no event, listing the events', () => {
    const events = new TasksEvents();
    const subscribe = () => events.on('task.done' as never, () => undefined);
    expect(subscribe).toThrow(TasksConfigurationError);
    expect(subscribe).toThrow(/"task.done".*task\.started, task\.finished/);
  });

  it('names every event of the map once', () => {
    expect(new Set(TASKS_EVENT_NAMES).size).toBe(TASKS_EVENT_NAMES.length);
    expect(TASKS_EVENT_NAMES).toContain('cron.run.finished');
  });

  it("gives an error's class, never its message", () => {
    expect(errorType(new TaskTimeoutError('secret payload value'))).toBe('TaskTimeoutError');
    expect(errorType(new TypeError('x'))).toBe('TypeError');
    expect(errorType(Object.assign(new Error('x'), { name: 'AbortError' }))).toBe('AbortError');
    expect(errorType('a string')).toBe('string');
  });
});
