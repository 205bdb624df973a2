import { HttpException, HttpStatus, Inject, Injectable } from '@nestjs/common';
import { API_CONFIG, type ApiConfig } from '../config/api-config.js';

/**
 * Counts the event streams this process serves, per user and in all, and
 * refuses one more past SSE_MAX_STREAMS_PER_USER or SSE_MAX_STREAMS_PER_PROCESS
 * with a 429 that says which limit was reached. The last
 * SSE_RESERVED_FIRST_STREAMS slots go only to users without a stream open
 * here, so users with many tabs (or one person with many accounts) cannot
 * take every slot. A slot is freed when its stream closes (the client left,
 * or the api ended it).
 */
@Injectable()
export class StreamSlots {
  private total = 0;
  private readonly perUser = new Map<string, number>();

  constructor(@Inject(API_CONFIG) private readonly config: ApiConfig) {}

  /** Takes a slot for `userId`; returns the function that frees it (idempotent). */
  acquire(userId: string): () => void {
    const mine = this.perUser.get(userId) ?? 0;
    if (mine >= this.config.sseMaxStreamsPerUser) {
      throw tooMany(
        `Too many open event streams for user "${userId}": ${mine} of at most ${this.config.sseMaxStreamsPerUser} ` +
          '(SSE_MAX_STREAMS_PER_USER). Close one (e.g. another browser tab) and reconnect.',
      );
    }
    if (this.total >= this.config.sseMaxStreamsPerProcess) {
      throw tooMany(
        `This api process serves its maximum of ${this.config.sseMaxStreamsPerProcess} event streams ` +
          '(SSE_MAX_STREAMS_PER_PROCESS). Retry later, or on another replica.',
      );
    }
    const shared = this.config.sseMaxStreamsPerProcess - this.config.sseReservedFirstStreams;
    if (mine > 0 && this.total >= shared) {
      throw tooMany(
        `This api process keeps its last ${this.config.sseReservedFirstStreams} event streams for users without one open ` +
          `(SSE_RESERVED_FIRST_STREAMS); user "${userId}" has ${mine} open. Close one (e.g. another browser tab) and reconnect, or retry later.`,
      );
    }
    this.total++;
    this.perUser.set(userId, mine + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.total--;
      const left = (this.perUser.get(userId) ?? 1) - 1;
      if (left > 0) this.perUser.set(userId, left);
      else this.perUser.delete(userId);
    };
  }

  /** Open streams: in all, or of one user. */
  count(userId?: string): number {
    return userId === undefined ? this.total : (this.perUser.get(userId) ?? 0);
  }
}

function tooMany(message: string): HttpException {
  return new HttpException({ statusCode: HttpStatus.TOO_MANY_REQUESTS, error: 'Too Many Requests', message }, HttpStatus.TOO_MANY_REQUESTS);
}
