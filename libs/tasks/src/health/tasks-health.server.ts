import { Inject, Injectable, Logger, type BeforeApplicationShutdown, type OnApplicationShutdown } from '@nestjs/common';
import { createServer, type Server, type ServerResponse } from 'node:http';
import { TASKS_OPTIONS } from '../options/tasks.constants.js';
import type { ResolvedTasksOptions } from '../options/tasks-options.interface.js';
import { TASKS_ENV_VARIABLES } from '../options/tasks-options-from-env.js';
import { TasksConfigurationError } from '../errors/tasks.errors.js';
import { healthPortInUse, healthProbesListening, metricsOff } from '../errors/tasks.messages.js';
import { CronCatalog } from '../cron/cron.catalog.js';
import { TasksHealthIndicator, type TasksHealthResult } from './tasks-health.indicator.js';
import { TasksMetrics } from '../observability/tasks-metrics.js';

/** The process a health server probes. */
export type HealthRole = 'worker' | 'scheduler';

/**
 * The health probes of a worker or scheduler process, which has no HTTP
 * server of its own: `GET /health/live` answers while the event loop does (a
 * wedged process times out), `GET /health/ready` checks Redis, the tracking
 * database (when the app tracks crons) and the role itself, and fails from the
 * moment shutdown begins; `GET /metrics` serves the Prometheus metrics
 * (`TasksMetrics`). Off unless `healthPort` is set; on `healthHost`,
 * loopback unless the app opens it for an orchestrator or Prometheus on the
 * private network. It has no authentication, so what readiness found (the
 * prefix, queue names, replica ids, causes that name addresses) goes to
 * callers on loopback only (an operator's `kubectl exec`/`docker exec`,
 * `kubectl port-forward`, the container's own healthcheck); any other caller
 * gets each check's up/down.
 */
@Injectable()
export class TasksHealthServer implements BeforeApplicationShutdown, OnApplicationShutdown {
  private readonly logger = new Logger(TasksHealthServer.name);
  private server?: Server;
  private shuttingDown = false;

  /** @internal Built by Nest's injector. */
  constructor(
    private readonly indicator: TasksHealthIndicator,
    private readonly crons: CronCatalog,
    @Inject(TASKS_OPTIONS) private readonly options: ResolvedTasksOptions,
    private readonly metrics: TasksMetrics,
  ) {}

  async listen(role: HealthRole): Promise<void> {
    const { healthPort: port, healthHost: host } = this.options;
    if (!port || this.server) return;
    const server = createServer((request, response) => {
      if (request.method !== 'GET' && request.method !== 'HEAD') return send(response, 405, { message: 'GET only' });
      const path = (request.url ?? '').split('?')[0];
      if (path === '/health/live') return send(response, 200, { status: 'ok' });
      if (path === '/health/ready') {
        const local = isLoopback(request.socket.remoteAddress);
        void this.ready(role).then(
          (result) => send(response, result.status === 'ok' ? 200 : 503, local ? result : statusesOnly(result)),
          () => send(response, 503, { status: 'error' }),
        );
        return;
      }
      if (path === '/metrics') {
        if (!this.metrics.enabled) return send(response, 404, { message: metricsOff(this.options.sources) });
        void this.metrics.metrics().then(
          (text) => {
            response.writeHead(200, { 'content-type': this.metrics.contentType, 'cache-control': 'no-store' });
            response.end(text);
          },
          () => send(response, 500, { message: 'Collecting the metrics failed' }),
        );
        return;
      }
      send(response, 404, { message: 'Not found: GET /health/live, /health/ready or /metrics' });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', (error: NodeJS.ErrnoException) =>
        reject(new TasksConfigurationError(healthPortInUse(host, port, error.code ?? error.message, this.options.sources))),
      );
      server.listen(port, host, () => resolve());
    });
    this.server = server;
    // An app that read its port from the environment opens the host there too.
    const { sources } = this.options;
    const hostOption = sources.healthHost ?? (sources.healthPort ? TASKS_ENV_VARIABLES.healthHost : 'healthHost');
    this.logger.log(healthProbesListening(host, port, `/health/live, /health/ready${this.metrics.enabled ? ', /metrics' : ''}`, hostOption));
  }

  beforeApplicationShutdown(): void {
    this.shuttingDown = true;
  }

  async onApplicationShutdown(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private async ready(role: HealthRole): Promise<Readiness> {
    // Checks would open connections that shutdown is closing.
    if (this.shuttingDown) return { status: 'shutting_down', details: {} };
    const checks: Promise<TasksHealthResult>[] = [
      this.indicator.redis(),
      role === 'worker' ? this.indicator.worker() : this.indicator.scheduler(),
    ];
    if (this.crons.all().some((cron) => cron.track)) checks.push(this.indicator.database());
    const details: TasksHealthResult = Object.assign({}, ...(await Promise.all(checks)));
    if (this.shuttingDown) return { status: 'shutting_down', details };
    return { status: Object.values(details).every((check) => check.status === 'up') ? 'ok' : 'error', details };
  }
}

type Readiness = { status: 'ok' | 'error' | 'shutting_down'; details: TasksHealthResult };

/** Each check's up/down, without what it found. */
function statusesOnly({ status, details }: Readiness): Readiness {
  return { status, details: Object.fromEntries(Object.entries(details).map(([name, check]) => [name, { status: check.status }])) };
}

/** 127.0.0.0/8 and ::1, also as IPv4-mapped IPv6 addresses (a socket on `::` reports `::ffff:127.0.0.1`). */
function isLoopback(address: string | undefined): boolean {
  if (address === undefined) return false;
  const v4 = address.startsWith('::ffff:') ? address.slice(7) : address;
  return address === '::1' || v4.startsWith('127.');
}

function send(response: ServerResponse, code: number, body: unknown): void {
  response.writeHead(code, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
  response.end(JSON.stringify(body));
}
