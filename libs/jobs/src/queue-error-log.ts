import { Injectable, type OnApplicationBootstrap } from '@nestjs/common';
import { PinoLogger } from 'nestjs-pino';
import { redactSecrets } from 'nestjs-tasks/extras';

const REPEAT_AFTER_MS = 60_000;

/**
 * Logs the Redis errors of the app's own BullMQ queues and workers, which
 * @nestjs/bullmq gives no `error` listener: without one, Node prints the raw
 * error, AUTH arguments (the password) included. Only the message is logged (scrubbed),
 * and the same message once a minute (one outage, many reconnects). Before the
 * app has booted, errors are left to the library's Redis check, which fails
 * the boot naming the fault and the fix.
 */
@Injectable()
export class QueueErrorLog implements OnApplicationBootstrap {
  private booted = false;
  private readonly last = new Map<string, { message: string; at: number }>();

  constructor(private readonly logger: PinoLogger) {
    logger.setContext(QueueErrorLog.name);
  }

  onApplicationBootstrap(): void {
    this.booted = true;
  }

  report(source: string, error: Error): void {
    if (!this.booted) return;
    const now = Date.now();
    // The queues connect with REDIS_URL: whatever of it a driver's message quotes is masked.
    const message = redactSecrets(error.message, process.env.REDIS_URL);
    const last = this.last.get(source);
    if (last?.message === message && now - last.at < REPEAT_AFTER_MS) return;
    this.last.set(source, { message, at: now });
    this.logger.warn(`${source}: ${message}`);
  }
}
