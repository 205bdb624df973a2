import { Column, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';

/** Example data with a lifetime, cleaned up by the cleanupExpiredData cron. */
@Entity({ name: 'expiring_records' })
export class ExpiringRecord {
  @PrimaryGeneratedColumn('identity', { type: 'bigint', generatedIdentity: 'ALWAYS' })
  id: string;

  @Column({ type: 'text' })
  payload: string;

  @Index('ix_expiring_records_expires_at')
  @Column({ name: 'expires_at', type: 'timestamptz' })
  expiresAt: Date;
}
