import { Controller, Param, Sse, type MessageEvent } from '@nestjs/common';
import { map, type Observable } from 'rxjs';
import { EventSubscriber } from 'nestjs-tasks';
import { parseUserId } from '../users/user-id.js';

@Controller('users')
export class UserEventsController {
  constructor(private readonly subscriber: EventSubscriber) {}

  /**
   * Server-Sent Events: every event a task publishes to this user from now on,
   * in order, as `data: {"id","name","payload","publishedAt"}` (the SSE `id` is
   * the event's id). The stream ends when the client leaves or the api shuts
   * down; an EventSource then reconnects, to any replica. Events published
   * while no client is connected are not replayed.
   */
  @Sse(':userId/events')
  events(@Param('userId') userId: string): Observable<MessageEvent> {
    const events = this.subscriber.subscribe(parseUserId(userId, 'User id'));
    return events.pipe(map((event) => ({ id: event.id, data: event })));
  }
}
