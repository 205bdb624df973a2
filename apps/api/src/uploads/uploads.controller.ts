import {
  Controller,
  ForbiddenException,
  GatewayTimeoutException,
  HttpCode,
  HttpStatus,
  InternalServerErrorException,
  Param,
  Post,
  Query,
  Res,
} from '@nestjs/common';
import type { Response } from 'express';
import { TaskClient, TaskFailedError, TaskWaitTimeoutError } from 'nestjs-tasks';
import { UploadTasks, type ProcessUploadResult } from '@app/jobs';
import { Caller, type Principal } from '../auth/auth.decorators.js';
import { parseUploadId, parseWait } from '../http/params.js';
import { readQuery } from '../http/query.js';
import { JobOwners } from '../jobs/job-owners.js';
import { RateLimited } from '../limits/rate-limits.js';
import { parseUserId } from '../users/user-id.js';

const WAIT_TIMEOUT_MS = 30_000;

@Controller('uploads')
export class UploadsController {
  constructor(
    private readonly tasks: TaskClient,
    private readonly owners: JobOwners,
  ) {}

  /**
   * Enqueues processUpload for the caller: 202 with the job id, or with
   * `?wait=true` 200 with the task's result. With `?userId=` (which may only
   * name the caller), the task publishes its progress to the caller's event
   * stream (`GET /users/:userId/events`). At most RATE_LIMIT_ENQUEUE per
   * user per RATE_LIMIT_WINDOW_MS (429 with Retry-After past it).
   */
  @Post(':id/process')
  @RateLimited('enqueue')
  @HttpCode(HttpStatus.ACCEPTED)
  async process(
    @Param('id') rawId: string,
    @Query() query: unknown,
    @Caller() caller: Principal,
    @Res({ passthrough: true }) res: Response,
  ): Promise<{ jobId: string; result?: ProcessUploadResult }> {
    const id = parseUploadId(rawId);
    const { wait, userId } = readQuery(query, {
      wait: parseWait,
      userId: (value) => parseUserId(value, 'Query parameter "userId"'),
    });
    if (userId !== undefined && userId !== caller.userId) {
      throw new ForbiddenException(
        `Query parameter "userId" may only name the caller ("${caller.userId}"): progress events go to the user the token is for.`,
      );
    }
    const handle = await this.tasks.enqueue(UploadTasks, 'processUpload', { uploadId: id, userId });
    await this.owners.record(handle, caller.userId);
    if (!wait) return { jobId: handle.id };
    try {
      const result = await handle.waitResult({ timeoutMs: WAIT_TIMEOUT_MS });
      res.status(HttpStatus.OK);
      return { jobId: handle.id, result };
    } catch (error) {
      if (error instanceof TaskWaitTimeoutError) throw new GatewayTimeoutException(error.message);
      // The task's error message only: its stack stays in the worker's log.
      if (error instanceof TaskFailedError) throw new InternalServerErrorException(error.message);
      throw error;
    }
  }
}
