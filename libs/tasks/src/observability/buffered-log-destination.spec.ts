import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { bufferedLogDestination, type BufferedLogDestination } from './buffered-log-destination.js';

describe('bufferedLogDestination', () => {
  let dir: string;
  let file: string;
  let fd: number;
  let destination: BufferedLogDestination | undefined;

  beforeEach(() => {
    vi.useFakeTimers();
    dir = mkdtempSync(join(tmpdir(), 'tasks-log-'));
    file = join(dir, 'out.log');
    fd = openSync(file, 'a');
  });

  afterEach(() => {
    destination?.end();
    destination = undefined;
    vi.useRealTimers();
    closeSync(fd);
    rmSync(dir, { recursive: true, force: true });
  });

  const written = () => readFileSync(file, 'utf8');

  it('holds lines until bufferSize characters are buffered, then writes them in one go, in order', () => {
    destination = bufferedLogDestination({ fd, bufferSize: 30 });
    destination.write('first line\n');
    destination.write('second line\n');
    expect(written()).toBe('');
    destination.write('third line\n');
    expect(written()).toBe('first line\nsecond line\nthird line\n');
  });

  it('writes what is buffered every flushIntervalMs', () => {
    destination = bufferedLogDestination({ fd, flushIntervalMs: 100 });
    destination.write('a line\n');
    vi.advanceTimersByTime(99);
    expect(written()).toBe('');
    vi.advanceTimersByTime(1);
    expect(written()).toBe('a line\n');
  });

  it('writes on flush, flushSync and end, and keeps multi-byte characters whole', () => {
    destination = bufferedLogDestination({ fd });
    destination.write('é\n');
    const done = vi.fn();
    destination.flush(done);
    expect(done).toHaveBeenCalledWith();
    destination.write('日本\n');
    destination.flushSync();
    destination.write('last\n');
    destination.end();
    expect(written()).toBe('é\n日本\nlast\n');
  });

  it('drops the lines of a descriptor that is gone, without throwing', () => {
    closeSync(fd);
    destination = bufferedLogDestination({ fd });
    destination.write('nowhere to go\n');
    expect(() => destination?.flushSync()).not.toThrow();
    fd = openSync(file, 'a');
  });
});
