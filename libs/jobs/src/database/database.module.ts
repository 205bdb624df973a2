import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { databaseOptions } from './database.options.js';

/** TypeORM from DATABASE_URL, shared by every app. */
@Module({
  imports: [
    TypeOrmModule.forRootAsync({
      // A few quick retries, then fail the boot with TypeORM's error rather than hang for half a minute.
      useFactory: () => ({ ...databaseOptions(), retryAttempts: 3, retryDelay: 1_000 }),
    }),
  ],
})
export class DatabaseModule {}
