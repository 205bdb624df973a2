import {
  ConflictException,
  Controller,
  ForbiddenException,
  Get,
  HttpCode,
  HttpStatus,
  Logger,
  NotFoundException,
  Param,
  Post,
  Query,
  Req,
  UnsupportedMediaTypeException,
} from '@nestjs/common';
import type { Request } from 'express';
import { CronRegistry, CronRunsService, UnknownCronError, type CronJobInfo, type CronJobRun } from 'nestjs-tasks';
import { escapeLogText } from 'nestjs-tasks/extras';
import { Caller, RequireRole, type Principal } from '../auth/auth.decorators.js';
import { booleanParam, parseCronName, parseCronStatus, parseLimit, parsePauseBody, parseTicks } from '../http/params.js';
import { readQuery } from '../http/query.js';
import { RateLimited } from '../limits/rate-limits.js';

type Action = 'triggered' | 'paused' | 'resumed';

/** Operators only: run rows carry the handlers' results and error stacks, and pausing a cron stops it everywhere. */
@Controller('cron')
@RequireRole('operator')
export class CronController {
  private readonly logger = new Logger(CronController.name);

  constructor(
    private readonly runs: CronRunsService,
    private readonly crons: CronRegistry,
  ) {}

  /**
   * Every cron of the deployment with its next ticks, last run and pause
   * state; the library's own with `?internal=true`, crons the code no longer
   * has with `?removed=true`, `?ticks=` upcoming ticks each (default 5).
   */
  @Get()
  async list(@Query() query: unknown): Promise<CronJobInfo[]> {
    const { internal, removed, ticks } = readQuery(query, {
      internal: booleanParam('internal'),
      removed: booleanParam('removed'),
      ticks: parseTicks,
    });
    return this.crons.list({ internal, removed, ticks });
  }

  // Declared before ':name', which would otherwise take GET /cron/runs for a cron named "runs".
  /** Latest runs, newest first, optionally of one job and/or one status; 404 naming the known crons for a job without a schedule. */
  @Get('runs')
  async listRuns(@Query() query: unknown): Promise<CronJobRun[]> {
    const { job, status, limit } = readQuery(query, {
      job: (value) => parseCronName(value, 'Query parameter "job"'),
      status: parseCronStatus,
      limit: parseLimit,
    });
    try {
      return await this.runs.find({ job, status, limit });
    } catch (error) {
      if (error instanceof UnknownCronError) {
        throw new NotFoundException(`Unknown cron job "${error.cronName}". Known cron jobs: ${error.knownCrons.join(', ') || 'none'}.`);
      }
      throw error;
    }
  }

  /** One cron, internal and removed ones included; 404 naming the known ones. */
  @Get(':name')
  async get(@Param('name') rawName: string, @Query() query: unknown): Promise<CronJobInfo> {
    const name = parseCronName(rawName, 'Cron job name');
    const { ticks } = readQuery(query, { ticks: parseTicks });
    const cron = await this.crons.get(name, ticks);
    if (!cron) {
      const known = (await this.crons.list({ internal: true, removed: true })).map((info) => info.name);
      throw new NotFoundException(`Unknown cron job "${name}". Known cron jobs: ${known.join(', ') || 'none'}.`);
    }
    return cron;
  }

  /**
   * Pauses a cron on every scheduler from its next tick on (a run going is not
   * stopped), noting the caller and the optional `{ "reason" }` of the body:
   * 200 with the cron. The first scheduler boot creates a cron's schedule row;
   * before it there is nothing to pause: 409.
   */
  @Post(':name/pause')
  @HttpCode(HttpStatus.OK)
  async pause(
    @Param('name') rawName: string,
    @Query() query: unknown,
    @Req() request: Request,
    @Caller() caller: Principal,
  ): Promise<CronJobInfo> {
    const name = parseCronName(rawName, 'Cron job name');
    readQuery(query, {});
    const { reason } = parsePauseBody(jsonBody(request));
    await this.controllable(name, 'paused');
    try {
      const paused = await this.crons.pause(name, { reason, by: caller.userId });
      this.audit(name, 'paused', caller, reason);
      return paused;
    } catch (error) {
      if (error instanceof UnknownCronError) throw this.noSchedule(name, 'paused');
      throw error;
    }
  }

