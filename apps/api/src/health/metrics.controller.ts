import { Controller, Get, Header, NotFoundException, Res } from '@nestjs/common';
import type { Response } from 'express';
import { TasksMetrics } from 'nestjs-tasks';
import { RequireRole, ScrapeRoute } from '../auth/auth.decorators.js';

/**
 * The library's Prometheus metrics of this process. Task names and queue
 * depths are not for the internet: an operator token, or the static
 * METRICS_TOKEN a Prometheus scrape config holds.
 */
@Controller('metrics')
@RequireRole('operator')
@ScrapeRoute()
export class MetricsController {
  constructor(private readonly metrics: TasksMetrics) {}

  @Get()
  @Header('cache-control', 'no-store')
  async scrape(@Res({ passthrough: true }) response: Response): Promise<string> {
    if (!this.metrics.enabled) throw new NotFoundException('Metrics are off: install prom-client, and leave TASKS_METRICS unset or true.');
    response.setHeader('content-type', this.metrics.contentType);
    return this.metrics.metrics();
  }
}
