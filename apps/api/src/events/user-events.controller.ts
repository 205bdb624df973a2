import { ForbiddenException, Controller, Get, Inject, Logger, Param, Query, Req, Res } from '@nestjs/common';
import type { Request, Response } from 'express';
import { EventSubscriber } from 'nestjs-tasks/extras';
import { AcceptQueryToken, Caller, type Principal } from '../auth/auth.decorators.js';
import { API_CONFIG, type ApiConfig } from '../config/api-config.js';
import { readQuery } from '../http/query.js';
import { parseUserId } from '../users/user-id.js';
import { openEventStream } from './event-stream.js';
import { StreamSlots } from './stream-slots.js';

/** Bytes of events that may wait for a client that is not reading before it is dropped. */
const MAX_BUFFERED_BYTES = 1024 * 1024;

@Controller('users')
export class UserEventsController {
  private readonly logger = new Logger(UserEventsController.name);

  constructor(
    private readonly subscriber: EventSubscriber,
    private readonly slots: StreamSlots,
    @Inject(API_CONFIG) private readonly config: ApiConfig,
  ) {}

  /**
   * Server-Sent Events: every event a task publishes to this user from now on,
   * in order, as `data: {"id","name","payload","publishedAt"}` (the SSE `id` is
   * the event's id). Only for the user the token is for (403 otherwise), and at
   * most SSE_MAX_STREAMS_PER_USER / SSE_MAX_STREAMS_PER_PROCESS at once, the
   * last SSE_RESERVED_FIRST_STREAMS of them for users' first streams (429).
   * The stream starts with `retry:` and carries a `: keep-alive` comment every
   * SSE_HEARTBEAT_MS. It ends when the client leaves or the api shuts down; an
   * EventSource then reconnects, to any replica. Events published while no
   * client is connected are not replayed.
   */
  @Get(':userId/events')
  @AcceptQueryToken()
  events(
    @Param('userId') rawUserId: string,
    @Query() query: unknown,
    @Caller() caller: Principal,
    @Req() req: Request,
    @Res() res: Response,
  ): void {
    // The token itself was checked by AuthGuard.
    readQuery(query, { access_token: (value) => value });
    const userId = parseUserId(rawUserId, 'User id');
    if (userId !== caller.userId) {
      throw new ForbiddenException(`The events of user "${userId}" are streamed only to that user; this token is for "${caller.userId}".`);
    }
    const release = this.slots.acquire(userId);
    let events;
    try {
      events = this.subscriber.subscribe(userId);
    } catch (error) {
      release();
      throw error;
    }
    const stream = openEventStream(req, res, {
      retryMs: this.config.sseRetryMs,
      heartbeatMs: this.config.sseHeartbeatMs,
      maxBufferedBytes: MAX_BUFFERED_BYTES,
    });
    // Completes when the api shuts down: end the response, so the client reconnects elsewhere.
    const subscription = events.subscribe({
      next: (event) => stream.send(event.id, event),
      complete: () => stream.end(),
      error: (error: Error) => {
        this.logger.warn(`Ending the event stream of user "${userId}": ${error.message}`);
        stream.end();
      },
    });
    stream.onClose(() => {
      subscription.unsubscribe();
      release();
    });
  }
}
