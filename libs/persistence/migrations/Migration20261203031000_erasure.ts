/**
 * Right to erasure: a subject's erasure (apps/decision-api/subjects) sets the personal fields of each of the subject's
 * stored cases to null and stamps erased_at. The decisions' trigger now allows that change too, once, with nothing
 * but case_data and erased_at touched; the purge's change stays as it was (erased_at unchanged by it). Refunds get an
 * index by customer: the erasure replaces the subject's customer_id there.
 */
import { Migration } from '@mikro-orm/migrations';

export class Migration20261203031000_erasure extends Migration {
  override up(): void {
    this.addSql('alter table decisions add column erased_at timestamptz null');
    // The erasure finds the subject's refunds by customer (and GET /v1/refunds?customerId= had no index either).
    this.addSql('create index refunds_by_customer on refunds (tenant, customer_id)');
    this.addSql(`create or replace function decisions_append_or_purge() returns trigger language plpgsql as $$
      begin
        if tg_op = 'UPDATE' and old.purged_at is null and new.purged_at is not null and new.case_data is null
           and to_jsonb(new) - array['case_data', 'document', 'purged_at'] = to_jsonb(old) - array['case_data', 'document', 'purged_at']
           and new.document::jsonb - 'purgedAt' = old.document::jsonb - 'trace'
           and new.document::jsonb ? 'purgedAt' then
          return new;
        end if;
        if tg_op = 'UPDATE' and old.erased_at is null and new.erased_at is not null
           and to_jsonb(new) - array['case_data', 'erased_at'] = to_jsonb(old) - array['case_data', 'erased_at'] then
          return new;
        end if;
        raise exception '% is append-only: % refused', tg_table_name, tg_op;
      end $$`);
  }

  override down(): void {
    this.addSql(`create or replace function decisions_append_or_purge() returns trigger language plpgsql as $$
      begin
        if tg_op = 'UPDATE' and old.purged_at is null and new.purged_at is not null and new.case_data is null
           and to_jsonb(new) - array['case_data', 'document', 'purged_at'] = to_jsonb(old) - array['case_data', 'document', 'purged_at']
           and new.document::jsonb - 'purgedAt' = old.document::jsonb - 'trace'
           and new.document::jsonb ? 'purgedAt' then
          return new;
        end if;
        raise exception '% is append-only: % refused', tg_table_name, tg_op;
      end $$`);
    this.addSql('drop index if exists refunds_by_customer');
    this.addSql('alter table decisions drop column erased_at');
  }
}
