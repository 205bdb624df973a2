import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { databaseOptions } from './database.options.js';
import { assertPostgresReady } from './assert-postgres-ready.js';

/** TypeORM from DATABASE_URL, shared by every app. */
@Module({
  imports: [
    TypeOrmModule.forRootAsync({
      // One check with a deadline and a clear message, then no retries: a boot
      // without Postgres fails in seconds rather than after a series of stacks.
      useFactory: async () => {
        const options = databaseOptions();
        await assertPostgresReady(options.url);
        return { ...options, retryAttempts: 0 };
      },
    }),
  ],
})
export class DatabaseModule {}
