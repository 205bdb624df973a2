import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { PinoLogger } from 'nestjs-pino';
import { LessThan, type Repository } from 'typeorm';
import { Cron, type CronContext } from 'nestjs-tasks';
import { ExpiringRecord } from './expiring-record.entity.js';

// Read at load time so an environment (or a test) can run the example faster.
const CLEANUP_SCHEDULE = process.env.EXAMPLE_CLEANUP_CRON ?? '*/5 * * * *';

/** The example's periodic jobs. */
@Injectable()
export class MaintenanceJobs {
  constructor(
    @InjectRepository(ExpiringRecord) private readonly records: Repository<ExpiringRecord>,
    private readonly logger: PinoLogger,
  ) {
    logger.setContext(MaintenanceJobs.name);
  }

  /** Deletes expired rows every 5 minutes. */
  @Cron(CLEANUP_SCHEDULE, 120)
  async cleanupExpiredData(ctx: CronContext): Promise<{ deletedCount: number }> {
    const result = await this.records.delete({ expiresAt: LessThan(ctx.scheduledAt) });
    const deletedCount = result.affected ?? 0;
    this.logger.info(`Deleted ${deletedCount} expired record(s)`);
    return { deletedCount };
  }
}
