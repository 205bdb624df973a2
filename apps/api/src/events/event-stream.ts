import type { Request, Response } from 'express';

export interface EventStreamOptions {
  /** Sent first, as `retry: <ms>`: how long an EventSource waits before it reconnects. */
  retryMs: number;
  /** A `: keep-alive` comment this often, so proxies and load balancers do not cut an idle stream and a dead client is noticed. */
  heartbeatMs: number;
  /** Past this many bytes waiting for a client that does not read, the connection is dropped (its EventSource reconnects). */
  maxBufferedBytes: number;
}

/** An open Server-Sent Events response. */
export interface EventStream {
  /** Sends one event: `id: <id>` and `data: <JSON>`. */
  send(id: string, data: unknown): void;
  /** Ends the response cleanly (the client may reconnect). */
  end(): void;
  /** Calls `listener` once, when the stream is over for any reason (the client left, end(), an error). */
  onClose(listener: () => void): void;
}

/**
 * Starts a Server-Sent Events response on `res` (status 200 and the headers
 * are sent at once): the `retry:` hint first, then events as they are sent and
 * a heartbeat comment every `heartbeatMs`.
 */
export function openEventStream(req: Request, res: Response, options: EventStreamOptions): EventStream {
  const listeners: Array<() => void> = [];
  let closed = false;
  let heartbeat: NodeJS.Timeout | undefined;
  const close = () => {
    if (closed) return;
    closed = true;
    clearInterval(heartbeat);
    for (const listener of listeners.splice(0)) listener();
  };

  // A long-lived response: no idle timeout on the socket, no Nagle delay on small frames.
  req.socket.setTimeout(0);
  req.socket.setNoDelay(true);
  req.socket.setKeepAlive(true);
  res.writeHead(200, {
    'Content-Type': 'text/event-stream; charset=utf-8',
    'Cache-Control': 'no-cache, no-store, no-transform',
    Connection: 'keep-alive',
    // nginx would otherwise buffer the stream.
    'X-Accel-Buffering': 'no',
  });
  res.flushHeaders();
  res.on('close', close);

  const write = (frame: string) => {
    if (closed || res.writableEnded) return;
    if (res.writableLength > options.maxBufferedBytes) {
      // The client does not read: rather than hold its events in memory, drop it.
      res.destroy();
      return;
    }
    res.write(frame);
  };

  write(`retry: ${options.retryMs}\n\n`);
  heartbeat = setInterval(() => write(': keep-alive\n\n'), options.heartbeatMs);
  heartbeat.unref();
  // A HEAD request gets the headers only; a client that left during the guards is gone already.
  if (req.method === 'HEAD') res.end();
  if (res.destroyed || req.socket.destroyed) close();

  return {
    send: (id, data) => write(`id: ${id.replace(/[\r\n\0]/g, '')}\ndata: ${JSON.stringify(data)}\n\n`),
    end: () => {
      if (!res.writableEnded) res.end();
      close();
    },
    onClose: (listener) => {
      if (closed) listener();
      else listeners.push(listener);
    },
  };
}