  /** Resumes a paused cron from its next tick on (the ticks that fell while paused are not replayed): 200 with the cron. */
  @Post(':name/resume')
  @HttpCode(HttpStatus.OK)
  async resume(@Param('name') rawName: string, @Query() query: unknown, @Caller() caller: Principal): Promise<CronJobInfo> {
    const name = parseCronName(rawName, 'Cron job name');
    readQuery(query, {});
    await this.controllable(name, 'resumed');
    try {
      const resumed = await this.crons.resume(name);
      this.audit(name, 'resumed', caller);
      return resumed;
    } catch (error) {
      if (error instanceof UnknownCronError) throw this.noSchedule(name, 'resumed');
      throw error;
    }
  }

  /**
   * Runs a cron job now, through its lock and run tracking: 202 with the job id.
   * The library's own maintenance crons (`internal`) run on their schedule only: 403.
   * At most RATE_LIMIT_CRON_TRIGGER per operator per RATE_LIMIT_WINDOW_MS (429 with Retry-After past it).
   */
  @Post(':name/trigger')
  @HttpCode(HttpStatus.ACCEPTED)
  @RateLimited('cronTrigger')
  async trigger(@Param('name') rawName: string, @Query() query: unknown, @Caller() caller: Principal): Promise<{ jobId: string }> {
    const name = parseCronName(rawName, 'Cron job name');
    readQuery(query, {});
    await this.controllable(name, 'triggered');
    try {
      const handle = await this.crons.trigger(name);
      this.audit(name, 'triggered', caller);
      return { jobId: handle.id };
    } catch (error) {
      // A schedule row of a cron this api's code does not declare: it cannot enqueue it.
      if (error instanceof UnknownCronError) throw await this.unknown(name, 'triggered');
      throw error;
    }
  }

  /** Who paused, resumed or triggered which cron, for the operators' record; the reason on one line, escaped. */
  private audit(name: string, action: Action, caller: Principal, reason?: string): void {
    this.logger.log(`Cron job "${name}" ${action} by ${caller.userId}${reason === undefined ? '' : `: ${escapeLogText(reason)}`}`);
  }

  /** 404 for an unknown cron, 403 for the library's own: those are operated by the library alone. */
  private async controllable(name: string, action: Action): Promise<void> {
    const cron = await this.crons.get(name);
    if (!cron) throw await this.unknown(name, action);
    if (cron.internal) {
      throw new ForbiddenException(
        `"${name}" is one of the library's internal maintenance crons: it runs on its own schedule and cannot be ${action} over HTTP.`,
      );
    }
  }

  private async unknown(name: string, action: Action): Promise<NotFoundException> {
    let known = await this.crons.list();
    // Only what this process declares can be enqueued from here.
    if (action === 'triggered') known = known.filter((cron) => cron.declared !== undefined);
    const names = known.map((cron) => cron.name);
    return new NotFoundException(`Unknown cron job "${name}". Cron jobs that can be ${action}: ${names.join(', ') || 'none'}.`);
  }

  private noSchedule(name: string, action: Action): ConflictException {
    return new ConflictException(
      `Cron job "${name}" has no schedule row yet, so it cannot be ${action}: a scheduler creates it when it boots. Start the scheduler once, then try again.`,
    );
  }
}

/**
 * The request's body as the JSON parser left it: undefined when there is none.
 * A body of another type is refused rather than ignored (the urlencoded parser
 * would turn `reason=x` into the same object, and a text body would be dropped silently).
 */
function jsonBody(request: Request): unknown {
  const length = request.headers['content-length'];
  const hasBody = request.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
  if (!hasBody) return undefined;
  if (!request.is('application/json')) {
    throw new UnsupportedMediaTypeException('The body, if any, must be JSON: send it with "Content-Type: application/json".');
  }
  return request.body as unknown;
}
