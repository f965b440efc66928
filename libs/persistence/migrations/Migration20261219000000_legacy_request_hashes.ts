/**
 * The request hashes stored before they were keyed (bare sha256 hex, no `k<n>:` prefix) are re-keyed at start
 * (apps/decision-api/http/legacy-request-hashes.ts). This partial index holds exactly them, so the job's pages read
 * only what is left to do, and once it is done every start's look is one empty index scan, not a pass over the table.
 * Every new hash is keyed (`k1:`): an insert tests the predicate and adds nothing.
 *
 * The build reads the whole table once, holding a SHARE lock: claims of Idempotency-Keys wait for it (seconds per
 * million records), as for the index builds of earlier migrations. Not CONCURRENTLY: the migrator runs every pending
 * migration in one transaction.
 */
import { Migration } from '@mikro-orm/migrations';

export const LEGACY_REQUEST_HASH = "request_hash not like 'k_:%'";

export class Migration20261219000000_legacy_request_hashes extends Migration {
  override up(): void {
    this.addSql(`create index idempotency_records_legacy_hash on idempotency_records (tenant, key) where ${LEGACY_REQUEST_HASH}`);
  }

  override down(): void {
    this.addSql('drop index if exists idempotency_records_legacy_hash');
  }
}
