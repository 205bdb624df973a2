import {
  BadRequestException,
  Controller,
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
import { parseUserId } from '../users/user-id.js';

const UPLOAD_ID = /^[A-Za-z0-9_-]{1,64}$/;
const WAIT_TIMEOUT_MS = 30_000;

@Controller('uploads')
export class UploadsController {
  constructor(private readonly tasks: TaskClient) {}

  /**
   * Enqueues processUpload: 202 with the job id, or with `?wait=true` 200 with the task's result.
   * With `?userId=`, the task publishes its progress to that user (`GET /users/:userId/events`).
   */
  @Post(':id/process')
  @HttpCode(HttpStatus.ACCEPTED)
  async process(
    @Param('id') id: string,
    @Query('wait') wait: string | undefined,
    @Query('userId') userIdParam: unknown,
    @Res({ passthrough: true }) res: Response,
  ): Promise<{ jobId: string; result?: ProcessUploadResult }> {
    if (!UPLOAD_ID.test(id)) {
      throw new BadRequestException('Upload id must be 1-64 characters of letters, digits, "-" or "_".');
    }
    if (wait !== undefined && wait !== 'true' && wait !== 'false') {
      throw new BadRequestException('Query parameter "wait" must be "true" or "false".');
    }
    let userId: string | undefined;
    if (userIdParam !== undefined) {
      if (typeof userIdParam !== 'string') throw new BadRequestException('Query parameter "userId" must be given once.');
      userId = parseUserId(userIdParam, 'Query parameter "userId"');
    }
    const handle = await this.tasks.enqueue(UploadTasks, 'processUpload', { uploadId: id, userId });
    if (wait !== 'true') return { jobId: handle.id };
    try {
      const result = await handle.waitResult({ timeoutMs: WAIT_TIMEOUT_MS });
      res.status(HttpStatus.OK);
      return { jobId: handle.id, result };
    } catch (error) {
      if (error instanceof TaskWaitTimeoutError) throw new GatewayTimeoutException(error.message);
      if (error instanceof TaskFailedError) throw new InternalServerErrorException(error.message);
      throw error;
    }
  }
}
