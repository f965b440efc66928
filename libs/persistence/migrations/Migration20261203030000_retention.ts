/**
 * Retention: past a tenant's retention the purge (apps/decision-api/retention) removes a decision's case and trace and
 * keeps what statistics and audit need. Decisions stay append-only but for that one change, checked by the database:
 * case_data becomes null, the document loses `trace` and gains `purgedAt`, purged_at is set once, nothing else moves.
 * The partial index holds only unpurged decisions: the purge finds each tenant (a skip scan) and its oldest unpurged
 * decisions through it, and it shrinks as the purge works instead of growing with the history.
 */
import { Migration } from '@mikro-orm/migrations';

export class Migration20261203030000_retention extends Migration {
  override up(): void {
    this.addSql('alter table decisions add column purged_at timestamptz null');
    this.addSql('alter table decisions alter column case_data drop not null');
    this.addSql('create index decisions_unpurged on decisions (tenant, created_at) where purged_at is null');
    this.addSql(`create function decisions_append_or_purge() returns trigger language plpgsql as $$
      begin
        if tg_op = 'UPDATE' and old.purged_at is null and new.purged_at is not null and new.case_data is null
           and to_jsonb(new) - array['case_data', 'document', 'purged_at'] = to_jsonb(old) - array['case_data', 'document', 'purged_at']
           and new.document::jsonb - 'purgedAt' = old.document::jsonb - 'trace'
           and new.document::jsonb ? 'purgedAt' then
          return new;
        end if;
        raise exception '% is append-only: % refused', tg_table_name, tg_op;
      end $$`);
    this.addSql('drop trigger decisions_append_only on decisions');
    this.addSql('create trigger decisions_append_only before update or delete on decisions for each row execute function decisions_append_or_purge()');
  }

  override down(): void {
    this.addSql('drop trigger decisions_append_only on decisions');
    this.addSql('create trigger decisions_append_only before update or delete on decisions for each row execute function refuse_change()');
    this.addSql('drop function decisions_append_or_purge');
    this.addSql('drop index if exists decisions_unpurged');
    this.addSql('alter table decisions drop column purged_at');
  }
}
