/**
 * Payout execution state on each refund (the refund row is the job: no second table to keep in step with it).
 * `attempts` counts provider calls in the current execution, `next_attempt_at` is when the worker may take the refund
 * (a retry's time, or the lease end of an attempt in flight: a worker that died mid-call leaves it to be taken again),
 * `provider_ref` the provider's reference once paid, `clawback` the ledger clawback (or its refusal) of SUCCEEDED.
 */
import { Migration } from '@mikro-orm/migrations';

export class Migration20261202220000_payouts extends Migration {
  override up(): void {
    this.addSql(`alter table refunds
      add column attempts integer not null default 0,
      add column next_attempt_at timestamptz,
      add column last_error text,
      add column provider_ref text,
      add column clawback jsonb`);
    // What the worker scans: only refunds it may have to execute, due first (an APPROVED one has no time yet: due now).
    this.addSql(`create index refunds_payout_due on refunds (next_attempt_at nulls first) where state in ('APPROVED', 'PROCESSING')`);
  }

  override down(): void {
    this.addSql('drop index if exists refunds_payout_due');
    this.addSql('alter table refunds drop column attempts, drop column next_attempt_at, drop column last_error, drop column provider_ref, drop column clawback');
  }
}
