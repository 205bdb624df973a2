import { Column, Entity, PrimaryColumn } from 'typeorm';

/**
 * One cron job of one namespace as the schedulers see it: reconciled from the
 * code at every scheduler boot, paused and resumed through `CronRegistry`.
 * Created by the library's migrations (TASKS_MIGRATIONS).
 */
@Entity({ name: 'cron_schedules' })
export class CronScheduleRecord {
  /** The deployment's namespace: its TASKS_PREFIX. */
  @PrimaryColumn({ type: 'text' })
  namespace: string;

  @PrimaryColumn({ type: 'varchar', length: 200 })
  name: string;

  @Column({ type: 'varchar', length: 200 })
  expression: string;

  @Column({ name: 'time_zone', type: 'varchar', length: 100 })
  timeZone: string;

  /** `skip`, `latest` or `window:<ms>`. */
  @Column({ name: 'catch_up', type: 'varchar', length: 40 })
  catchUp: string;

  /** `skip`, `bufferOne` or `allow`. */
  @Column({ type: 'varchar', length: 16 })
  overlap: string;

  /** `Class.method` of the handler. */
  @Column({ type: 'varchar', length: 400, nullable: true })
  source: string | null;

  /** One of the library's own maintenance crons. */
  @Column({ type: 'boolean', default: false })
  internal: boolean;

  @Column({ type: 'boolean', default: false })
  paused: boolean;

  @Column({ name: 'paused_reason', type: 'text', nullable: true })
  pausedReason: string | null;

  @Column({ name: 'paused_by', type: 'varchar', length: 200, nullable: true })
  pausedBy: string | null;

  @Column({ name: 'paused_at', type: 'timestamptz', nullable: true })
  pausedAt: Date | null;

  /** The latest tick a scheduler enqueued (or recorded MISSED). */
  @Column({ name: 'last_tick_at', type: 'timestamptz', nullable: true })
  lastTickAt: Date | null;

  @Column({ name: 'next_tick_at', type: 'timestamptz', nullable: true })
  nextTickAt: Date | null;

  /** Set when a scheduler booted with code that no longer has this cron; it fires no more. */
  @Column({ name: 'removed_at', type: 'timestamptz', nullable: true })
  removedAt: Date | null;

  @Column({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  @Column({ name: 'updated_at', type: 'timestamptz' })
  updatedAt: Date;
}
