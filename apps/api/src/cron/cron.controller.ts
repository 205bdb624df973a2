import { Controller, ForbiddenException, Get, HttpCode, HttpStatus, NotFoundException, Param, Post, Query } from '@nestjs/common';
import { CronRegistry, CronRunsService, UnknownTaskError, type CronJobRun } from 'nestjs-tasks';
import { RequireRole } from '../auth/auth.decorators.js';
import { parseCronName, parseCronStatus, parseLimit } from '../http/params.js';
import { readQuery } from '../http/query.js';

/** Operators only: run rows carry the handlers' results and error stacks. */
@Controller('cron')
@RequireRole('operator')
export class CronController {
  constructor(
    private readonly runs: CronRunsService,
    private readonly crons: CronRegistry,
  ) {}

  /** Latest runs, newest first, optionally of one job and/or one status. */
  @Get('runs')
  async list(@Query() query: unknown): Promise<CronJobRun[]> {
    const { job, status, limit } = readQuery(query, {
      job: (value) => parseCronName(value, 'Query parameter "job"'),
      status: parseCronStatus,
      limit: parseLimit,
    });
    return this.runs.find({ job, status, limit });
  }

  /**
   * Runs a cron job now, through its lock and run tracking: 202 with the job id.
   * The library's own maintenance crons (`internal`) run on their schedule only: 403.
   */
  @Post(':name/trigger')
  @HttpCode(HttpStatus.ACCEPTED)
  async trigger(@Param('name') rawName: string, @Query() query: unknown): Promise<{ jobId: string }> {
    const name = parseCronName(rawName, 'Cron job name');
    readQuery(query, {});
    const cron = this.crons.get(name);
    if (!cron) throw this.unknown(name);
    if (cron.internal) {
      throw new ForbiddenException(
        `"${name}" is one of the library's internal maintenance crons: it runs on its own schedule and cannot be triggered over HTTP.`,
      );
    }
    try {
      const handle = await this.crons.trigger(name);
      return { jobId: handle.id };
    } catch (error) {
      if (error instanceof UnknownTaskError) throw this.unknown(name);
      throw error;
    }
  }

  private unknown(name: string): NotFoundException {
    const known = this.crons.list().map((cron) => cron.name);
    return new NotFoundException(`Unknown cron job "${name}". Cron jobs that can be triggered: ${known.join(', ') || 'none'}.`);
  }
}
