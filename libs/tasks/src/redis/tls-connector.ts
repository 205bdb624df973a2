import { connect as tlsConnect, type ConnectionOptions } from 'node:tls';
import { AbstractConnector } from 'ioredis';

type NetStream = Awaited<ReturnType<AbstractConnector['connect']>>;

/** What ioredis hands a connector: the client's options. */
interface ConnectorOptions {
  host?: string;
  port?: number;
  family?: number;
  tls?: ConnectionOptions;
  disconnectTimeout?: number;
}

/**
 * ioredis' TLS connection, with one difference: the socket keeps an error
 * listener for its whole life. ioredis listens for a socket error once, and a
 * failed handshake (a certificate it rejects) sometimes emits a second one
 * (an alert, ECONNRESET) that would then crash the process as an uncaught
 * error. The first error still reaches ioredis, which reports and retries as usual.
 */
export class TlsConnector extends AbstractConnector {
  private readonly options: ConnectorOptions;

  constructor(options: unknown) {
    const typed = options as ConnectorOptions;
    super(typed.disconnectTimeout ?? 2_000);
    this.options = typed;
  }

  connect(): Promise<NetStream> {
    const { host, port, family, tls } = this.options;
    this.connecting = true;
    return new Promise((resolve, reject) => {
      // ioredis expects the stream on a later tick, as its own connector gives it.
      process.nextTick(() => {
        if (!this.connecting) {
          reject(new Error('Connection is closed.'));
          return;
        }
        try {
          // tls.connect takes net's `family` as well (it opens the TCP socket first).
          this.stream = tlsConnect({ ...tls, host, port, ...(family ? { family } : {}) } as ConnectionOptions);
        } catch (error) {
          reject(error as Error);
          return;
        }
        this.stream.once('error', (error: Error) => {
          this.firstError = error;
        });
        this.stream.on('error', () => undefined);
        resolve(this.stream);
      });
    });
  }
}
