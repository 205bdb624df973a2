import { Controller, Get, NotFoundException, Param, Query } from '@nestjs/common';
import { ServiceUnreachableError, TaskClient, TasksError, type TaskJobInfo } from 'nestjs-tasks';
import { Caller, type Principal } from '../auth/auth.decorators.js';
import { parseJobId } from '../http/params.js';
import { readQuery } from '../http/query.js';
import { JobOwners } from './job-owners.js';

@Controller('jobs')
export class JobsController {
  constructor(
    private readonly tasks: TaskClient,
    private readonly owners: JobOwners,
  ) {}

  /**
   * State, result or error (its message; never a stack) of a job. A user sees
   * the jobs they enqueued; an operator sees every job. Any other id, valid
   * but unknown, someone else's or past its retention, is a 404.
   */
  @Get(':id')
  async get(@Param('id') rawId: string, @Query() query: unknown, @Caller() caller: Principal): Promise<TaskJobInfo> {
    const id = parseJobId(rawId);
    readQuery(query, {});
    const notFound = () => new NotFoundException(`No job with id "${id}" (unknown, or past its retention).`);
    if (caller.role !== 'operator' && (await this.owners.ownerOf(id)) !== caller.userId) throw notFound();
    let job: TaskJobInfo | undefined;
    try {
      job = await this.tasks.getJob(id);
    } catch (error) {
      // The library refusing the id itself (not Redis being down) means there is no such job.
      if (error instanceof TasksError && !(error instanceof ServiceUnreachableError)) throw notFound();
      throw error;
    }
    if (!job) throw notFound();
    return job;
  }
}
