import type { MigrationInterface, QueryRunner } from 'typeorm';

export class CreateExpiringRecords1795800001000 implements MigrationInterface {
  name = 'CreateExpiringRecords1795800001000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE expiring_records (
        id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        payload    text        NOT NULL,
        expires_at timestamptz NOT NULL
      )`);
    await queryRunner.query(`CREATE INDEX ix_expiring_records_expires_at ON expiring_records (expires_at)`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE expiring_records`);
  }
}
