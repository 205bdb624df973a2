import { Controller, Get, NotFoundException, Param } from '@nestjs/common';
import { TaskClient, type TaskJobInfo } from 'nestjs-tasks';

@Controller('jobs')
export class JobsController {
  constructor(private readonly tasks: TaskClient) {}

  /** State, result or error of a job. */
  @Get(':id')
  async get(@Param('id') id: string): Promise<TaskJobInfo> {
    const job = await this.tasks.getJob(id);
    if (!job) throw new NotFoundException(`No job with id "${id}" (unknown, or past its retention).`);
    return job;
  }
}
