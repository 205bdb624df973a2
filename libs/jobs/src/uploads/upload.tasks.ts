import { Injectable } from '@nestjs/common';
import { PinoLogger } from 'nestjs-pino';
import { setTimeout as sleep } from 'node:timers/promises';
import { Task, type TaskContext } from 'nestjs-tasks';
import { EventPublisher, type TaskEvent } from 'nestjs-tasks/extras';

export interface ProcessUploadPayload {
  uploadId: string;
  /** Whose upload it is: when set, the user's clients get progress events (`upload.*`) over SSE. */
  userId?: string;
}

export interface ProcessUploadResult {
  processed: string;
}

/** The events processUpload publishes to the upload's user, in this order. */
export type UploadEvent =
  | TaskEvent<{ uploadId: string }, 'upload.started'>
  | TaskEvent<{ uploadId: string; percent: number }, 'upload.progress'>
  | TaskEvent<{ uploadId: string; processed: string }, 'upload.completed'>;

const STEPS = 5;

/** The example's one-off task: processes an uploaded file in a few steps, reporting progress. */
@Injectable()
export class UploadTasks {
  // Stands in for real work; tests raise it to have a job running while they act on the worker.
  private readonly stepMs = Number(process.env.EXAMPLE_UPLOAD_STEP_MS ?? 50);

  constructor(
    private readonly logger: PinoLogger,
    private readonly events: EventPublisher,
  ) {
    logger.setContext(UploadTasks.name);
  }

  @Task({ attempts: 3 })
  async processUpload(payload: ProcessUploadPayload, ctx: TaskContext): Promise<ProcessUploadResult> {
    const { uploadId } = payload;
    this.logger.info(`Processing upload ${uploadId}`);
    await this.notify(payload, { name: 'upload.started', payload: { uploadId } });
    for (let step = 1; step <= STEPS; step++) {
      await sleep(this.stepMs, undefined, { signal: ctx.signal });
      const percent = Math.round((step / STEPS) * 100);
      await ctx.updateProgress(percent);
      await this.notify(payload, { name: 'upload.progress', payload: { uploadId, percent } });
    }
    this.logger.info(`Processed upload ${uploadId}`);
    await this.notify(payload, { name: 'upload.completed', payload: { uploadId, processed: uploadId } });
    return { processed: uploadId };
  }

  /**
   * A slower, heavier kind of work on a queue of its own, so that a pool of
   * workers (`WORKER_QUEUES=reports:2`, the `worker-reports` service of
   * docker-compose.yml) runs it without holding up uploads.
   */
  @Task({ queue: 'reports', attempts: 2 })
  async buildUploadReport(payload: { uploadIds: string[] }): Promise<{ uploads: number; builtAt: string }> {
    await sleep(this.stepMs);
    return { uploads: payload.uploadIds.length, builtAt: new Date().toISOString() };
  }

  /** Progress is for the user's open browser tabs; without a user there is nobody to tell. */
  private async notify({ userId }: ProcessUploadPayload, event: UploadEvent): Promise<void> {
    if (userId !== undefined) await this.events.publish(userId, event);
  }
}
