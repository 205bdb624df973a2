import { BadRequestException, Controller, Get, HttpCode, HttpStatus, NotFoundException, Param, Post, Query } from '@nestjs/common';
import { CronRegistry, CronRunStatus, CronRunsService, UnknownTaskError, type CronJobRun } from 'nestjs-tasks';

const STATUSES = Object.values(CronRunStatus) as string[];

@Controller('cron')
export class CronController {
  constructor(
    private readonly runs: CronRunsService,
    private readonly crons: CronRegistry,
  ) {}

  /** Latest runs, newest first, optionally of one job and/or one status. */
  @Get('runs')
  async list(
    @Query('job') job?: string,
    @Query('status') status?: string,
    @Query('limit') limit?: string,
  ): Promise<CronJobRun[]> {
    if (status !== undefined && !STATUSES.includes(status)) {
      throw new BadRequestException(`Query parameter "status" must be one of ${STATUSES.join(', ')}.`);
    }
    let take: number | undefined;
    if (limit !== undefined) {
      take = Number(limit);
      if (!Number.isInteger(take) || take < 1 || take > 500) {
        throw new BadRequestException('Query parameter "limit" must be a whole number from 1 to 500.');
      }
    }
    return this.runs.find({ job: job || undefined, status: status as CronRunStatus | undefined, limit: take });
  }

  /** Runs a cron job now, through its lock and run tracking: 202 with the job id. */
  @Post(':name/trigger')
  @HttpCode(HttpStatus.ACCEPTED)
  async trigger(@Param('name') name: string): Promise<{ jobId: string }> {
    try {
      const handle = await this.crons.trigger(name);
      return { jobId: handle.id };
    } catch (error) {
      if (error instanceof UnknownTaskError) throw new NotFoundException(error.message);
      throw error;
    }
  }
}
