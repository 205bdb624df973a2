import { writeSync } from 'node:fs';

/** Options of {@link bufferedLogDestination}. */
export interface BufferedLogDestinationOptions {
  /** File descriptor to write to. Default 1 (stdout). */
  fd?: number;
  /** Lines are written once this many characters are buffered. Default 16384. */
  bufferSize?: number;
  /** Buffered lines are written at least this often, ms. Default 100. */
  flushIntervalMs?: number;
  /** While the descriptor refuses writes (a full pipe), at most this many bytes wait; later lines are dropped and counted. Default 16 MiB. */
  maxPendingBytes?: number;
}

/** How long the exit flush keeps retrying a full pipe before it gives up on the rest. */
const EXIT_FLUSH_DEADLINE_MS = 1_000;
const RETRY_MS = 10;

/**
 * A pino destination (`pino(options, bufferedLogDestination())`, or
 * `pinoHttp: [options, bufferedLogDestination()]` for nestjs-pino) that
 * gathers lines and writes them with one `write(2)` per `bufferSize`
 * characters, and at least every `flushIntervalMs`.
 *
 * A worker logs two lines per task. pino's default destination makes one
 * system call per line, and its buffered mode recounts the bytes of its whole
 * pending buffer on every line; on a busy worker either costs more CPU than
 * the library's own work per job (docs/benchmarks.md). Here a line costs an
 * array push.
 *
 * What is buffered is written on `process.exit`, on a normal exit and after an
 * uncaught exception. A process killed with SIGKILL (or an OOM kill) loses at
 * most the last `flushIntervalMs` of lines.
 */
export function bufferedLogDestination(options: BufferedLogDestinationOptions = {}): BufferedLogDestination {
  return new BufferedLogDestination(options);
}

/** What {@link bufferedLogDestination} returns: a pino `DestinationStream` with `flush` and `flushSync`. */
export class BufferedLogDestination {
  private readonly fd: number;
  private readonly bufferSize: number;
  private readonly maxPendingBytes: number;
  private lines: string[] = [];
  private size = 0;
  /** Bytes a full pipe did not take yet; written before any newer line. */
  private pending?: Buffer;
  private retry?: NodeJS.Timeout;
  private dropped = 0;
  private readonly timer: NodeJS.Timeout;
  private readonly onExit = () => this.flushSync();

  constructor({ fd = 1, bufferSize = 16_384, flushIntervalMs = 100, maxPendingBytes = 16 * 1024 * 1024 }: BufferedLogDestinationOptions) {
    this.fd = fd;
    this.bufferSize = bufferSize;
    this.maxPendingBytes = maxPendingBytes;
    this.timer = setInterval(() => this.flush(), flushIntervalMs).unref();
    process.on('exit', this.onExit);
  }

  write(line: string): boolean {
    this.lines.push(line);
    this.size += line.length;
    if (this.size >= this.bufferSize) this.flush();
    return true;
  }

  /** Writes what is buffered now, as far as the descriptor takes it; the rest is retried shortly. */
  flush(callback?: (error?: Error) => void): void {
    this.drain(false);
    callback?.();
  }

  /** Writes everything before returning, waiting out a full pipe for up to a second. */
  flushSync(): void {
    this.drain(true);
  }

  /** Writes what is left and stops the timers (pino's `end`, or when the destination is no longer used). */
  end(): void {
    this.flushSync();
    clearInterval(this.timer);
    clearTimeout(this.retry);
    process.off('exit', this.onExit);
  }

  private drain(wait: boolean): void {
    if (this.size > 0) {
      let chunk = Buffer.from(this.lines.join(''));
      this.lines = [];
      this.size = 0;
      if (this.pending) {
        if (this.pending.length + chunk.length > this.maxPendingBytes) {
          this.dropped += countLines(chunk);
          chunk = Buffer.alloc(0);
        }
        this.pending = Buffer.concat([this.pending, chunk]);
      } else {
        this.pending = chunk;
      }
    }
    if (!this.pending) return;
    const deadline = wait ? Date.now() + EXIT_FLUSH_DEADLINE_MS : 0;
    for (;;) {
      const written = this.tryWrite(this.pending);
      if (written === 'failed') {
        this.pending = undefined;
        return;
      }
      this.pending = written < this.pending.length ? this.pending.subarray(written) : undefined;
      if (!this.pending) break;
      if (!wait || Date.now() >= deadline) {
        if (!wait) this.retryLater();
        return;
      }
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, RETRY_MS);
    }
    if (this.dropped > 0) {
      const note = `{"level":40,"time":${Date.now()},"msg":"${this.dropped} log line(s) dropped: the output did not take them"}\n`;
      this.dropped = 0;
      this.tryWrite(Buffer.from(note));
    }
  }

  /** Bytes written (0 when the pipe is full), or 'failed' when the descriptor is gone: its lines are dropped. */
  private tryWrite(data: Buffer): number | 'failed' {
    try {
      return writeSync(this.fd, data, 0, data.length);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EAGAIN') return 0;
      return 'failed';
    }
  }

  private retryLater(): void {
    if (this.retry) return;
    this.retry = setTimeout(() => {
      this.retry = undefined;
      this.drain(false);
    }, RETRY_MS).unref();
  }
}

function countLines(chunk: Buffer): number {
  let count = 0;
  for (let i = chunk.indexOf(10); i !== -1; i = chunk.indexOf(10, i + 1)) count++;
  return count;
}
