import { Injectable } from '@nestjs/common';
import { PinoLogger } from 'nestjs-pino';
import { setTimeout as sleep } from 'node:timers/promises';
import { Task, type TaskContext } from '@app/tasks';

export interface ProcessUploadPayload {
  uploadId: string;
}

export interface ProcessUploadResult {
  processed: string;
}

const STEPS = 5;

/** The example's one-off task: processes an uploaded file in a few steps, reporting progress. */
@Injectable()
export class UploadTasks {
  // Stands in for real work; tests raise it to have a job running while they act on the worker.
  private readonly stepMs = Number(process.env.EXAMPLE_UPLOAD_STEP_MS ?? 50);

  constructor(private readonly logger: PinoLogger) {
    logger.setContext(UploadTasks.name);
  }

  @Task({ attempts: 3 })
  async processUpload(payload: ProcessUploadPayload, ctx: TaskContext): Promise<ProcessUploadResult> {
    this.logger.info(`Processing upload ${payload.uploadId}`);
    for (let step = 1; step <= STEPS; step++) {
      await sleep(this.stepMs, undefined, { signal: ctx.signal });
      await ctx.updateProgress(Math.round((step / STEPS) * 100));
    }
    this.logger.info(`Processed upload ${payload.uploadId}`);
    return { processed: payload.uploadId };
  }
}
